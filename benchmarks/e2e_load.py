"""End-to-end load: POST referrals at fixed open-loop rates until each situation is committed.

An isolated stack (a vhost and four databases of its own, the four services as separate
processes, like the e2e tests) receives valid, distinct referrals over HTTP at fixed
rates (default 10, 25, 50 and 100/s for ``--duration`` seconds each, then a burst of
``--burst`` referrals all due at once). Arrivals are **open loop**: each POST is due at
its scheduled instant whatever the previous ones did, and every latency is measured from
that instant (a slow server cannot slow the generator down and hide its own queueing).

For each phase it reports:

- HTTP p50/p95/p99: scheduled instant → response;
- POST→situation p50/p95/p99: scheduled instant → the referral's row in parcours'
  ``situation_referrals`` first seen committed. A poller reads the rows written by the
  transactions that ended since its previous look (``xmin`` past the snapshot horizon of
  that look: no index, no growing id list), every ``--poll-ms`` (the resolution);
- the drain: last response → last situation;
- CPU per referral of each process, from ``/proc/<pid>/stat`` between the start of the
  phase and the moment the stack is idle again (every outbox empty, every queue of the
  vhost empty): the four services, this stack's PostgreSQL backends (the poller's own
  excluded), RabbitMQ's ``beam.smp`` (shared with whatever else uses the broker) and
  the load generator itself; RSS of the services at the end;
- lost / duplicated: every accepted referral once in referral's table, once in parcours,
  its ``referral.submitted`` once in reporting's log; nothing else there;
- the generator's own event-loop lag (a 5 ms ticker's overshoot), to show it was not the
  bottleneck.

The generator must leave the machine's cores to the stack: every request (body, headers,
the institution's token minted once for the run) is built before its phase starts and sent
through aiohttp's keep-alive client, about 0.3 ms of CPU per request where httpx took 5-7
(its connection pool scans every connection per request, and httpcore tries to import the
absent ``sniffio`` on every lock it creates: a search of ``sys.path`` each time).

The summary names the highest rate whose POST→situation p99 stayed under 1 s.

Run: ``uv run python benchmarks/e2e_load.py [--rates 10,25,50,100] [--duration 30]
[--burst 10000] [--json]``; a quick look: ``--rates 10,25 --duration 30 --burst 0``.
Needs the local RabbitMQ (``rabbitmqctl``) and PostgreSQL; everything it creates is
removed at the end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from relais_parcours.adapters.vault import load_master_key
from relais_referral.adapters.keys import generate_intake_key, generate_pre_secrets
from relais_runtime import testing
from relais_runtime.auth import generate_signing_key, mint_token
from relais_runtime.devstack import SERVICES, Stack, StackConfig
from relais_runtime.sealing import generate_pre_key
from relais_runtime.testing import free_port

try:  # run as a script: benchmarks/ is on sys.path
    from machine import MachineReport, MachineWatch
except ModuleNotFoundError:  # imported as benchmarks.e2e_load (tests/test_e2e_load.py)
    from benchmarks.machine import MachineReport, MachineWatch

PRE = "pre-76540"
INSTITUTIONS = ("ecole-bench-a", "ecole-bench-b", "college-bench-c", "lycee-bench-d")
P99_GOAL_S = 1.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
FIRST_NAMES = ("Lina", "Adam", "Jade", "Noah", "Inès", "Yanis", "Chloé", "Rayan", "Léa", "Sacha")
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


# --------------------------------------------------------------------------- referrals


def _letters(n: int) -> str:
    word = ""
    while True:
        n, r = divmod(n, 26)
        word = LETTERS[r] + word
        if n == 0:
            return word
        n -= 1


def referral_body(n: int) -> bytes:
    """The ``n``-th distinct child (name and birth date), so each opens its own situation."""
    birth = dt.date(2012, 1, 1) + dt.timedelta(days=n % 2500)
    surname = "Bench" + _letters(n).capitalize()
    body = {
        "pre_id": PRE,
        "child": {
            "first_name": FIRST_NAMES[n % len(FIRST_NAMES)],
            "last_name": surname,
            "birth_date": birth.isoformat(),
            "sex": "female" if n % 2 else "male",
            "school_level": "ce2",
            "lives_in_qpv": "yes",
        },
        "guardians": [
            {
                "first_name": "Samira",
                "last_name": surname,
                "relationship": "mother",
                "phone": "06 12 34 56 78",
                "languages": ["fr"],
            }
        ],
        "referrer": {"name": "Mme Durand", "role": "directrice", "email": "durand@example.fr"},
        "reasons": {
            "categories": ["learning_difficulties"],
            "description": "Difficultés de lecture depuis la rentrée.",
        },
        "axes": ["schooling"],
        "parents_informed": True,
        "parents_agree": True,
    }
    return json.dumps(body).encode()


# --------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class ProcSample:
    cpu_s: float
    rss_mb: float


def read_proc(pid: int) -> ProcSample | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    # Fields 14/15 (utime, stime, all threads) and 24 (rss pages), counted from 1.
    return ProcSample(
        (int(fields[11]) + int(fields[12])) / CLK_TCK, int(fields[21]) * PAGE / 1_048_576
    )


def broker_pid() -> int | None:
    """The OS pid of the RabbitMQ node the stack uses (the system node on 5672)."""
    exe = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    try:
        out = subprocess.run(
            [exe, "-q", "eval", "os:getpid()."],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout
        return int(out.strip().strip('"'))
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


class CpuMeter:
    """CPU seconds per process group between ``start()`` and ``stop()``.

    PostgreSQL backends come and go with the pools: they are sampled every second and a
    backend first seen mid-phase counts from zero (it started during the phase).
    """

    def __init__(
        self,
        services: dict[str, int],
        admin: asyncpg.Connection,
        databases: list[str],
        exclude_backends: set[int],
        beam: int | None,
    ) -> None:
        self.services = services
        self.admin = admin
        self.databases = databases
        self.exclude = exclude_backends
        self.beam = beam
        self._first: dict[tuple[str, int], float] = {}
        self._last: dict[tuple[str, int], float] = {}
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self.rss_mb: dict[str, float] = {}

    def _pids(self, backends: Iterable[int]) -> list[tuple[str, int]]:
        pids = [(name, pid) for name, pid in self.services.items()]
        pids += [("postgresql", pid) for pid in backends if pid not in self.exclude]
        if self.beam is not None:
            pids.append(("rabbitmq", self.beam))
        pids.append(("loadgen", os.getpid()))
        return pids

    async def _backends(self) -> list[int]:
        rows = await self.admin.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = ANY($1::text[])", self.databases
        )
        return [r["pid"] for r in rows]

    async def _sample(self, *, initial: bool = False) -> None:
        for key in self._pids(await self._backends()):
            sample = read_proc(key[1])
            if sample is None:
                continue
            if key not in self._first:
                self._first[key] = sample.cpu_s if initial else 0.0
            self._last[key] = sample.cpu_s
            if key[0] in self.services:
                self.rss_mb[key[0]] = sample.rss_mb

    async def start(self) -> None:
        self._first.clear()
        self._last.clear()
        await self._sample(initial=True)
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        # Stopped by an event, never cancelled mid-query (that breaks the connection).
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 1.0)
            await self._sample()

    async def stop(self) -> dict[str, float]:
        self._stop.set()
        if self._task is not None:
            await self._task
        await self._sample()
        used: dict[str, float] = {}
        for key, last in self._last.items():
            used[key[0]] = used.get(key[0], 0.0) + max(0.0, last - self._first[key])
        return used


# --------------------------------------------------------------------------- measurement


class SituationPoller:
    """Sees each referral's situation row in parcours once its transaction has committed."""

    def __init__(self, conn: asyncpg.Connection, interval_s: float) -> None:
        self.conn = conn
        self.interval_s = interval_s
        self.seen: dict[uuid.UUID, float] = {}
        self.duplicates = 0
        self._horizon = 0
        self._lock = asyncio.Lock()  # one connection: the loop and a last look take turns
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._horizon = await self._current_horizon()
        self._task = asyncio.create_task(self._loop())

    async def _current_horizon(self) -> int:
        # The oldest transaction still running: every row with an older xmin is visible now.
        horizon: int = await self.conn.fetchval(
            "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint % 4294967296"
        )
        return horizon

    def check(self) -> None:
        """Raise what stopped the poller, if it stopped."""
        if self._task is not None and self._task.done():
            self._task.result()

    async def poll(self) -> None:
        # One statement, one snapshot (one round trip: the poller runs 50 times a second):
        # the rows it sees and its horizon, the oldest transaction then running. Every row
        # it cannot see yet has an xmin at or past that horizon and shows up next time; a
        # row seen twice (committed between horizon and snapshot end) is ignored.
        async with self._lock:
            row = await self.conn.fetchrow(
                "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint % 4294967296"
                " AS horizon, ARRAY(SELECT referral_id FROM situation_referrals"
                " WHERE age(xmin) <= age($1::xid)) AS ids",
                self._horizon,
            )
            assert row is not None
            now = time.monotonic()
            for referral_id in row["ids"]:
                self.seen.setdefault(referral_id, now)
            self._horizon = row["horizon"]

    async def _loop(self) -> None:
        while not self._stop.is_set():
            await self.poll()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval_s)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task


