"""SQL for subscriptions and webhook endpoints. Every query is scoped by PRE."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from relais_runtime.db import Conn

_SUB_COLUMNS = (
    "id, pre_id, org_id, user_id, roles, event_types, situation_id, referent_id, channel, "
    "language, email, webhook_id, digest, created_at"
)


async def add_subscription(conn: Conn, **values: Any) -> asyncpg.Record:
    columns = ", ".join(values)
    params = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    row = await conn.fetchrow(
        f"INSERT INTO subscriptions ({columns}) VALUES ({params}) "  # noqa: S608 - our own names
        f"RETURNING {_SUB_COLUMNS}",
        *values.values(),
    )
    assert row is not None
    return row


async def list_subscriptions(
    conn: Conn, tenant: str, org_id: str, user_id: str | None, limit: int, offset: int
) -> list[asyncpg.Record]:
    """The organisation's subscriptions and, for a user, their personal ones."""
    return await conn.fetch(
        f"SELECT {_SUB_COLUMNS} FROM subscriptions WHERE pre_id = $1 AND org_id = $2 "  # noqa: S608
        "AND (user_id IS NULL OR user_id = $3) ORDER BY created_at, id LIMIT $4 OFFSET $5",
        tenant,
        org_id,
        user_id,
        limit,
        offset,
    )


async def get_subscription(conn: Conn, tenant: str, sub_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_SUB_COLUMNS} FROM subscriptions WHERE pre_id = $1 AND id = $2",  # noqa: S608
        tenant,
        sub_id,
    )


async def delete_subscription(conn: Conn, tenant: str, sub_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM subscriptions WHERE pre_id = $1 AND id = $2", tenant, sub_id)


@dataclass(frozen=True)
class Wanted:
    """What ``matching`` selects on, for one event (``matching_many``)."""

    tenant: str
    event_type: str
    audience: Sequence[str]
    situation_id: uuid.UUID | None
    referent_id: uuid.UUID | None


async def matching_many(conn: Conn, events: Sequence[Wanted]) -> list[list[asyncpg.Record]]:
    """The subscriptions that want each event, in one round trip: addressed to their owner,
    or followed by situation or référent (PRE staff). Webhook subscriptions of disabled
    endpoints are left out."""
    found: list[list[asyncpg.Record]] = [[] for _ in events]
    if not events:
        return found
    positions = [i for i, e in enumerate(events) for _ in e.audience]
    keys = [key for e in events for key in e.audience]
    rows = await conn.fetch(
        "WITH ev AS (SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::uuid[]) "  # noqa: S608
        "  WITH ORDINALITY AS e(pre_id, event_type, situation_id, referent_id, n)), "
        "aud AS (SELECT * FROM unnest($5::int[], $6::text[]) AS a(n, key)) "
        f"SELECT ev.n AS event_n, s.{_SUB_COLUMNS.replace(', ', ', s.')} "
        "FROM ev JOIN subscriptions s ON s.pre_id = ev.pre_id "
        "LEFT JOIN webhook_endpoints w ON w.id = s.webhook_id "
        "WHERE (cardinality(s.event_types) = 0 OR ev.event_type = ANY(s.event_types)) "
        "AND (w.id IS NULL OR w.enabled) AND ("
        "  (s.situation_id IS NULL AND s.referent_id IS NULL AND EXISTS ("
        "     SELECT 1 FROM aud WHERE aud.n = ev.n AND ("
        "       aud.key = 'org:' || s.org_id"
        "       OR (s.user_id IS NOT NULL AND (aud.key = 'user:' || s.user_id"
        "           OR EXISTS (SELECT 1 FROM unnest(s.roles) r WHERE aud.key = 'role:' || r))))"
        "  ))"
        "  OR (s.situation_id IS NOT NULL AND s.situation_id = ev.situation_id)"
        "  OR (s.referent_id IS NOT NULL AND s.referent_id = ev.referent_id)"
        ") ORDER BY ev.n",
        [e.tenant for e in events],
        [e.event_type for e in events],
        [e.situation_id for e in events],
        [e.referent_id for e in events],
        [p + 1 for p in positions],
        keys,
    )
    for row in rows:
        found[row["event_n"] - 1].append(row)
    return found


# --- webhook endpoints ----------------------------------------------------------------

_HOOK_COLUMNS = "id, pre_id, org_id, url, enabled, consecutive_failures, disabled_at, created_at"


async def add_endpoint(
    conn: Conn, *, id: uuid.UUID, tenant: str, org_id: str, url: str, secret: str
) -> asyncpg.Record:
    row = await conn.fetchrow(
        "INSERT INTO webhook_endpoints (id, pre_id, org_id, url, secret) "  # noqa: S608
        f"VALUES ($1, $2, $3, $4, $5) RETURNING {_HOOK_COLUMNS}",
        id,
        tenant,
        org_id,
        url,
        secret,
    )
    assert row is not None
    return row


async def list_endpoints(
    conn: Conn, tenant: str, org_id: str, limit: int, offset: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {_HOOK_COLUMNS} FROM webhook_endpoints WHERE pre_id = $1 AND org_id = $2 "  # noqa: S608
        "ORDER BY created_at, id LIMIT $3 OFFSET $4",
        tenant,
        org_id,
        limit,
        offset,
    )


async def get_endpoint(
    conn: Conn, tenant: str, org_id: str, hook_id: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_HOOK_COLUMNS} FROM webhook_endpoints "  # noqa: S608
        "WHERE pre_id = $1 AND org_id = $2 AND id = $3",
        tenant,
        org_id,
        hook_id,
    )


