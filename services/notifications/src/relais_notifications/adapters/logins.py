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


async def logins(conn: Conn, tenant: str, referent_ids: Sequence[str]) -> dict[str, str]:
    """Référent id (as text) → the login it signs in with, for those known."""
    if not referent_ids:
        return {}
    rows = await conn.fetch(
        "SELECT referent_id::text AS referent_id, user_sub FROM referent_logins "
        "WHERE pre_id = $1 AND referent_id::text = ANY($2::text[])",
        tenant,
        list(referent_ids),
    )
    return {r["referent_id"]: r["user_sub"] for r in rows}
