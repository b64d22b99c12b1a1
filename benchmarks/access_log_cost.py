"""Cost of the access log on a read: GET /v1/situations/{id} with and without its line.

    uv run python benchmarks/access_log_cost.py [--situations 50] [--reads 1000]
                                                [--rounds 3] [--concurrency 1 8] [--json]

Starts the parcours app in-process (throw-away database and RabbitMQ vhost), opens
``--situations`` situations through the real ``referral.submitted`` consumer, then, for
each concurrency, alternates rounds of ``--reads`` reads of the situation file (identity
decrypted) by a coordinator through the ASGI app:
  1. baseline: the same route, same transaction, with the access-log call replaced by a
     no-op (``PgParcoursWork.record_access``): what the read costs unrecorded;
  2. logged: the route as shipped, one hash-chained line per read, all in ONE PRE (the
     worst case: every read takes the same head row in turn).
The report gives, per concurrency, the median of rounds of the per-read time and the
ratio logged / baseline, plus the lines written (checked against the reads, chain verified).
Progress goes to stderr, the table or JSON to stdout; database and vhost are removed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aio_pika
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from parcours_app import ParcoursApp, parcours_app

from relais_contracts.envelope import new_event
from relais_contracts.topology import CLOUDEVENTS_CONTENT_TYPE, EVENTS_EXCHANGE
from relais_parcours.adapters.unit_of_work import PgParcoursWork
from relais_runtime import audit
from relais_runtime.auth import mint_token
from relais_runtime.db import tenant_transaction
from relais_runtime.sealing import PreKeys, seal
from relais_runtime.testing.helpers import referral_submitted

PRE = "pre-76540"


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def identity(i: int) -> dict[str, Any]:
    return {
        "child": {"first_name": f"Enfant{i}", "last_name": "Banc", "birth_date": "2016-05-02"},
        "guardians": [{"first_name": "Parent", "last_name": "Banc", "relationship": "mother"}],
        "referrer": {"name": "Mme Essai", "role": "directrice"},
        "description": "Banc d'essai.",
    }


async def open_situations(amqp_url: str, keys: Path, count: int) -> None:
    public = PreKeys(keys).public_key(PRE)
    conn = await aio_pika.connect(amqp_url)
    channel = await conn.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(EVENTS_EXCHANGE)
    for i in range(count):
        referral = referral_submitted(seal(identity(i), public), axes=["schooling"])
        event = new_event(referral, source="/relais/referral", tenant=PRE, sequence=1)
        await exchange.publish(
            aio_pika.Message(
                event.model_dump_json().encode(),
                message_id=str(event.id),
                content_type=CLOUDEVENTS_CONTENT_TYPE,
            ),
            routing_key=event.routing_key(),
        )
    await conn.close()


async def situation_ids(pool: Any) -> list[str]:
    """The PRE's situations (row-level security: the pool sees a PRE's rows only when its
    transaction is scoped to it, ADR 0018)."""
    async with tenant_transaction(pool, PRE, readonly=True) as conn:
        return [str(r["id"]) for r in await conn.fetch("SELECT id FROM situations")]


async def wait_for_situations(pool: Any, count: int) -> None:
    for _ in range(600):
        if len(await situation_ids(pool)) >= count:
            return
        await asyncio.sleep(0.2)
    raise RuntimeError("the situations were not opened within two minutes")


async def timed_round(
    read: Callable[[str], Awaitable[None]], ids: list[str], reads: int, concurrency: int
) -> float:
    """Seconds per read (wall time / reads) with ``concurrency`` readers."""
    queue = [ids[i % len(ids)] for i in range(reads)]

    async def reader() -> None:
        while queue:
            await read(queue.pop())

    start = time.perf_counter()
    await asyncio.gather(*(reader() for _ in range(concurrency)))
    return (time.perf_counter() - start) / reads


async def main(args: argparse.Namespace) -> dict[str, Any]:
    async with parcours_app("audit", PRE) as stack:
        return await measure(args, stack)


async def measure(args: argparse.Namespace, stack: ParcoursApp) -> dict[str, Any]:
    app, keys, amqp_url = stack.app, stack.keys, stack.amqp_url
    token = mint_token(
        keys / "jwt-signing.json",
        sub="bench-coordinator",
        org="pre-76540-coordination",
        tenant=PRE,
        roles=["coordinator"],
        ttl=timedelta(hours=2),
    )
    headers = {"Authorization": f"Bearer {token}"}
    results: dict[str, Any] = {"situations": args.situations, "reads": args.reads, "by": []}
    pool = app.state.runtime.pool
    progress(f"opening {args.situations} situations through the consumer…")
    await open_situations(amqp_url, keys, args.situations)
    await wait_for_situations(pool, args.situations)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request else
    ids = await situation_ids(pool)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://p") as http:

        async def read(situation_id: str) -> None:
            r = await http.get(f"/v1/situations/{situation_id}", headers=headers)
            if r.status_code != 200 or r.json()["referrals"][0]["identity"] is None:
                raise RuntimeError(f"read failed: {r.status_code} {r.text[:200]}")

        async def unrecorded(*_: object, **__: object) -> None:
            return None

        shipped = PgParcoursWork.record_access
        for concurrency in args.concurrency:
            await timed_round(read, ids, 100, concurrency)  # warm-up, both caches
            base, logged = [], []
            for rnd in range(args.rounds):
                PgParcoursWork.record_access = unrecorded  # type: ignore[method-assign]
                try:
                    base.append(await timed_round(read, ids, args.reads, concurrency))
                finally:
                    PgParcoursWork.record_access = shipped  # type: ignore[method-assign]
                logged.append(await timed_round(read, ids, args.reads, concurrency))
                progress(
                    f"c={concurrency} round {rnd + 1}: baseline {base[-1] * 1e3:.2f} ms, "
                    f"logged {logged[-1] * 1e3:.2f} ms per read"
                )
            b, lg = statistics.median(base), statistics.median(logged)
            results["by"].append(
                {
                    "concurrency": concurrency,
                    "baseline_ms": round(b * 1e3, 3),
                    "logged_ms": round(lg * 1e3, 3),
                    "extra_ms": round((lg - b) * 1e3, 3),
                    "ratio": round(lg / b, 3),
                }
            )
    async with pool.acquire() as conn:
        [report] = await audit.verify(conn, PRE)
    expected = len(args.concurrency) * (100 + args.rounds * args.reads)
    results["lines_written"] = report.lines
    results["lines_expected"] = expected
    results["chain_intact"] = report.broken is None
    return results


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--situations", type=int, default=50)
    parser.add_argument("--reads", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = asyncio.run(main(args))
    if args.json:
        print(json.dumps(results))
        return
    print(f"{'readers':>8} {'baseline ms':>12} {'logged ms':>10} {'extra ms':>9} {'ratio':>6}")
    for r in results["by"]:
        print(
            f"{r['concurrency']:>8} {r['baseline_ms']:>12.2f} {r['logged_ms']:>10.2f} "
            f"{r['extra_ms']:>9.2f} {r['ratio']:>6.2f}"
        )
    print(
        f"lines written {results['lines_written']} (expected {results['lines_expected']}), "
        f"chain intact: {results['chain_intact']}"
    )


if __name__ == "__main__":
    cli()