async def endpoint_secret(conn: Conn, hook_id: uuid.UUID) -> tuple[str, list[str], bool] | None:
    """URL, signing secrets (the current one first, then the previous one during its grace
    period) and whether the endpoint is enabled."""
    row = await conn.fetchrow(
        "SELECT url, enabled, array_remove(ARRAY[secret, CASE WHEN previous_secret_until > now() "
        "THEN previous_secret END], NULL) AS secrets FROM webhook_endpoints WHERE id = $1",
        hook_id,
    )
    return None if row is None else (row["url"], list(row["secrets"]), row["enabled"])


async def rotate_secret(
    conn: Conn, tenant: str, org_id: str, hook_id: uuid.UUID, secret: str, grace_s: float
) -> asyncpg.Record | None:
    """Make ``secret`` current; the one it replaces still signs for ``grace_s`` seconds (a
    rotation within the grace period of another ends that one's)."""
    return await conn.fetchrow(
        "UPDATE webhook_endpoints SET previous_secret = secret, secret = $4, "
        "previous_secret_until = now() + make_interval(secs => $5) "
        "WHERE pre_id = $1 AND org_id = $2 AND id = $3 RETURNING id, previous_secret_until",
        tenant,
        org_id,
        hook_id,
        secret,
        float(grace_s),
    )


async def lock_own_endpoint(conn: Conn, tenant: str, org_id: str, hook_id: uuid.UUID) -> bool:
    """Lock the organisation's endpoint for this transaction (before its deliveries, as the
    dispatcher does); False if it has none by that id."""
    found = await conn.fetchval(
        "SELECT true FROM webhook_endpoints WHERE pre_id = $1 AND org_id = $2 AND id = $3 "
        "FOR UPDATE",
        tenant,
        org_id,
        hook_id,
    )
    return bool(found)


async def delete_endpoint(conn: Conn, hook_id: uuid.UUID) -> None:
    """Its subscription and attempt log go with it; its deliveries stay, as history."""
    await conn.execute("DELETE FROM webhook_endpoints WHERE id = $1", hook_id)


async def set_enabled(conn: Conn, hook_id: uuid.UUID, enabled: bool) -> None:
    await conn.execute(
        "UPDATE webhook_endpoints SET enabled = $2, consecutive_failures = 0, "
        "disabled_at = CASE WHEN $2 THEN NULL ELSE now() END WHERE id = $1",
        hook_id,
        enabled,
    )


async def lock_endpoint(conn: Conn, hook_id: uuid.UUID) -> bool:
    """Lock the endpoint for this transaction, before any of its deliveries' rows.

    Settling a webhook delivery updates the delivery, then the endpoint's failure count,
    and disabling it updates its other deliveries: without taking the endpoint first, two
    settles of one endpoint deadlock (each holds a delivery the other needs). False if the
    endpoint was deleted meanwhile.
    """
    found = await conn.fetchval(
        "SELECT true FROM webhook_endpoints WHERE id = $1 FOR UPDATE", hook_id
    )
    return bool(found)


async def disable(conn: Conn, hook_id: uuid.UUID) -> bool:
    """Disable an enabled endpoint; False if it already was (by a concurrent settle)."""
    done = await conn.fetchval(
        "UPDATE webhook_endpoints SET enabled = false, consecutive_failures = 0, "
        "disabled_at = now() WHERE id = $1 AND enabled RETURNING true",
        hook_id,
    )
    return bool(done)


async def record_attempt(
    conn: Conn,
    *,
    hook_id: uuid.UUID,
    delivery_id: uuid.UUID,
    attempt: int,
    http_status: int | None,
    failure: str | None,
    duration_ms: int,
) -> int:
    """Log the attempt and return the endpoint's consecutive failures after it."""
    await conn.execute(
        "INSERT INTO webhook_attempts (webhook_id, delivery_id, attempt, http_status, failure, "
        "duration_ms) VALUES ($1, $2, $3, $4, $5, $6)",
        hook_id,
        delivery_id,
        attempt,
        http_status,
        failure,
        duration_ms,
    )
    failures: int = await conn.fetchval(
        "UPDATE webhook_endpoints SET consecutive_failures = "
        "CASE WHEN $2 THEN 0 ELSE consecutive_failures + 1 END WHERE id = $1 "
        "RETURNING consecutive_failures",
        hook_id,
        failure is None,
    )
    return failures


async def list_attempts(
    conn: Conn, hook_id: uuid.UUID, limit: int, offset: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT a.delivery_id, a.attempt, a.at, a.http_status, a.failure, a.duration_ms, "
        "d.event_type FROM webhook_attempts a JOIN deliveries d ON d.id = a.delivery_id "
        "WHERE a.webhook_id = $1 ORDER BY a.at DESC, a.id DESC LIMIT $2 OFFSET $3",
        hook_id,
        limit,
        offset,
    )
