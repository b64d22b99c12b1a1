"""Parcours' intake of a ``referral.submitted``: statements and CPU per referral.

    uv run python benchmarks/parcours_intake.py [--referrals 1000] [--rounds 3]
                                                [--concurrency 8] [--join-share 0.0] [--json]

Starts the parcours app in-process (throw-away database and RabbitMQ vhost) and hands
its ``parcours.referrals`` consumer sealed referrals directly, as the broker would
(``EventConsumer._parse`` then ``_handle``: the inbox claim, the transaction, the use
case, the commit), ``--concurrency`` at a time (the consumer's prefetch lets several run
at once). Each referral is of a new child, except ``--join-share`` of them, which name a
child already opened (the "join" path). The sealing is done beforehand, outside the clocks.

Reported:
- **statements per referral**, counted on the service pool's connections (asyncpg's query
  logger; ``BEGIN``/``COMMIT`` included: each is a round trip), one referral at a time;
- **CPU ms per referral** of this process (``time.process_time``: the consumer and the
  outbox relay publishing the events) and of the database's PostgreSQL backends
  (``/proc/<pid>/stat``), from the first referral of a round until the outbox is empty
  again, and the wall time per referral; per round, then the medians.

Compare two versions of the code by running this script in turn against each (e.g. the
older ``relais_parcours`` first on ``PYTHONPATH``), interleaved, and pairing the rounds.
Progress goes to stderr, the table or JSON to stdout; database and vhost are removed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from parcours_app import ParcoursApp, parcours_app

from relais_contracts.envelope import new_event
from relais_contracts.topology import EVENTS_EXCHANGE
from relais_runtime.consumer import EventConsumer
from relais_runtime.sealing import PreKeys, seal
from relais_runtime.testing.helpers import referral_submitted

PRE = "pre-76540"
QUEUE = "parcours.referrals"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def identity(i: int) -> dict[str, Any]:
    return {
        "child": {"first_name": f"Enfant{i}", "last_name": "Banc", "birth_date": "2016-05-02"},
        "guardians": [{"first_name": "Parent", "last_name": "Banc", "relationship": "mother"}],
        "referrer": {"name": "Mme Essai", "role": "directrice"},
        "description": "Banc d'essai.",
    }


def bodies(keys: Path, count: int, join_share: float, known: list[uuid.UUID]) -> list[bytes]:
    """``count`` referral.submitted bodies; ``join_share`` of them of a child in ``known``."""
    public = PreKeys(keys).public_key(PRE)
    out = []
    for i in range(count):
        subject = random.choice(known) if known and random.random() < join_share else None
        referral = referral_submitted(seal(identity(i), public), subject_id=subject)
        if subject is None:
            known.append(referral.subject_id)
        event = new_event(referral, source="/relais/referral", tenant=PRE, sequence=1)
        out.append(event.model_dump_json().encode())
    return out


async def handle_all(consumer: EventConsumer, items: list[bytes], concurrency: int) -> None:
    queue = list(reversed(items))

    async def worker() -> None:
        while queue:
            event, route = consumer._parse(queue.pop())
            if not await consumer._handle(event, route, "referral.submitted.v1"):
                raise RuntimeError("a fresh referral was taken for a duplicate")

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def proc_cpu_s(pid: int) -> float | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


async def backends_cpu(admin: Any, database: str) -> dict[int, float]:
    rows = await admin.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", database)
    found = {r["pid"]: proc_cpu_s(r["pid"]) for r in rows}
    return {pid: cpu for pid, cpu in found.items() if cpu is not None}


async def outbox_empty(admin: Any) -> None:
    for _ in range(6000):
        if not await admin.fetchval("SELECT count(*) FROM relais_outbox"):
            return
        await asyncio.sleep(0.01)
    raise RuntimeError("the outbox did not drain within a minute")


async def sink_for_events(amqp_url: str) -> Any:
    """A queue taking every event (the other services' queues are not in this vhost: the
    relay publishes with ``mandatory``), keeping none of them."""
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    queue = await channel.declare_queue(
        "bench.sink", arguments={"x-max-length": 0, "x-overflow": "drop-head"}
    )
    await queue.bind(EVENTS_EXCHANGE, routing_key="#")
    return connection


async def count_statements(consumer: EventConsumer, pool: Any, items: list[bytes]) -> list[str]:
    """The statements the pool's connections ran for ``items``, handled one at a time."""
    seen: list[str] = []
    hooked = []
    async with pool.acquire():  # every idle connection hooked: one is taken per message
        pass
    for holder in pool._holders:
        con = holder._con
        if con is not None:
            con.add_query_logger(lambda record: seen.append(record.query))
            hooked.append(con)
    await handle_all(consumer, items, 1)
    await asyncio.sleep(0.05)  # the loggers are called soon after each query
    for con in hooked:
        con._query_loggers.clear()
    return seen


