"""Reporting rebuild speed: events folded per second, against a plain COPY of the same events.

    uv run python benchmarks/reporting_rebuild.py [--children 15000] [--pre 10]

Creates a throw-away database, generates a demo school year for several PRE (about seven
events per child), then measures in the same run:
  1. baseline: COPY of the events into the event log (what writing them costs at best);
  2. rebuild: ``relais_reporting.service.rebuild`` (read the log, fold, COPY the documents).
Goal (issue 7): at least 20,000 events per second for the rebuild.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path

from relais_reporting import demo
from relais_reporting.service.project import logged
from relais_reporting.service.rebuild import rebuild
from relais_runtime import testing
from relais_runtime.db import create_pool
from relais_runtime.runtime import prepare_database


async def main(children: int, pres: int) -> None:
    started = time.perf_counter()
    events = []
    per_pre = children // pres
    for i in range(pres):
        events += demo.school_year(f"pre-{76000 + i}", 2025, per_pre, seed=i)
    rows = []
    for e in events:
        entry = logged(e)
        rows.append(
            (
                e.id,
                entry.type,
                entry.pre_id,
                entry.subject,
                entry.sequence,
                entry.occurred_at,
                json.dumps(entry.data),
            )
        )
    print(
        f"generated {len(events):,} events for {pres} PRE in {time.perf_counter() - started:.1f} s"
    )

    name = testing.unique_name("relais_bench")
    dsn = await testing.create_database(name)
    try:
        await prepare_database(dsn, "reporting", Path("services/reporting/migrations"))
        pool = await create_pool(dsn, max_size=2)
        async with pool.acquire() as conn:
            await conn.execute(
                "CREATE TEMP TABLE stage (id uuid, type text, pre_id text, subject text, "
                "sequence int, occurred_at timestamptz, data text)"
            )
            t0 = time.perf_counter()
            await conn.copy_records_to_table("stage", records=rows)
            await conn.execute(
                "INSERT INTO event_log (id, type, pre_id, subject, sequence, occurred_at, data) "
                "SELECT id, type, pre_id, subject, sequence, occurred_at, data::jsonb FROM stage"
            )
            copy_s = time.perf_counter() - t0
            await conn.execute("ANALYZE event_log")
            t0 = time.perf_counter()
            read, docs = await rebuild(conn)
            rebuild_s = time.perf_counter() - t0
        await pool.close()
    finally:
        await testing.drop_database(name)
    copy_rate, rebuild_rate = len(rows) / copy_s, read / rebuild_s
    print(f"baseline COPY into event_log : {copy_rate:>10,.0f} events/s ({copy_s:.2f} s)")
    print(
        f"rebuild (read, fold, write)  : {rebuild_rate:>10,.0f} events/s ({rebuild_s:.2f} s, "
        f"{docs:,} documents)"
    )
    print(f"ratio rebuild / COPY         : {rebuild_rate / copy_rate:.2f}")
    print(f"goal >= 20,000 events/s      : {'met' if rebuild_rate >= 20_000 else 'NOT met'}")
    # Shared machines: a busy CPU halves both figures; the ratio is the stabler number.
    print(f"load average (1, 5, 15 min)  : {os.getloadavg()} on {os.cpu_count()} CPU")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=15_000)
    parser.add_argument("--pre", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.children, args.pre))