class LagMonitor:
    """The load generator's own event-loop lag: how late a 5 ms sleep wakes up."""

    def __init__(self, tick_s: float = 0.005) -> None:
        self.tick_s = tick_s
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.lags = []
        self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.tick_s)
            self.lags.append(max(0.0, loop.time() - before - self.tick_s))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@dataclass
class Posted:
    due: float
    done: float = 0.0
    status: int = 0
    referral_id: uuid.UUID | None = None
    retry_after: str | None = None


@dataclass
class PhaseResult:
    name: str
    offered_rate: float | None
    sent: int
    accepted: int
    refused: dict[str, int]
    errors: int
    send_span_s: float
    http_ms: dict[str, float | None]
    e2e_ms: dict[str, float | None]
    seen: int
    drain_s: float | None
    idle_after_s: float
    cpu_ms_per_referral: dict[str, float]
    rss_mb: dict[str, float]
    loop_lag_ms: dict[str, float | None]
    lost: int
    duplicated: int
    consistency: dict[str, int] = field(default_factory=dict)
    # The generator's CPU per request sent, refused ones included (cpu_ms_per_referral is
    # per referral accepted: the generator's share grows when the stack answers 503).
    loadgen_ms_per_request: float = 0.0


def quantiles_ms(values: list[float]) -> dict[str, float | None]:
    def ms(q: float) -> float | None:
        v = percentile(values, q)
        return None if v is None else round(v * 1000, 1)

    return {"p50": ms(50), "p95": ms(95), "p99": ms(99), "max": ms(100)}


