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
) -> bool:
    inserted = await conn.fetchval(
        "INSERT INTO feed_items (id, pre_id, recipient, event_id, kind, title, link, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (event_id, recipient) DO NOTHING "
        "RETURNING true",
        item_id,
        pre_id,
        recipient,
        event_id,
        kind,
        title,
        link,
        created_at,
    )
    if inserted:
        # Wakes the live streams (delivered at commit).
        await conn.execute("SELECT pg_notify('relais_feed', $1)", pre_id)
    return bool(inserted)


async def list_items(
    conn: Conn, pre_id: str, recipients: Sequence[str], limit: int, offset: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, kind, title, link, created_at, read_at FROM feed_items "
        "WHERE pre_id = $1 AND recipient = ANY($2::text[]) "
        "ORDER BY created_at DESC, id LIMIT $3 OFFSET $4",
        pre_id,
        list(recipients),
        limit,
        offset,
    )


async def unread_count(conn: Conn, pre_id: str, recipients: Sequence[str]) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM feed_items WHERE pre_id = $1 AND recipient = ANY($2::text[]) "
        "AND read_at IS NULL",
        pre_id,
        list(recipients),
    )
    return count


async def mark_read(
    conn: Conn, pre_id: str, recipients: Sequence[str], item_ids: Sequence[uuid.UUID] | None
) -> int:
    """Mark the given items (or all) read; only the caller's own items can be touched."""
    result: str = await conn.execute(
        "UPDATE feed_items SET read_at = now() WHERE pre_id = $1 AND recipient = ANY($2::text[]) "
        "AND read_at IS NULL AND ($3::uuid[] IS NULL OR id = ANY($3::uuid[]))",
        pre_id,
        list(recipients),
        None if item_ids is None else list(item_ids),
    )
    return int(result.rsplit(" ", 1)[-1])


async def items_since(
    conn: Conn, pre_id: str, recipients: Sequence[str], after: int, limit: int = 100
) -> list[asyncpg.Record]:
    """Items added after position ``after`` (for the live stream), oldest first."""
    return await conn.fetch(
        "SELECT position, id, kind, title, link, created_at, read_at FROM feed_items "
        "WHERE pre_id = $1 AND recipient = ANY($2::text[]) AND position > $3 "
        "ORDER BY position LIMIT $4",
        pre_id,
        list(recipients),
        after,
        limit,
    )


async def last_position(conn: Conn) -> int:
    value: int = await conn.fetchval("SELECT coalesce(max(position), 0) FROM feed_items")
    return value
