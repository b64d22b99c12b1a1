"""SQL for the in-app feed. Every query is scoped by PRE."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from relais_runtime.db import Conn


async def add_item(
    conn: Conn,
    *,
    item_id: uuid.UUID,
    tenant: str,
    recipient: str,
    title: str,
    link: str,
    event_id: uuid.UUID,
    kind: str,
    created_at: datetime,
    situation_id: uuid.UUID | None = None,
) -> bool:
    # One round trip: the NOTIFY that wakes the live streams (delivered at commit) is sent
    # only when the row was new.
    inserted = await conn.fetch(
        "WITH added AS ("
        "INSERT INTO feed_items (id, pre_id, recipient, event_id, kind, title, link, created_at, "
        "situation_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
        "ON CONFLICT (event_id, recipient) DO NOTHING "
        "RETURNING pre_id) SELECT pg_notify('relais_feed', pre_id) FROM added",
        item_id,
        tenant,
        recipient,
        event_id,
        kind,
        title,
        link,
        created_at,
        situation_id,
    )
    return bool(inserted)


@dataclass(frozen=True)
class NewItem:
    """A feed item to add (``add_items``)."""

    id: uuid.UUID
    tenant: str
    recipient: str
    title: str
    link: str
    event_id: uuid.UUID
    kind: str
    created_at: datetime
    situation_id: uuid.UUID | None = None


async def add_items(conn: Conn, items: Sequence[NewItem]) -> set[uuid.UUID]:
    """``add_item`` for several items in one round trip: the ids of those that were new.

    Rows go in the order given (their ``position``); a NOTIFY per new row, as ``add_item``
    (PostgreSQL sends identical ones once per transaction).
    """
    if not items:
        return set()
    rows = await conn.fetch(
        "WITH added AS ("
        "INSERT INTO feed_items (id, pre_id, recipient, event_id, kind, title, link, created_at, "
        "situation_id) SELECT i, p, r, e, k, t, l, c, s FROM unnest($1::uuid[], $2::text[], "
        "$3::text[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::timestamptz[], "
        "$9::uuid[]) WITH ORDINALITY AS n(i, p, r, e, k, t, l, c, s, o) ORDER BY o "
        "ON CONFLICT (event_id, recipient) DO NOTHING "
        "RETURNING id, pre_id) SELECT id, pg_notify('relais_feed', pre_id) FROM added",
        [i.id for i in items],
        [i.tenant for i in items],
        [i.recipient for i in items],
        [i.event_id for i in items],
        [i.kind for i in items],
        [i.title for i in items],
        [i.link for i in items],
        [i.created_at for i in items],
        [i.situation_id for i in items],
    )
    return {r["id"] for r in rows}


async def list_items(
    conn: Conn, tenant: str, recipients: Sequence[str], reader: str, limit: int, offset: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT i.id, i.kind, i.title, i.link, i.created_at, r.read_at FROM feed_items i "
        "LEFT JOIN feed_reads r ON r.item_id = i.id AND r.reader = $3 "
        "WHERE i.pre_id = $1 AND i.recipient = ANY($2::text[]) "
        "ORDER BY i.created_at DESC, i.id LIMIT $4 OFFSET $5",
        tenant,
        list(recipients),
        reader,
        limit,
        offset,
    )


async def unread_count(conn: Conn, tenant: str, recipients: Sequence[str], reader: str) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM feed_items i WHERE i.pre_id = $1 AND i.recipient = ANY($2::text[]) "
        "AND NOT EXISTS (SELECT 1 FROM feed_reads r WHERE r.item_id = i.id AND r.reader = $3)",
        tenant,
        list(recipients),
        reader,
    )
    return count


async def mark_read(
    conn: Conn,
    tenant: str,
    recipients: Sequence[str],
    reader: str,
    item_ids: Sequence[uuid.UUID] | None,
) -> int:
    """Mark the given items (or all) read for ``reader``; only items addressed to them."""
    result: str = await conn.execute(
        "INSERT INTO feed_reads (item_id, reader) SELECT i.id, $3 FROM feed_items i "
        "WHERE i.pre_id = $1 AND i.recipient = ANY($2::text[]) "
        "AND ($4::uuid[] IS NULL OR i.id = ANY($4::uuid[])) ON CONFLICT DO NOTHING",
        tenant,
        list(recipients),
        reader,
        None if item_ids is None else list(item_ids),
    )
    return int(result.rsplit(" ", 1)[-1])


#: Where the live stream stands: (inserting transaction id, position within it).
Cursor = tuple[int, int]

# Items are streamed in (txid, position) order, and only those written by transactions
# below the horizon: the oldest transaction still running when the query's snapshot was
# taken. Everything below it has ended, so no item can appear behind the cursor later, as
# it could with positions taken at insert (a transaction that inserted first may commit
# last). Items of a transaction at or above the horizon wait, even if already committed.
_HORIZON = "pg_snapshot_xmin(pg_current_snapshot())"


async def items_since(
    conn: Conn, tenant: str, recipients: Sequence[str], after: Cursor, limit: int = 100
) -> tuple[list[asyncpg.Record], bool]:
    """Items committed after ``after`` (for the live stream), oldest first, and whether
    some committed ones wait for an older transaction to end. New items are unread by
    construction."""
    rows = await conn.fetch(
        "SELECT txid::text::bigint AS txid, position, id, kind, title, link, created_at, "  # noqa: S608
        f"NULL::timestamptz AS read_at, txid < {_HORIZON} AS ready FROM feed_items "
        "WHERE pre_id = $1 AND recipient = ANY($2::text[]) "
        "AND (txid, position) > ($3::text::xid8, $4::bigint) "
        "ORDER BY txid, position LIMIT $5",
        tenant,
        list(recipients),
        str(after[0]),
        after[1],
        limit,
    )
    ready = [r for r in rows if r["ready"]]
    # Ordered by txid: the ready rows come first, the rest wait for the horizon.
    return ready, len(ready) < len(rows)


async def stream_start(conn: Conn) -> Cursor:
    """A new listener's cursor: past every transaction already ended. Items of those still
    running (or just committed above the horizon) will be streamed."""
    horizon: int = await conn.fetchval(f"SELECT {_HORIZON}::text::bigint")
    return (horizon, 0)


async def cursor_of_position(conn: Conn, tenant: str, position: int) -> Cursor | None:
    """The cursor of an item known by its position alone (a Last-Event-ID sent before
    cursors carried the transaction id)."""
    txid: int | None = await conn.fetchval(
        "SELECT txid::text::bigint FROM feed_items WHERE pre_id = $1 AND position = $2",
        tenant,
        position,
    )
    return None if txid is None else (txid, position)


async def readdress(conn: Conn, tenant: str, old: Sequence[str], new: str) -> int:
    """Move items addressed to ``old`` recipients to ``new`` (a person's login changed);
    an item the new address already holds for that event stays where it is."""
    moved: str = await conn.execute(
        "UPDATE feed_items f SET recipient = $3 WHERE f.pre_id = $1 AND f.recipient = ANY($2) "
        "AND NOT EXISTS (SELECT 1 FROM feed_items g WHERE g.event_id = f.event_id "
        "AND g.recipient = $3)",
        tenant,
        list(old),
        new,
    )
    return int(moved.split()[-1])
