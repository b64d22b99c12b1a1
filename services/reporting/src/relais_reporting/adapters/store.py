"""SQL for the anonymous event log and the fact documents. Every read is scoped by PRE."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from pydantic_core import from_json, to_json

from relais_reporting.domain.facts import LoggedEvent, Projections, Target
from relais_runtime.db import Conn

# data as text, decoded here: cheaper than asyncpg's per-value codec call (measured).
_LOG_COLUMNS = "type, pre_id, subject, sequence, occurred_at, data::text AS data"


async def log_events(conn: Conn, events: Sequence[tuple[Any, LoggedEvent]]) -> set[Any]:
    """Append to the log in one statement; returns the ids newly logged (an id already
    there is a duplicate, skipped).

    Rows go in id order: two transactions logging the same ids (a redelivery to another
    replica) then wait for each other in one order, never in a cycle.
    """
    events = sorted(events, key=lambda item: item[0])
    rows = await conn.fetch(
        "INSERT INTO event_log (id, type, pre_id, subject, sequence, occurred_at, data) "
        "SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int[], "
        "$6::timestamptz[], $7::text[]::jsonb[]) ON CONFLICT (id) DO NOTHING RETURNING id",
        [i for i, _ in events],
        [e.type for _, e in events],
        [e.tenant for _, e in events],
        [e.subject for _, e in events],
        [e.sequence for _, e in events],
        [e.occurred_at for _, e in events],
        [json.dumps(e.data, separators=(",", ":")) for _, e in events],
    )
    return {r[0] for r in rows}


async def lock_facts(conn: Conn, targets: Sequence[Target]) -> Projections:
    """The fact documents of ``targets`` that exist, locked until the transaction ends.

    Concurrent consumers (several replicas) may fold events of one aggregate at once: the
    advisory locks serialise them, taken in key order so that two batches sharing
    documents wait for each other instead of deadlocking. Two statements for any number.
    """
    names = sorted({f"{kind}:{key}" for kind, key in targets})
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(n, 0)) FROM unnest($1::text[]) AS n",
        names,
    )
    rows = await conn.fetch(
        "SELECT f.kind, f.key, f.doc FROM fact f "
        "JOIN unnest($1::text[], $2::text[]) AS t(kind, key) USING (kind, key)",
        [kind for kind, _ in targets],
        [key for _, key in targets],
    )
    docs: Projections = {(r[0], r[1]): r[2] for r in rows}
    return docs


async def save_facts(conn: Conn, docs: Projections) -> None:
    """Write (insert or replace) the fact documents in one statement."""
    await conn.execute(
        "INSERT INTO fact (kind, key, pre_id, doc) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]::jsonb[]) "
        "ON CONFLICT (kind, key) DO UPDATE SET doc = EXCLUDED.doc",
        [kind for kind, _ in docs],
        [key for _, key in docs],
        [doc["pre_id"] for doc in docs.values()],
        [json.dumps(doc, separators=(",", ":")) for doc in docs.values()],
    )


async def load_facts(conn: Conn, tenants: Sequence[str]) -> Projections:
    rows = await conn.fetch(
        "SELECT kind, key, doc FROM fact WHERE pre_id = ANY($1::text[])", list(tenants)
    )
    return {(r["kind"], r["key"]): r["doc"] for r in rows}


def _event(row: Any) -> LoggedEvent:
    # pydantic-core's JSON parser: about three times json.loads' speed on these payloads.
    return LoggedEvent(row[0], row[1], row[2], row[3], row[4], from_json(row[5]))


async def stream_log(
    conn: Conn,
    *,
    tenants: Sequence[str] | None = None,
    known_before: datetime | None = None,
    batch: int = 5000,
) -> AsyncIterator[list[LoggedEvent]]:
    """The log in batches, optionally limited to some PRE and to what was known by then."""
    where: list[str] = []
    args: list[Any] = []
    if tenants is not None:
        args.append(list(tenants))
        where.append(f"pre_id = ANY(${len(args)}::text[])")
    if known_before is not None:
        args.append(known_before)
        where.append(f"received_at < ${len(args)}")
    sql = f"SELECT {_LOG_COLUMNS} FROM event_log"  # noqa: S608 (fixed column list)
    if where:
        sql += " WHERE " + " AND ".join(where)
    if conn.is_in_transaction():
        async for rows in _batches(conn, sql, args, batch):
            yield rows
        return
    async with conn.transaction(readonly=True):  # a cursor lives inside a transaction
        async for rows in _batches(conn, sql, args, batch):
            yield rows


async def _batches(
    conn: Conn, sql: str, args: list[Any], batch: int
) -> AsyncIterator[list[LoggedEvent]]:
    """Ask for the next batch before the caller folds this one: the server reads and
    serialises it meanwhile, on another core."""
    cursor = await conn.cursor(sql, *args)
    pending = asyncio.ensure_future(cursor.fetch(batch))
    try:
        while rows := await pending:
            pending = asyncio.ensure_future(cursor.fetch(batch))
            await asyncio.sleep(0)  # let the request go out before decoding
            yield [_event(r) for r in rows]
    finally:
        if not pending.done():  # the caller stopped early: leave the connection usable
            with contextlib.suppress(Exception):
                await pending


async def count_log(conn: Conn) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM event_log")
    return count


async def replace_facts(conn: Conn, docs: Projections, chunk: int = 2000) -> None:
    """Swap every fact document for ``docs`` in the caller's transaction (rebuild).

    COPY in text format lets the server parse the jsonb itself (binary COPY would need a
    jsonb encoder our JSON codec lacks). Text rather than CSV: a document only needs its
    backslashes doubled (compact JSON has no raw tab or line break), where the csv module
    quoted every one of its many double quotes: about a third of the encoding time
    (measured, benchmarks/README.md). Streamed in chunks, so the server parses one while
    we encode the next.
    """
    items = list(docs.items())

    async def text_chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(items), chunk):
            yield b"".join(
                b"%s\t%s\t%s\t%s\n"
                % (
                    _copy_text(kind),
                    _copy_text(key),
                    _copy_text(doc["pre_id"]),
                    to_json(doc).replace(b"\\", b"\\\\"),
                )
                for (kind, key), doc in items[start : start + chunk]
            )
            await asyncio.sleep(0)

    await conn.execute("TRUNCATE fact")
    await conn.copy_to_table(
        "fact", source=text_chunks(), columns=["kind", "key", "pre_id", "doc"], format="text"
    )


def _copy_text(value: str) -> bytes:
    """``value`` as a field of COPY's text format (backslash, tab, line breaks escaped)."""
    encoded = value.encode()
    if b"\\" in encoded or b"\t" in encoded or b"\n" in encoded or b"\r" in encoded:
        encoded = (
            encoded.replace(b"\\", b"\\\\")
            .replace(b"\t", b"\\t")
            .replace(b"\n", b"\\n")
            .replace(b"\r", b"\\r")
        )
    return encoded