def client(connections: int) -> aiohttp.ClientSession:
    """A keep-alive HTTP/1.1 client holding at most ``connections`` connections.

    A request waits at most 120 s for its answer once sent (httpx's read timeout before);
    the time spent waiting for a connection is the caller's (see ``post``). An idle
    connection is closed after 4 s, before uvicorn's 5 s: a POST is never retried, so it
    must not be written on a connection the server is closing.
    """
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections, keepalive_timeout=4),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=120),
        # Only the headers the service needs: no User-Agent, Accept or Accept-Encoding.
        skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
    )


Request = tuple[bytes, dict[str, str]]


def build_requests(first: int, count: int, tokens: Sequence[str]) -> list[Request]:
    """Referrals ``first`` to ``first + count - 1``: body and headers, built before sending."""
    return [
        (
            referral_body(n),
            {
                "Authorization": f"Bearer {tokens[n % len(tokens)]}",
                "Content-Type": "application/json",
                "Idempotency-Key": f"bench-{n}",
            },
        )
        for n in range(first, first + count)
    ]


async def post(
    http: aiohttp.ClientSession,
    url: str,
    gate: asyncio.Semaphore,
    slot: Posted,
    request: Request,
) -> None:
    """Send one referral; its status, id and ``Retry-After`` go into ``slot`` (-1: no answer)."""
    body, headers = request
    try:
        # Waiting for one of the fixed connections here (the wait counts from the due
        # instant), not in the client's pool: httpx's scanned its whole queue for each
        # connection freed, O(n²) in a burst.
        async with gate, http.post(url, data=body, headers=headers) as r:
            slot.status = r.status
            if r.status == 201:
                slot.referral_id = uuid.UUID((await r.json())["id"])
            else:
                await r.read()
            slot.retry_after = r.headers.get("Retry-After")
    except (aiohttp.ClientError, TimeoutError, ValueError, KeyError):
        slot.status = -1
    slot.done = time.monotonic()


