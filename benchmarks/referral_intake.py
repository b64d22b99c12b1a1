"""The referral service's POST /v1/referrals in isolation: CPU per referral, against a
baseline measured in the same run.

The referral service runs alone (its own database, a vhost of its own, the relay
publishing to it; nothing consumes), as a separate process like in ``e2e_load.py``.
Rounds alternate, closed loop at ``--concurrency`` requests in flight:

- ``post``: ``--requests`` distinct valid referrals (``e2e_load.referral_body``), each a
  new child, each with its own ``Idempotency-Key`` (as ``e2e_load.py`` sends them);
- ``get``: the same number of a trivial authenticated read (an institution of the
  directory, admin token): the HTTP, auth and pool cost every route pays.

A round's CPU is read from ``/proc`` (the service process, all threads, and the
PostgreSQL backends of its database) from its first request until its outbox is empty
again (so a POST round includes its relay's publishing). Figures are per request, and
the ratio post/get of each round is what survives the noisy machine.

``--compare DIR``: a second referral service runs the code under ``DIR`` (a checkout of
another commit: its ``contracts``, ``runtime`` and ``services/referral`` sources go first on
``PYTHONPATH``), with its own database; its rounds are interleaved with this checkout's
(the order alternates), so "before" and "after" meet the same load.

``--py-spy FILE``: after the rounds, a POST phase of each service recorded by py-spy
(``--format raw``, collapsed stacks: ``FILE`` for this checkout, ``FILE-compare`` beside it).

Run: ``uv run python benchmarks/referral_intake.py [--rounds 6] [--requests 300]
[--concurrency 8] [--compare /tmp/before] [--py-spy /tmp/referral.txt]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e_load import INSTITUTIONS, PRE, read_proc, referral_body

from relais_contracts.topology import EVENTS_EXCHANGE
from relais_referral.adapters.keys import generate_intake_key, generate_pre_secrets
from relais_runtime import testing
from relais_runtime.auth import generate_signing_key, mint_token
from relais_runtime.devstack import Stack, StackConfig
from relais_runtime.sealing import generate_pre_key
from relais_runtime.testing import free_port

PG_BASE = "postgresql://postgres@127.0.0.1:5432"


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@dataclass
class Variant:
    name: str
    stack: Stack
    database: str
    conn: asyncpg.Connection
    url: str

    @property
    def pid(self) -> int:
        process = self.stack.processes["referral"].process
        assert process is not None
        return process.pid


@dataclass
class Round:
    variant: str
    kind: str
    requests: int
    service_ms: float
    postgres_ms: float
    wall_s: float

    @property
    def service_per(self) -> float:
        return self.service_ms / self.requests

    @property
    def postgres_per(self) -> float:
        return self.postgres_ms / self.requests


async def sink(amqp_url: str) -> None:
    """Nothing consumes here: one bounded queue takes every event, so that the relay's
    publishes are routed (``mandatory``) and confirmed as in a whole stack."""
    import aio_pika

    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(
            "bench.sink", arguments={"x-max-length": 1000, "x-overflow": "drop-head"}
        )
        await queue.bind(EVENTS_EXCHANGE, "#")


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="relais-referral-intake-"))
        self.vhost = testing.unique_name("relais-intake")
        self.variants: list[Variant] = []
        self.counter = 0
        self.tokens: list[str] = []
        self.admin = ""

    async def setup(self) -> None:
        keys = self.tmp / "keys"
        with contextlib.redirect_stdout(sys.stderr):
            generate_signing_key(keys)
            generate_pre_key(keys, PRE)
            generate_pre_secrets(keys / "referral", PRE)
            generate_intake_key(keys / "referral")
        amqp_url = await testing.create_vhost(self.vhost)
        wanted: list[tuple[str, dict[str, str]]] = [("now", {})]
        if self.args.compare:
            src = Path(self.args.compare)  # made absolute by main()
            path = [src / "contracts/src", src / "runtime/src", src / "services/referral/src"]
            wanted.append(("compare", {"PYTHONPATH": os.pathsep.join(map(str, path))}))
        signing = keys / "jwt-signing.json"
        day = dt.timedelta(hours=12)
        self.admin = mint_token(
            signing, sub="admin-bench", org="coordination", tenant=PRE, roles=["admin"], ttl=day
        )
        self.tokens = [
            mint_token(signing, sub=f"dir-{i}", org=i, tenant=PRE, roles=["institution"], ttl=day)
            for i in INSTITUTIONS
        ]
        for name, env in wanted:
            database = f"relais_{testing.unique_name('intake')}_{name}"
            config = StackConfig(
                amqp_url=amqp_url,
                databases={"referral": database},
                keys_dir=keys,
                log_dir=self.tmp / f"log-{name}",
                ports={"referral": free_port()},
                extra_env={"RELAIS_LOG_LEVEL": "WARNING", **env},
            )
            stack = Stack(config, services=["referral"])
            progress(f"starting referral ({name}), logs in {config.log_dir}")
            await asyncio.to_thread(stack.start)
            conn = await asyncpg.connect(f"{PG_BASE}/{database}")
            variant = Variant(name, stack, database, conn, config.url("referral"))
            self.variants.append(variant)
            if len(self.variants) == 1:
                await sink(amqp_url)
            async with httpx.AsyncClient(timeout=30) as http:
                for inst in INSTITUTIONS:
                    r = await http.put(
                        f"{variant.url}/v1/institutions/{inst}",
                        json={"id": inst, "pre_id": PRE, "name": inst, "category": "school"},
                        headers={"Authorization": f"Bearer {self.admin}"},
                    )
                    r.raise_for_status()

    async def teardown(self) -> None:
        for v in self.variants:
            with contextlib.suppress(Exception):
                await v.conn.close()
            await asyncio.to_thread(v.stack.stop)
            with contextlib.suppress(Exception):
                await testing.drop_database(v.database)
        with contextlib.suppress(Exception):
            await testing.delete_vhost(self.vhost)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- measuring ---------------------------------------------------------------------

    async def backends(self, v: Variant) -> list[int]:
        rows = await v.conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            v.database,
        )
        return [r["pid"] for r in rows]

    async def cpu(self, v: Variant) -> tuple[float, dict[int, float]]:
        service = read_proc(v.pid)
        assert service is not None, "the referral service is gone"
        pg = {}
        for pid in await self.backends(v):
            sample = read_proc(pid)
            if sample is not None:
                pg[pid] = sample.cpu_s
        return service.cpu_s, pg

    async def idle(self, v: Variant) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if await v.conn.fetchval("SELECT count(*) FROM relais_outbox") == 0:
                return
            await asyncio.sleep(0.05)
        raise TimeoutError(f"{v.name}: outbox not drained")

    def request(self, kind: str) -> tuple[str, str, bytes | None, str, str | None]:
        if kind == "post":
            n = self.counter
            self.counter += 1
            token = self.tokens[n % len(self.tokens)]
            return "POST", "/v1/referrals", referral_body(n), token, f"intake-{n}"
        inst = INSTITUTIONS[self.counter % len(INSTITUTIONS)]
        self.counter += 1
        return "GET", f"/v1/institutions/{inst}", None, self.admin, None

    async def run_round(self, http: httpx.AsyncClient, v: Variant, kind: str, n: int) -> Round:
        await self.idle(v)
        jobs = [self.request(kind) for _ in range(n)]
        queue = iter(jobs)
        expected = 201 if kind == "post" else 200

        async def worker() -> None:
            for method, path, body, token, key in queue:
                headers = {"Authorization": f"Bearer {token}"}
                if body is not None:
                    headers["Content-Type"] = "application/json"
                if key is not None:  # as e2e_load.py and careful clients send them
                    headers["Idempotency-Key"] = key
                r = await http.request(method, f"{v.url}{path}", content=body, headers=headers)
                if r.status_code != expected:
                    raise RuntimeError(f"{v.name} {method} {path}: {r.status_code} {r.text}")

        start_service, start_pg = await self.cpu(v)
        began = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(self.args.concurrency)))
        wall = time.monotonic() - began
        await self.idle(v)
        end_service, end_pg = await self.cpu(v)
        # A backend first seen at the end started during the round: it counts from zero.
        pg = sum(cpu - start_pg.get(pid, 0.0) for pid, cpu in end_pg.items())
        return Round(v.name, kind, n, (end_service - start_service) * 1000, pg * 1000, wall)

    async def profile(self, http: httpx.AsyncClient, v: Variant, out: str) -> None:
        exe = shutil.which("py-spy")
        cmd = [exe] if exe else ["uvx", "py-spy"]
        spy = await asyncio.create_subprocess_exec(
            *cmd, "record", "-f", "raw", "--rate", "200", "--nonblocking", "-p", str(v.pid),
            "-o", out, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        await asyncio.sleep(3)  # uvx may have to fetch it first
        for _ in range(self.args.profile_rounds):
            await self.run_round(http, v, "post", self.args.requests)
        spy.send_signal(2)
        await asyncio.wait_for(spy.wait(), 60)
        progress(f"py-spy profile of {self.args.profile_rounds} POST rounds: {out}")

    async def run(self) -> list[Round]:
        rounds: list[Round] = []
        limits = httpx.Limits(max_connections=self.args.concurrency * 2)
        async with httpx.AsyncClient(timeout=60, limits=limits) as http:
            for v in self.variants:  # warm up: imports, caches, pools
                for kind in ("post", "get"):
                    await self.run_round(http, v, kind, 50)
            for r in range(self.args.rounds):
                order = self.variants if r % 2 == 0 else list(reversed(self.variants))
                kinds = ("post", "get") if r % 2 == 0 else ("get", "post")
                for v in order:
                    for kind in kinds:
                        one = await self.run_round(http, v, kind, self.args.requests)
                        progress(
                            f"round {r + 1} {v.name:8} {kind}: service {one.service_per:.2f} "
                            f"ms, postgres {one.postgres_per:.2f} ms per request "
                            f"({one.requests / one.wall_s:.0f}/s), load {os.getloadavg()[0]:.1f}"
                        )
                        rounds.append(one)
            if self.args.py_spy:
                for v in self.variants:
                    name = Path(self.args.py_spy)
                    out = name if v is self.variants[0] else name.with_stem(f"{name.stem}-{v.name}")
                    await self.profile(http, v, str(out))
        return rounds


def report(rounds: list[Round], load: tuple[float, float]) -> None:
    def med(values: list[float]) -> float:
        return statistics.median(values)

    variants = list(dict.fromkeys(r.variant for r in rounds))
    print(f"load average (1 min) {load[0]:.1f} -> {load[1]:.1f}; {len(rounds)} rounds")
    print("| code | kind | service ms/req (median, min-max) | PostgreSQL ms/req | rate |")
    print("|---|---|---|---|---|")
    for v in variants:
        for kind in ("post", "get"):
            mine = [r for r in rounds if r.variant == v and r.kind == kind]
            s = [r.service_per for r in mine]
            p = [r.postgres_per for r in mine]
            rate = med([r.requests / r.wall_s for r in mine])
            print(
                f"| {v} | {kind} | {med(s):.2f} ({min(s):.2f}-{max(s):.2f}) | "
                f"{med(p):.2f} ({min(p):.2f}-{max(p):.2f}) | {rate:.0f}/s |"
            )
    for v in variants:
        posts = [r for r in rounds if r.variant == v and r.kind == "post"]
        gets = [r for r in rounds if r.variant == v and r.kind == "get"]
        ratios = [p.service_per / g.service_per for p, g in zip(posts, gets, strict=False)]
        extra = [p.service_per - g.service_per for p, g in zip(posts, gets, strict=False)]
        print(
            f"{v}: post/get service CPU ratio median {med(ratios):.2f} "
            f"({min(ratios):.2f}-{max(ratios):.2f}); post - get {med(extra):.2f} ms"
        )
    if len(variants) == 2:
        a, b = variants
        for kind in ("post", "get"):
            pa = [r.service_per for r in rounds if r.variant == a and r.kind == kind]
            pb = [r.service_per for r in rounds if r.variant == b and r.kind == kind]
            qa = [r.postgres_per for r in rounds if r.variant == a and r.kind == kind]
            qb = [r.postgres_per for r in rounds if r.variant == b and r.kind == kind]
            ratio = [x / y for x, y in zip(pa, pb, strict=False)]
            pg_ratio = [x / y for x, y in zip(qa, qb, strict=False)]
            print(
                f"{kind}: {a}/{b} service CPU, paired median {med(ratio):.2f} "
                f"({min(ratio):.2f}-{max(ratio):.2f}); PostgreSQL {med(pg_ratio):.2f}"
            )


async def main_async(args: argparse.Namespace) -> int:
    bench = Bench(args)
    try:
        await bench.setup()
        start = os.getloadavg()[0]
        rounds = await bench.run()
        report(rounds, (start, os.getloadavg()[0]))
    finally:
        await bench.teardown()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--requests", type=int, default=300, help="requests per round")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--compare", help="a checkout of other code, run beside this one")
    parser.add_argument("--py-spy", help="record a py-spy raw profile of POSTs to this file")
    parser.add_argument("--profile-rounds", type=int, default=4)
    args = parser.parse_args(argv)
    if args.compare:
        args.compare = str(Path(args.compare).resolve())
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
