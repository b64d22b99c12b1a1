"""SQL for the in-app feed. Every query is scoped by PRE."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from relais_runtime.db import Conn


async def add_item(
    conn: Conn,
    *,
    item_id: uuid.UUID,
    pre_id: str,
    recipient: str,
    title: str,
    link: str,
    event_id: uuid.UUID,
    kind: str,
    created_at: datetime,
    situation_id: uuid.UUID | None = None,
) -> bool:
    inserted = await conn.fetchval(
        "INSERT INTO feed_items (id, pre_id, recipient, event_id, kind, title, link, created_at, "
        "situation_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
        "ON CONFLICT (event_id, recipient) DO NOTHING "
        "RETURNING true",
        item_id,
        pre_id,
        recipient,
        event_id,
        kind,
        title,
        link,
        created_at,
        situation_id,
    )
    if inserted:
        # Wakes the live streams (delivered at commit).
        await conn.execute("SELECT pg_notify('relais_feed', $1)", pre_id)
    return bool(inserted)


async def list_items(
    conn: Conn, pre_id: str, recipients: Sequence[str], reader: str, limit: int, offset: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT i.id, i.kind, i.title, i.link, i.created_at, r.read_at FROM feed_items i "
        "LEFT JOIN feed_reads r ON r.item_id = i.id AND r.reader = $3 "
        "WHERE i.pre_id = $1 AND i.recipient = ANY($2::text[]) "
        "ORDER BY i.created_at DESC, i.id LIMIT $4 OFFSET $5",
        pre_id,
        list(recipients),
        reader,
        limit,
        offset,
    )


async def unread_count(conn: Conn, pre_id: str, recipients: Sequence[str], reader: str) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM feed_items i WHERE i.pre_id = $1 AND i.recipient = ANY($2::text[]) "
        "AND NOT EXISTS (SELECT 1 FROM feed_reads r WHERE r.item_id = i.id AND r.reader = $3)",
        pre_id,
        list(recipients),
        reader,
    )
    return count


async def mark_read(
    conn: Conn,
    pre_id: str,
    recipients: Sequence[str],
    reader: str,
    item_ids: Sequence[uuid.UUID] | None,
) -> int:
    """Mark the given items (or all) read for ``reader``; only items addressed to them."""
    result: str = await conn.execute(
        "INSERT INTO feed_reads (item_id, reader) SELECT i.id, $3 FROM feed_items i "
        "WHERE i.pre_id = $1 AND i.recipient = ANY($2::text[]) "
        "AND ($4::uuid[] IS NULL OR i.id = ANY($4::uuid[])) ON CONFLICT DO NOTHING",
        pre_id,
        list(recipients),
        reader,
        None if item_ids is None else list(item_ids),
    )
    return int(result.rsplit(" ", 1)[-1])


async def items_since(
    conn: Conn, pre_id: str, recipients: Sequence[str], after: int, limit: int = 100
) -> list[asyncpg.Record]:
    """Items added after position ``after`` (for the live stream), oldest first; new items
    are unread by construction."""
    return await conn.fetch(
        "SELECT position, id, kind, title, link, created_at, NULL::timestamptz AS read_at "
        "FROM feed_items WHERE pre_id = $1 AND recipient = ANY($2::text[]) AND position > $3 "
        "ORDER BY position LIMIT $4",
        pre_id,
        list(recipients),
        after,
        limit,
    )


async def last_position(conn: Conn) -> int:
    value: int = await conn.fetchval("SELECT coalesce(max(position), 0) FROM feed_items")
    return value