# --------------------------------------------------------------------------- the stack


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="relais-e2e-load-"))
        self.vhost = testing.unique_name("relais-load")
        run = testing.unique_name("load")
        self.databases = {s.name: f"relais_{run}_{s.name}" for s in SERVICES}
        self.stack: Stack | None = None
        self.config: StackConfig | None = None
        self.counter = 0
        self.answered = 0  # referrals answered 201 so far, warm-up included
        self.tokens: list[str] = []

    async def setup(self) -> None:
        keys = self.tmp / "keys"
        with contextlib.redirect_stdout(sys.stderr):  # their log lines: stdout is the report
            generate_signing_key(keys)
            generate_pre_key(keys, PRE)
            generate_pre_secrets(keys / "referral", PRE)
            generate_intake_key(keys / "referral")
            load_master_key(keys, None, create=True)
        amqp_url = await testing.create_vhost(self.vhost)
        self.config = StackConfig(
            amqp_url=amqp_url,
            databases=self.databases,
            keys_dir=keys,
            log_dir=self.tmp / "log",
            ports={s.name: free_port() for s in SERVICES},
            extra_env={"RELAIS_LOG_LEVEL": "WARNING", **dict(self.args.env)},
        )
        self.stack = Stack(self.config)
        progress(f"starting the stack (logs in {self.config.log_dir})")
        await asyncio.to_thread(self.stack.start)
        admin = mint_token(
            keys / "jwt-signing.json",
            sub="admin-bench",
            org="pre-76540-coordination",
            tenant=PRE,
            roles=["admin"],
            ttl=dt.timedelta(hours=12),
        )
        async with client(4) as http:
            for inst in INSTITUTIONS:
                async with http.put(
                    f"{self.config.url('referral')}/v1/institutions/{inst}",
                    json={"id": inst, "pre_id": PRE, "name": inst, "category": "school"},
                    headers={"Authorization": f"Bearer {admin}"},
                ) as r:
                    r.raise_for_status()
        self.tokens = [
            mint_token(
                keys / "jwt-signing.json",
                sub=f"direction-{inst}",
                org=inst,
                tenant=PRE,
                roles=["institution"],
                ttl=dt.timedelta(hours=12),
            )
            for inst in INSTITUTIONS
        ]

    async def teardown(self) -> None:
        if self.stack is not None:
            await asyncio.to_thread(self.stack.stop)
        for name in self.databases.values():
            with contextlib.suppress(Exception):
                await testing.drop_database(name)
        with contextlib.suppress(Exception):
            await testing.delete_vhost(self.vhost)
        if not self.args.keep_logs:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def dsn(self, service: str) -> str:
        assert self.config is not None
        return f"{self.config.pg_base}/{self.databases[service]}"

    def service_pids(self) -> dict[str, int]:
        assert self.stack is not None
        return {
            name: proc.process.pid
            for name, proc in self.stack.processes.items()
            if proc.process is not None
        }

    # -- idle ------------------------------------------------------------------------------

    def _queues_empty(self) -> bool:
        assert self.config is not None
        try:
            return testing.vhost_queues_empty(self.config.amqp_url)
        except (OSError, subprocess.SubprocessError):
            # rabbitmqctl fails now and then while other sessions restart the broker:
            # not idle yet, ask again (a failed run lost a whole report to it).
            return False

    async def wait_idle(self, conns: dict[str, asyncpg.Connection], within_s: float) -> bool:
        """Every outbox empty and every queue of the vhost empty (twice in a row)."""
        deadline = time.monotonic() + within_s
        calm = 0
        while time.monotonic() < deadline:
            pending = 0
            for conn in conns.values():
                pending += await conn.fetchval("SELECT count(*) FROM relais_outbox")
            if pending == 0 and await asyncio.to_thread(self._queues_empty):
                calm += 1
                if calm >= 2:
                    return True
            else:
                calm = 0
            await asyncio.sleep(0.5)
        return False

    # -- profiles --------------------------------------------------------------------------

    def start_profilers(self, phase: str) -> list[subprocess.Popen[bytes]]:
        """With ``--py-spy DIR``: a flamegraph of each service for this phase."""
        if self.args.py_spy is None:
            return []
        out = Path(self.args.py_spy)
        out.mkdir(parents=True, exist_ok=True)
        slug = phase.replace("/", "per").replace(" ", "-")
        exe = [shutil.which("py-spy") or "py-spy"]
        fmt = self.args.py_spy_format
        ext = {"flamegraph": "svg", "raw": "txt", "speedscope": "json"}[fmt]
        return [
            subprocess.Popen(
                [
                    *exe,
                    "record",
                    "--format",
                    fmt,
                    "--nonblocking",
                    "--rate",
                    "50",
                    "--pid",
                    str(pid),
                    "--output",
                    str(out / f"{service}-{slug}.{ext}"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for service, pid in self.service_pids().items()
        ]

    @staticmethod
    def stop_profilers(profilers: list[subprocess.Popen[bytes]]) -> None:
        for proc in profilers:
            proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        for proc in profilers:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()

    # -- one phase -------------------------------------------------------------------------

    async def phase(
        self,
        name: str,
        rate: float | None,
        count: int,
        poller: SituationPoller,
        conns: dict[str, asyncpg.Connection],
        meter: CpuMeter,
    ) -> PhaseResult:
        progress(f"phase {name}: {count} referrals" + (f" at {rate:g}/s" if rate else " at once"))
        lag = LagMonitor()
        assert self.config is not None
        url = f"{self.config.url('referral')}/v1/referrals"
        requests = build_requests(self.counter, count, self.tokens)
        self.counter += count
        await meter.start()
        profilers = self.start_profilers(name)
        lag.start()
        slots: list[Posted] = []
        tasks: list[asyncio.Task[None]] = []
        gate = asyncio.Semaphore(self.args.connections)
        async with client(self.args.connections) as http:
            start = time.monotonic() + 0.05
            for i, request in enumerate(requests):
                due = start + (i / rate if rate else 0.0)
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                slot = Posted(due=due)
                slots.append(slot)
                tasks.append(asyncio.create_task(post(http, url, gate, slot, request)))
            await asyncio.gather(*tasks)
        last_response = max(s.done for s in slots)
        accepted = {s.referral_id: s for s in slots if s.referral_id is not None}
        deadline = time.monotonic() + self.args.drain_timeout
        while time.monotonic() < deadline and not all(r in poller.seen for r in accepted):
            poller.check()
            await asyncio.sleep(0.1)
        await poller.poll()
        seen = [r for r in accepted if r in poller.seen]
        drain = max((poller.seen[r] for r in seen), default=last_response) - last_response
        idle_started = time.monotonic()
        idle = await self.wait_idle(conns, self.args.drain_timeout)
        if not idle:
            progress("  warning: the stack did not become idle (outbox or queues not empty)")
        idle_after = time.monotonic() - idle_started
        used = await meter.stop()
        await lag.stop()
        self.stop_profilers(profilers)
        consistency = await self.check(accepted.keys(), conns)
        lost = len(accepted) - len(seen)
        duplicated = (
            consistency["parcours_rows_unknown_total"] + consistency["reporting_duplicates"]
        )
        refused: dict[str, int] = {}
        for s in slots:
            if s.status not in (201, -1):
                refused[str(s.status)] = refused.get(str(s.status), 0) + 1
        n = max(1, len(accepted))
        result = PhaseResult(
            name=name,
            offered_rate=rate,
            sent=len(slots),
            accepted=len(accepted),
            refused=refused,
            errors=sum(1 for s in slots if s.status == -1),
            send_span_s=round(slots[-1].due - slots[0].due, 2),
            http_ms=quantiles_ms([s.done - s.due for s in slots]),
            e2e_ms=quantiles_ms([poller.seen[r] - accepted[r].due for r in seen]),
            seen=len(seen),
            drain_s=round(drain, 2),
            idle_after_s=round(idle_after, 1),
            cpu_ms_per_referral={k: round(v * 1000 / n, 2) for k, v in sorted(used.items())},
            rss_mb={k: round(v, 1) for k, v in meter.rss_mb.items()},
            loop_lag_ms=quantiles_ms(lag.lags),
            lost=lost,
            duplicated=duplicated,
            consistency=consistency,
            loadgen_ms_per_request=round(used.get("loadgen", 0.0) * 1000 / len(slots), 2),
        )
        result.cpu_ms_per_referral["total"] = round(
            sum(v for k, v in result.cpu_ms_per_referral.items() if k != "loadgen"), 2
        )
        progress("  " + summary_line(result))
        return result

    async def check(
        self, accepted: Iterable[uuid.UUID], conns: dict[str, asyncpg.Connection]
    ) -> dict[str, int]:
        """Each accepted referral once in referral, parcours and reporting; nothing else."""
        ids = list(accepted)
        in_referral = await conns["referral"].fetchval(
            "SELECT count(*) FROM referrals WHERE id = ANY($1::uuid[])", ids
        )
        in_parcours = await conns["parcours"].fetchval(
            "SELECT count(*) FROM situation_referrals WHERE referral_id = ANY($1::uuid[])", ids
        )
        texts = [str(i) for i in ids]
        reporting = await conns["reporting"].fetchrow(
            "SELECT count(*) AS events, count(DISTINCT subject) AS referrals FROM event_log "
            "WHERE type LIKE '%referral.submitted%' AND subject = ANY($1::text[])",
            texts,
        )
        assert reporting is not None
        # Across the whole run: rows nobody was told about (a POST whose answer never came,
        # e.g. a client timeout) and parcours rows for referrals the referral service lacks.
        self.answered += len(ids)
        referral_rows = await conns["referral"].fetchval("SELECT count(*) FROM referrals")
        parcours_rows = await conns["parcours"].fetchval("SELECT count(*) FROM situation_referrals")
        return {
            "referral_rows_missing": len(ids) - in_referral,
            "referral_rows_unanswered_total": referral_rows - self.answered,
            "parcours_rows_missing": len(ids) - in_parcours,
            "parcours_rows_unknown_total": max(0, parcours_rows - referral_rows),
            "reporting_missing": len(ids) - reporting["referrals"],
            "reporting_duplicates": reporting["events"] - reporting["referrals"],
        }

    async def run(self) -> list[PhaseResult]:
        await self.setup()
        conns = {name: await asyncpg.connect(self.dsn(name)) for name in self.databases}
        poll_conn = await asyncpg.connect(self.dsn("parcours"))
        admin = await asyncpg.connect(testing.ADMIN_DSN)
        exclude = {c.get_server_pid() for c in (*conns.values(), poll_conn, admin)}
        meter = CpuMeter(
            self.service_pids(), admin, list(self.databases.values()), exclude, broker_pid()
        )
        poller = SituationPoller(poll_conn, self.args.poll_ms / 1000)
        await poller.start()
        results: list[PhaseResult] = []
        try:
            if self.args.warmup:
                await self.phase("warm-up", 10, self.args.warmup, poller, conns, meter)
            if self.args.analyze:
                await analyze(conns)
            for rate in self.args.rates:
                count = int(rate * self.args.duration)
                results.append(await self.phase(f"{rate:g}/s", rate, count, poller, conns, meter))
            if self.args.burst:
                results.append(
                    await self.phase(
                        f"burst {self.args.burst}", None, self.args.burst, poller, conns, meter
                    )
                )
        finally:
            await poller.stop()
            for c in (*conns.values(), poll_conn, admin):
                await c.close()
        return results


async def analyze(conns: dict[str, asyncpg.Connection]) -> None:
    """What autovacuum does to a running deployment's tables within its first minute.

    The stack's databases are minutes old: before any statistics, PostgreSQL plans a
    statement for tables of unknown size, and the generic plans the services' connections
    keep (asyncpg prepares every statement) can pick the wrong index: on an empty
    ``referrals`` table, ``WHERE pre_id = $1 AND id = $2`` was planned on the PRE's
    subject index, a scan of every referral of the PRE, until autovacuum's first analyse
    (measured with pg_stat_statements: 222 buffers a lookup after 1,000 referrals, 2
    through the primary key). Analysing after the warm-up measures the stack as it runs
    after its first minute; ``--no-analyze`` keeps the cold plans."""
    started = time.monotonic()
    for conn in conns.values():
        await conn.execute("ANALYZE")
    progress(f"analysed the services' databases in {time.monotonic() - started:.2f} s")


# --------------------------------------------------------------------------- report


def fmt(v: float | None, unit: str = "") -> str:
    if v is None:
        return "-"
    return f"{v:,.0f}{unit}" if v >= 100 else f"{v:.1f}{unit}"


def summary_line(r: PhaseResult) -> str:
    return (
        f"{r.name}: accepted {r.accepted}/{r.sent}, http p99 {fmt(r.http_ms['p99'])} ms, "
        f"POST→situation p50/p99 {fmt(r.e2e_ms['p50'])}/{fmt(r.e2e_ms['p99'])} ms, "
        f"drain {r.drain_s} s, cpu {r.cpu_ms_per_referral.get('total')} ms/referral, "
        f"lost {r.lost}, dup {r.duplicated}"
    )


def best_rate(results: list[PhaseResult]) -> float | None:
    ok = [
        r.offered_rate
        for r in results
        if r.offered_rate is not None
        and r.lost == 0
        and not r.refused
        and r.e2e_ms["p99"] is not None
        and r.e2e_ms["p99"] < P99_GOAL_S * 1000
    ]
    return max(ok) if ok else None


def print_table(results: list[PhaseResult], meta: dict[str, Any]) -> None:
    print(f"{meta['started']}  load average at end {meta['loadavg_end']} on {meta['cpus']} CPU")
    print(MachineReport(**meta["host_speed"]).line())
    analysed = "after the warm-up" if meta["options"]["analyze"] else "no (--no-analyze)"
    print(f"databases analysed: {analysed}")
    head = (
        f"{'phase':<12}{'sent':>6}{'201':>6}{'503':>5}{'http p50':>9}{'p95':>8}{'p99':>8}"
        f"{'e2e p50':>9}{'p95':>8}{'p99':>8}{'drain s':>8}{'lost':>5}{'dup':>4}{'lag p99':>8}"
        f"{'gen/req':>8}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        print(
            f"{r.name:<12}{r.sent:>6}{r.accepted:>6}{r.refused.get('503', 0):>5}"
            f"{fmt(r.http_ms['p50']):>9}{fmt(r.http_ms['p95']):>8}{fmt(r.http_ms['p99']):>8}"
            f"{fmt(r.e2e_ms['p50']):>9}{fmt(r.e2e_ms['p95']):>8}{fmt(r.e2e_ms['p99']):>8}"
            f"{r.drain_s if r.drain_s is not None else '-':>8}{r.lost:>5}{r.duplicated:>4}"
            f"{fmt(r.loop_lag_ms['p99']):>8}{r.loadgen_ms_per_request:>8.2f}"
        )
    print(
        "(latencies in ms from each POST's scheduled instant; lag p99: the generator's loop;"
        " gen/req: its CPU ms per request sent)"
    )
    groups = [s.name for s in SERVICES] + ["postgresql", "rabbitmq", "total", "loadgen"]
    print()
    head = f"{'cpu ms/referral':<16}" + "".join(f"{g[:10]:>11}" for g in groups)
    print(head)
    print("-" * len(head))
    for r in results:
        print(
            f"{r.name:<16}" + "".join(f"{r.cpu_ms_per_referral.get(g, 0.0):>11.2f}" for g in groups)
        )
    print()
    print(
        "RSS at end (MB): " + ", ".join(f"{k} {v:.0f}" for k, v in results[-1].rss_mb.items())
        if results
        else ""
    )
    best = best_rate(results)
    print(
        f"highest rate with POST→situation p99 < {P99_GOAL_S:g} s: "
        + (f"{best:g}/s" if best else "none of the rates tried")
    )


def parse_env(values: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for v in values:
        key, _, value = v.partition("=")
        pairs.append((key, value))
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="10,25,50,100", help="referrals/s, comma-separated")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per rate (30)")
    parser.add_argument("--burst", type=int, default=10_000, help="referrals at once (0: none)")
    parser.add_argument("--warmup", type=int, default=50, help="unreported referrals at 10/s")
    parser.add_argument(
        "--no-analyze",
        dest="analyze",
        action="store_false",
        help="keep the plans of tables never analysed (by default the databases are analysed "
        "after the warm-up, as autovacuum does in a deployment's first minute)",
    )
    parser.add_argument("--connections", type=int, default=64, help="HTTP connections (64)")
    parser.add_argument("--poll-ms", type=float, default=20.0, help="situation poll period")
    parser.add_argument("--drain-timeout", type=float, default=600.0)
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the services (repeatable)",
    )
    parser.add_argument("--keep-logs", action="store_true")
    parser.add_argument(
        "--py-spy", metavar="DIR", help="record a flamegraph per service and phase (py-spy on PATH)"
    )
    parser.add_argument(
        "--py-spy-format", choices=("flamegraph", "raw", "speedscope"), default="flamegraph"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    args.rates = [float(r) for r in args.rates.split(",") if r.strip()]
    args.env = parse_env(args.env)
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    bench = Bench(args)

    async def go() -> list[PhaseResult]:
        try:
            return await bench.run()
        finally:
            await bench.teardown()

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)  # `timeout` and kill clean up like Ctrl-C
    watch = MachineWatch().start()
    try:
        results = asyncio.run(go())
    except KeyboardInterrupt:
        watch.stop()
        progress("interrupted; the stack, databases and vhost were removed")
        return 130
    meta = {
        "started": started,
        "loadavg_end": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        "cpus": os.cpu_count(),
        "host_speed": asdict(watch.stop()),
        "python": platform.python_version(),
        "options": {k: v for k, v in vars(args).items() if k != "env"} | {"env": dict(args.env)},
    }
    if args.json:
        best = best_rate(results)
        print(
            json.dumps(
                {
                    "meta": meta,
                    "phases": [asdict(r) for r in results],
                    "best_rate_p99_under_1s": best,
                },
                indent=2,
                default=str,
            )
        )
    else:
        print_table(results, meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
