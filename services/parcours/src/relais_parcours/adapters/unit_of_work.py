"""Parcours' unit of work on PostgreSQL: the runtime's transaction and outbox writer, with
the stores the use cases read and write through (``service/ports.py``).

Each store forwards to the SQL module of its aggregate (``*_repo``) on the unit's
connection. ``conn`` stays reachable for the use cases not yet on the stores.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from relais_parcours.adapters.sharing_stores import (
    PgConsents,
    PgDeadlines,
    PgDirectory,
    PgHandovers,
    PgReviews,
)
from relais_parcours.adapters.situation_stores import PgFamily, PgPlans, PgReferents, PgSituations
from relais_runtime import audit, idempotency
from relais_runtime.audit import Access
from relais_runtime.db import Conn, scope_to_tenant
from relais_runtime.errors import DomainError
from relais_runtime.idempotency import KEY_REUSED, IdempotencyScope
from relais_runtime.runtime import ServiceRuntime
from relais_runtime.uow import UnitOfWork


class PgStores:
    """The stores over one connection in a transaction."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.situations = PgSituations(conn)
        self.referents = PgReferents(conn)
        self.consents = PgConsents(conn)
        self.handovers = PgHandovers(conn)
        self.deadlines = PgDeadlines(conn)
        self.reviews = PgReviews(conn)
        self.plans = PgPlans(conn)
        self.family = PgFamily(conn)
        self.directory = PgDirectory(conn)


class PgParcoursWork(PgStores):
    """``service.ports.ParcoursWork`` over a runtime unit of work (its transaction)."""

    def __init__(self, base: UnitOfWork) -> None:
        super().__init__(base.conn)
        self.base = base
        self.emit = base.emit

    async def record_access(self, *accesses: Access) -> None:
        await audit.record(self.conn, *accesses)

    async def claim_key(
        self,
        scope: IdempotencyScope,
        key: str,
        digest: str,
        result_id: uuid.UUID,
        *,
        reused: DomainError = KEY_REUSED,
        also_accepted: Collection[str] = (),
    ) -> uuid.UUID | None:
        return await idempotency.claim(
            self.conn, scope, key, digest, result_id, reused=reused, also_accepted=also_accepted
        )


Factory = Callable[[], AbstractAsyncContextManager[PgParcoursWork]]


class PgUnits:
    """``service.ports.Units`` on the runtime's pool."""

    def __init__(self, runtime: ServiceRuntime, sweep_role: str) -> None:
        self.runtime = runtime
        self.sweep_role = sweep_role

    def scoped(self, tenant: str) -> Factory:
        @asynccontextmanager
        async def opened() -> AsyncIterator[PgParcoursWork]:
            async with self.runtime.unit_of_work(tenant=tenant) as base:
                yield PgParcoursWork(base)

        return opened

    def sweep(self) -> Factory:
        @asynccontextmanager
        async def opened() -> AsyncIterator[PgParcoursWork]:
            async with self.runtime.unit_of_work(role=self.sweep_role) as base:
                yield PgParcoursWork(base)

        return opened

    def within(self, opened: UnitOfWork) -> Factory:
        uow = PgParcoursWork(opened)
        tenant = opened.cause.tenant if opened.cause is not None else None

        @asynccontextmanager
        async def the_consumers() -> AsyncIterator[PgParcoursWork]:
            # Scoped to the message's PRE (row-level security, ADR 0018): the consumer's
            # transaction is opened before the message is read. Without a PRE it stays
            # unscoped, and row-level security shows it nothing.
            if tenant is not None:
                await scope_to_tenant(opened.conn, tenant)
            yield uow

        return the_consumers
