"""Idempotency keys: the same request sent again under the same key creates nothing more.

One store for every service and every channel (an ``Idempotency-Key`` header over HTTP, a
sender's own reference on the AMQP intake). A key is scoped by PRE, caller and route
(:class:`IdempotencyScope`): two institutions, or two routes, may use the same key for
different things. What was sent the first time is kept as a keyed digest of the body
(:func:`fingerprint`), never the body: sent again with another body, the key is refused
(409 ``idempotency_key_reused``) rather than answered with the first result.

A claim is made inside the transaction that creates the result, so it commits or rolls
back with it. Keys are kept ``retention_days``, then deleted by :class:`IdempotencyPruner`,
a loop every replica runs (batches taken ``FOR UPDATE SKIP LOCKED``). After that, the same
key is a new request.

The table is created by each service's own migration (a service that takes no key has
none); its shape is :data:`TABLE_SQL`, copied verbatim into the migration.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Final

import asyncpg

from relais_runtime.background import BackgroundLoop
from relais_runtime.db import Conn
from relais_runtime.errors import DomainError
from relais_runtime.logging import get_logger

__all__ = [
    "KEY_REUSED",
    "TABLE_SQL",
    "IdempotencyPruner",
    "IdempotencyScope",
    "claim",
    "fingerprint",
    "prune",
]

log = get_logger(__name__)

#: The table, as each service's migration creates it.
TABLE_SQL: Final = """\
CREATE TABLE relais_idempotency (
    pre_id       text NOT NULL,
    caller       text NOT NULL,
    route        text NOT NULL,
    key          text NOT NULL,
    fingerprint  text NOT NULL,
    result_id    uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pre_id, caller, route, key)
);
CREATE INDEX relais_idempotency_created ON relais_idempotency (created_at);
"""

KEY_REUSED: Final = DomainError(
    "idempotency_key_reused",
    "Cette clé d'idempotence (Idempotency-Key) a déjà servi pour une autre demande : "
    "utilisez une nouvelle clé.",
    status=409,
)


@dataclass(frozen=True, slots=True)
class IdempotencyScope:
    """Whose key it is: the PRE, the caller (an institution, a user) and the route."""

    tenant: str
    caller: str
    #: A stable name of what the key creates (``"referrals.submit"``), not a URL.
    route: str


def fingerprint(body: bytes, secret: bytes | None = None) -> str:
    """Digest of a request body, to tell a retry from another request under the same key.

    With ``secret`` (a PRE's key), an HMAC: a body holding a child's identity can't be
    recovered by hashing guesses. Without, SHA-256 (bodies with nothing personal).
    """
    if secret is None:
        return hashlib.sha256(b"request\x1f" + body).hexdigest()
    return hmac.new(secret, b"request\x1f" + body, hashlib.sha256).hexdigest()


async def claim(
    conn: Conn,
    scope: IdempotencyScope,
    key: str,
    digest: str,
    result_id: uuid.UUID,
    *,
    reused: DomainError = KEY_REUSED,
    also_accepted: Collection[str] = (),
) -> uuid.UUID | None:
    """Claim ``key`` for ``result_id``, about to be created in this transaction.

    Returns None when the key is new (go on and create ``result_id``), or the id created
    under it earlier when this is a retry (answer with that, create nothing). Raises
    ``reused`` when the earlier request had another body. ``also_accepted``: digests of
    the same body under keys being rotated (a retry fingerprinted before the rotation).

    A concurrent request with the same key waits on the primary key until the first
    transaction ends, then sees its row (or claims the key if it rolled back). A key
    pruned between the two statements (past its retention) is claimed again.
    """
    while True:
        inserted = await conn.fetchval(
            "INSERT INTO relais_idempotency (pre_id, caller, route, key, fingerprint, "
            "result_id) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING true",
            scope.tenant,
            scope.caller,
            scope.route,
            key,
            digest,
            result_id,
        )
        if inserted:
            return None
        earlier = await conn.fetchrow(
            "SELECT fingerprint, result_id FROM relais_idempotency "
            "WHERE pre_id = $1 AND caller = $2 AND route = $3 AND key = $4",
            scope.tenant,
            scope.caller,
            scope.route,
            key,
        )
        if earlier is not None:
            if not any(
                hmac.compare_digest(earlier["fingerprint"], d) for d in (digest, *also_accepted)
            ):
                raise reused
            earlier_id: uuid.UUID = earlier["result_id"]
            return earlier_id


async def prune(conn: Conn, older_than_days: int, limit: int) -> int:
    """Forget at most ``limit`` keys claimed more than ``older_than_days`` ago.

    Rows are taken ``FOR UPDATE SKIP LOCKED``: replicas pruning at once share the work
    instead of waiting on each other, and a batch stays one short transaction.
    """
    result: str = await conn.execute(
        "DELETE FROM relais_idempotency k USING ("
        "SELECT pre_id, caller, route, key FROM relais_idempotency "
        "WHERE created_at < now() - make_interval(days => $1) "
        "ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED) old "
        "WHERE k.pre_id = old.pre_id AND k.caller = old.caller AND k.route = old.route "
        "AND k.key = old.key",
        older_than_days,
        limit,
    )
    return int(result.split()[-1])


class IdempotencyPruner(BackgroundLoop):
    """Deletes expired keys every ``interval_s``, in batches of ``batch`` (one transaction
    each); safe in every replica at once."""

    task_name = "idempotency-pruner"

    def __init__(
        self,
        pool: Callable[[], asyncpg.Pool],
        *,
        retention_days: int,
        batch: int,
        interval_s: float,
    ) -> None:
        super().__init__()
        self._pool = pool
        self.retention_days = retention_days
        self.batch = batch
        self.interval_s = interval_s

    async def run_once(self) -> int:
        """Prune everything past its retention; the number of keys deleted."""
        pruned = 0
        while True:
            async with self._pool().acquire() as conn, conn.transaction():
                deleted = await prune(conn, self.retention_days, self.batch)
            pruned += deleted
            if deleted < self.batch:
                if pruned:
                    log.info("idempotency_keys_pruned", count=pruned)
                return pruned

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("idempotency_prune_failed", error=type(exc).__name__)
            await asyncio.sleep(self.interval_s)