async def main(args: argparse.Namespace) -> dict[str, Any]:
    async with parcours_app("intake", PRE) as stack:
        results = await measure(args, stack)
    for key in ("parcours_ms", "postgresql_ms", "wall_ms"):
        results[key] = statistics.median(r[key] for r in results["rounds"])
    results["load_end"] = os.getloadavg()[0]
    return results


async def measure(args: argparse.Namespace, stack: ParcoursApp) -> dict[str, Any]:
    app, keys, dsn, db_name = stack.app, stack.keys, stack.dsn, stack.db_name
    amqp_url = stack.amqp_url
    known: list[uuid.UUID] = []
    progress("sealing the referrals…")
    warm = bodies(keys, 100, args.join_share, known)
    counted = bodies(keys, 20, 0.0, known) + bodies(keys, 20, 1.0, known)
    rounds = [bodies(keys, args.referrals, args.join_share, known) for _ in range(args.rounds)]
    results: dict[str, Any] = {
        "referrals": args.referrals,
        "concurrency": args.concurrency,
        "join_share": args.join_share,
        "load_start": os.getloadavg()[0],
        "rounds": [],
    }
    admin = await asyncpg.connect(dsn)
    sink = None
    try:
        runtime = app.state.runtime
        consumer = runtime.consumers[QUEUE]
        sink = await sink_for_events(amqp_url)
        await handle_all(consumer, warm, args.concurrency)
        await outbox_empty(admin)
        new = await count_statements(consumer, runtime.pool, counted[:20])
        join = await count_statements(consumer, runtime.pool, counted[20:])
        results["statements_new_child"] = len(new) / 20
        results["statements_join"] = len(join) / 20
        results["statements_sample"] = new[: int(len(new) / 20)]
        await outbox_empty(admin)
        for n, items in enumerate(rounds, 1):
            pg0 = await backends_cpu(admin, db_name)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            await handle_all(consumer, items, args.concurrency)
            await outbox_empty(admin)
            cpu1, wall1 = time.process_time(), time.perf_counter()
            pg1 = await backends_cpu(admin, db_name)
            pg = sum(cpu - pg0.get(pid, 0.0) for pid, cpu in pg1.items())
            row = {
                "parcours_ms": round((cpu1 - cpu0) * 1e3 / len(items), 3),
                "postgresql_ms": round(pg * 1e3 / len(items), 3),
                "wall_ms": round((wall1 - wall0) * 1e3 / len(items), 3),
                "load": os.getloadavg()[0],
            }
            results["rounds"].append(row)
            progress(f"round {n}: {row}")
    finally:
        if sink is not None:
            await sink.close()
        await admin.close()
    return results


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--referrals", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--join-share", type=float, default=0.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = asyncio.run(main(args))
    if args.json:
        print(json.dumps(results))
        return
    print(
        f"statements per referral: new child {results['statements_new_child']:.1f}, "
        f"join {results['statements_join']:.1f}"
    )
    for statement in results["statements_sample"]:
        print(f"  {statement[:110]}")
    print(f"{'round':>6} {'parcours ms':>12} {'postgresql ms':>14} {'wall ms':>8} {'load':>5}")
    for n, r in enumerate(results["rounds"], 1):
        print(
            f"{n:>6} {r['parcours_ms']:>12.2f} {r['postgresql_ms']:>14.2f} "
            f"{r['wall_ms']:>8.2f} {r['load']:>5.1f}"
        )
    print(
        f"median: parcours {results['parcours_ms']:.2f} ms, PostgreSQL "
        f"{results['postgresql_ms']:.2f} ms, wall {results['wall_ms']:.2f} ms per referral "
        f"(load {results['load_start']:.1f} -> {results['load_end']:.1f})"
    )


if __name__ == "__main__":
    cli()
