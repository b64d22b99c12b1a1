"""SQL for the référents' logins (``referent_logins``). Every query is scoped by PRE."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from relais_runtime.db import Conn


async def remember(
    conn: Conn, tenant: str, referent_id: uuid.UUID, user_sub: str, version: int
) -> tuple[bool, str | None]:
    """Record the référent's login unless a later change is already known.

    Returns whether it was recorded, and the login it replaced (None for a first one).
    """
    previous = await conn.fetchrow(
        "SELECT user_sub, version FROM referent_logins WHERE pre_id = $1 AND referent_id = $2 "
        "FOR UPDATE",
        tenant,
        referent_id,
    )
    if previous is not None and previous["version"] >= version:
        return False, None  # a re-ordered, older change
    await conn.execute(
        "INSERT INTO referent_logins (pre_id, referent_id, user_sub, version) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (pre_id, referent_id) "
        "DO UPDATE SET user_sub = $3, version = $4",
        tenant,
        referent_id,
        user_sub,
        version,
    )
    return True, None if previous is None else str(previous["user_sub"])


async def logins_of(conn: Conn, wanted: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """``logins`` for (PRE, référent id as text) pairs of several PRE, in one round trip."""
    if not wanted:
        return {}
    rows = await conn.fetch(
        "SELECT l.pre_id, l.referent_id::text AS referent_id, l.user_sub FROM referent_logins l "
        "JOIN unnest($1::text[], $2::text[]) AS w(pre_id, referent_id) "
        "ON l.pre_id = w.pre_id AND l.referent_id::text = w.referent_id",
        [t for t, _ in wanted],
        [r for _, r in wanted],
    )
    return {(r["pre_id"], r["referent_id"]): r["user_sub"] for r in rows}
