"""SQL for deliveries: the durable queue the dispatcher works from. Scoped by PRE for reads."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from relais_runtime.db import Conn

_COLUMNS = (
    "id, pre_id, event_id, event_type, recipient, recipient_org, recipient_user, channel, "
    "destination, subscription_id, webhook_id, title, body, link, payload, status, attempts, "
    "next_attempt_at, last_failure, http_status, created_at, delivered_at"
)


async def add(conn: Conn, **values: Any) -> bool:
    """Insert a delivery unless (event, recipient, channel, destination) already has one."""
    columns = ", ".join(values)
    params = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    inserted = await conn.fetchval(
        f"INSERT INTO deliveries ({columns}) VALUES ({params}) "  # noqa: S608 - our own names
        "ON CONFLICT (event_id, recipient, channel, destination) DO NOTHING RETURNING true",
        *values.values(),
    )
    return bool(inserted)


async def claim(conn: Conn, *, batch: int, lease_s: float) -> list[asyncpg.Record]:
    """Claim due deliveries for ``lease_s`` seconds (several replicas share the work).

    A row left ``sending`` by a process that died mid-send comes back when its lease ends;
    it is sent again with the same id, which receivers use to recognise a repeat.
    """
    return await conn.fetch(
        "UPDATE deliveries d SET status = 'sending', attempts = d.attempts + 1, "  # noqa: S608
        "lease_until = now() + make_interval(secs => $2) "
        "FROM (SELECT id FROM deliveries "
        "      WHERE (status = 'pending' AND next_attempt_at <= now()) "
        "         OR (status = 'sending' AND lease_until < now()) "
        "      ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) due "
        f"WHERE d.id = due.id RETURNING d.{_COLUMNS.replace(', ', ', d.')}",
        batch,
        float(lease_s),
    )


async def mark_delivered(
    conn: Conn, delivery_id: uuid.UUID, http_status: int | None
) -> datetime | None:
    """Record success and return its time; None if the row was no longer ours (already
    settled elsewhere)."""
    delivered_at: datetime | None = await conn.fetchval(
        "UPDATE deliveries SET status = 'delivered', delivered_at = now(), lease_until = NULL, "
        "http_status = $2, last_failure = NULL WHERE id = $1 AND status = 'sending' "
        "RETURNING delivered_at",
        delivery_id,
        http_status,
    )
    return delivered_at


async def mark_failed(
    conn: Conn,
    delivery_id: uuid.UUID,
    *,
    failure: str,
    http_status: int | None,
    retry_in_s: float | None,
) -> bool:
    """Record a failed attempt: back to pending after ``retry_in_s``, or failed for good."""
    done = await conn.fetchval(
        "UPDATE deliveries SET status = CASE WHEN $4::float8 IS NULL THEN 'failed' "
        "ELSE 'pending' END, "
        "next_attempt_at = now() + make_interval(secs => coalesce($4::float8, 0)), "
        "lease_until = NULL, last_failure = $2, http_status = $3 "
        "WHERE id = $1 AND status = 'sending' RETURNING true",
        delivery_id,
        failure,
        http_status,
        retry_in_s,
    )
    return bool(done)


async def give_up_endpoint(conn: Conn, webhook_id: uuid.UUID, reason: str) -> list[asyncpg.Record]:
    """Fail every delivery still waiting for a disabled (or deleted) endpoint."""
    return await conn.fetch(
        "UPDATE deliveries SET status = 'failed', last_failure = $2, "  # noqa: S608
        "lease_until = NULL WHERE webhook_id = $1 AND status IN ('pending', 'sending') "
        f"RETURNING {_COLUMNS}",
        webhook_id,
        reason,
    )


async def list_for_org(
    conn: Conn, tenant: str, org_id: str, status: str | None, limit: int, offset: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, event_id, event_type, recipient, channel, status, attempts, last_failure, "
        "http_status, created_at, delivered_at, title, link FROM deliveries "
        "WHERE pre_id = $1 AND recipient_org = $2 AND ($3::text IS NULL OR status = $3) "
        "ORDER BY created_at DESC, id LIMIT $4 OFFSET $5",
        tenant,
        org_id,
        status,
        limit,
        offset,
    )


async def claim_held_for_digest(
    conn: Conn, *, before: datetime, batch: int
) -> list[asyncpg.Record]:
    """Deliveries held for a digest before ``before``, locked for this transaction."""
    return await conn.fetch(
        "SELECT id, pre_id, recipient, recipient_org, recipient_user, destination, "
        "subscription_id, title, link, created_at FROM deliveries "
        "WHERE status = 'digested' AND created_at < $1 ORDER BY created_at LIMIT $2 "
        "FOR UPDATE SKIP LOCKED",
        before,
        batch,
    )


async def put_in_digest(conn: Conn, ids: list[uuid.UUID], digest_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE deliveries SET status = 'in_digest', digest_id = $2 WHERE id = ANY($1::uuid[])",
        ids,
        digest_id,
    )


async def settle_digest_items(
    conn: Conn,
    digest_id: uuid.UUID,
    *,
    delivered_at: datetime | None = None,
    failure: str | None = None,
) -> list[asyncpg.Record]:
    """The deliveries a digest carried, told its outcome (when it was delivered, or why it
    was given up); called in the transaction that settles the digest, so once."""
    return await conn.fetch(
        "UPDATE deliveries SET delivered_at = $2, last_failure = $3 "  # noqa: S608
        "WHERE digest_id = $1 AND status = 'in_digest' "
        f"RETURNING {_COLUMNS}",
        digest_id,
        delivered_at,
        failure,
    )


async def digest_left(conn: Conn, digest_id: uuid.UUID) -> list[asyncpg.Record]:
    """What a digest still gathers, in its order (after an erasure)."""
    return await conn.fetch(
        "SELECT title, link FROM deliveries WHERE digest_id = $1 ORDER BY created_at, id",
        digest_id,
    )


async def get_digest(conn: Conn, digest_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT payload, created_at FROM deliveries WHERE id = $1", digest_id
    )


async def rewrite_digest(
    conn: Conn, digest_id: uuid.UUID, *, title: str, body: str, payload: dict[str, object]
) -> None:
    await conn.execute(
        "UPDATE deliveries SET title = $2, body = $3, payload = $4 WHERE id = $1",
        digest_id,
        title,
        body,
        payload,
    )


async def delete_delivery(conn: Conn, delivery_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM deliveries WHERE id = $1", delivery_id)
