"""Idempotency-Key for creations: the same key from the same caller replays the first result."""

from __future__ import annotations

import uuid

from relais_parcours.adapters import idempotency_repo
from relais_runtime.auth import Principal
from relais_runtime.db import Conn
from relais_runtime.errors import DomainError


async def replayed(conn: Conn, who: Principal, key: str | None, scope: str) -> uuid.UUID | None:
    """The id created earlier under this key, if any (409 if the key served another kind)."""
    if key is None:
        return None
    row = await idempotency_repo.idempotency_lookup(conn, who.pre, who.sub, key)
    if row is None:
        return None
    if row["scope"] != scope:
        raise DomainError(
            "idempotency_key_reused",
            "Cette clé d'idempotence (Idempotency-Key) a déjà servi pour une autre demande : "
            "utilisez une nouvelle clé.",
        )
    result: uuid.UUID = row["result_id"]
    return result


async def remember(
    conn: Conn, who: Principal, key: str | None, scope: str, result_id: uuid.UUID
) -> None:
    if key is not None:
        await idempotency_repo.idempotency_store(conn, who.pre, who.sub, key, scope, result_id)
