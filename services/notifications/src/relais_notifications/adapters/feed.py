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
        uuid.uuid4(),
        pre_id,
        recipient,
        event_id,
        kind,
        title,
        link,
        created_at,
    )
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