async def append_log(conn: Conn, events: Sequence[tuple[Any, LoggedEvent]]) -> None:
    """Bulk append (demo data); ids already present are skipped."""
    await conn.executemany(
        "INSERT INTO event_log (id, type, pre_id, subject, sequence, occurred_at, data) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
        [(i, e.type, e.tenant, e.subject, e.sequence, e.occurred_at, e.data) for i, e in events],
    )


async def handovers_of(conn: Conn, tenant: str, situation_ids: Sequence[str]) -> list[str]:
    keys: list[str] = [
        r["key"]
        for r in await conn.fetch(
            "SELECT key FROM fact WHERE pre_id = $1 AND kind = 'handover' "
            "AND doc->>'situation_id' = ANY($2::text[])",
            tenant,
            list(situation_ids),
        )
    ]
    return keys


async def replace_ids(conn: Conn, tenant: str, new_ids: dict[str, str]) -> list[LoggedEvent]:
    """Replace every occurrence of each old id by its new one in the PRE's log, drop the
    documents of the old ids, and return the rewritten events to fold them again.

    Ids are UUIDs: a textual replacement cannot touch anything but the same id.
    """
    for old, new in new_ids.items():
        await conn.execute(
            "UPDATE event_log SET data = replace(data::text, $2, $3)::jsonb, "
            "subject = replace(subject, $2, $3) "
            "WHERE pre_id = $1 AND (subject = $2 OR data::text LIKE $4)",
            tenant,
            old,
            new,
            f"%{old}%",
        )
    await conn.execute(
        "DELETE FROM fact WHERE pre_id = $1 AND key = ANY($2::text[])", tenant, list(new_ids)
    )
    rows = await conn.fetch(
        f"SELECT {_LOG_COLUMNS} FROM event_log "  # noqa: S608 (fixed column list)
        "WHERE pre_id = $1 AND data::text LIKE ANY($2::text[])",
        tenant,
        [f"%{new}%" for new in new_ids.values()],
    )
    return [_event(r) for r in rows]
