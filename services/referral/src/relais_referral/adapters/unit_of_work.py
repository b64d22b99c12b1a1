"""The referral unit of work on PostgreSQL: the runtime's transaction and outbox writer,
with the store the use cases read and write through (``service/ports.py``).

Over HTTP, :func:`unit_of_work` opens one per use case; a consumer's handler passes its
:class:`~relais_runtime.consumer.Tx` (:func:`within`), whose transaction also holds the
inbox claim.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import structlog

from relais_contracts.envelope import CloudEvent
from relais_contracts.types import ReferralStatus
from relais_referral.adapters import fiches, repository
from relais_referral.adapters.keys import ReferralKeys, UnreadableError
from relais_referral.domain.timeline import StatusChange
from relais_referral.service.ports import NewReferral, ReferralWork, Row, StoredReferral
from relais_runtime import audit, idempotency, outbox
from relais_runtime.audit import Access
from relais_runtime.db import Conn
from relais_runtime.errors import DomainError
from relais_runtime.idempotency import IdempotencyScope
from relais_runtime.runtime import ServiceRuntime
from relais_runtime.sealing import KeyNotFoundError
from relais_runtime.uow import UnitOfWork

log = structlog.get_logger("relais.referral")


class PgReferrals:
    """``service.ports.Referrals`` over one connection in a transaction."""

    def __init__(self, conn: Conn, keys: ReferralKeys) -> None:
        self.conn = conn
        self.keys = keys
        #: Child keys read or made by ``subject_for`` in this transaction, for ``add``.
        self._child_keys: dict[uuid.UUID, tuple[bytes, str]] = {}
        #: A referral ``add``ed and not yet written: the unit of work writes it with its
        #: events, in one statement (``write_pending``).
        self._pending: dict[str, Any] | None = None

    # -- institutions
    async def institution(self, tenant: str, institution_id: str) -> Row | None:
        return await repository.get_institution(self.conn, tenant, institution_id)

    async def institution_tenant(self, institution_id: str) -> str | None:
        return await repository.institution_tenant(self.conn, institution_id)

    async def save_institution(self, values: Mapping[str, Any]) -> Row | None:
        return await repository.upsert_institution(self.conn, dict(values))

    async def institutions(
        self, tenant: str, *, active: bool | None, limit: int, offset: int
    ) -> tuple[Sequence[Row], int]:
        return await repository.list_institutions(
            self.conn, tenant, active=active, limit=limit, offset=offset
        )

    async def set_contacts(
        self, tenant: str, institution_id: str, contacts: list[dict[str, Any]]
    ) -> Row | None:
        return await repository.set_institution_contacts(
            self.conn, tenant, institution_id, contacts
        )

    async def set_active(self, tenant: str, institution_id: str, active: bool) -> Row | None:
        return await repository.set_institution_active(self.conn, tenant, institution_id, active)

    # -- submissions
    async def claim_key(
        self,
        scope: IdempotencyScope,
        key: str,
        digest: str,
        result_id: uuid.UUID,
        reused: DomainError,
        *,
        also_accepted: Collection[str] = (),
    ) -> uuid.UUID | None:
        return await idempotency.claim(
            self.conn, scope, key, digest, result_id, reused=reused, also_accepted=also_accepted
        )

    async def subject_for(
        self,
        tenant: str,
        blind_index: str,
        new_subject_id: uuid.UUID,
        *,
        index_kid: str = "",
        previous: Sequence[str] = (),
    ) -> tuple[uuid.UUID, bool]:
        if not previous:
            # The subject and the child's key in one statement: the key a new child would
            # get is made first (a wrap of random bytes; unused if the child is known).
            vault = self.keys.vault(tenant)
            found = await repository.subject_with_key(
                self.conn,
                tenant,
                blind_index,
                new_subject_id,
                vault.new_data_key(new_subject_id),
                vault.master_kid,
                index_kid=index_kid,
            )
            if found is not None:
                subject_id, known, wrapped, master_kid = found
                self._child_keys[subject_id] = (wrapped, master_kid)
                return subject_id, known
        return await repository.find_or_create_subject(
            self.conn, tenant, blind_index, new_subject_id, index_kid=index_kid, previous=previous
        )

    async def add(self, referral: NewReferral) -> None:
        """Seal the fiche now; the row is written with the unit's events (``write_pending``)."""
        fiche = await fiches.seal_fiche(
            self.conn,
            self.keys,
            tenant=referral.tenant,
            subject_id=referral.subject_id,
            referral_id=referral.referral_id,
            content=referral.content,
            new_child=not referral.known_subject,
            key=self._child_keys.get(referral.subject_id),
        )
        if self._pending is not None:  # one referral per unit: write the first one now
            await self.write_pending()
        self._pending = dict(
            referral_id=referral.referral_id,
            tenant=referral.tenant,
            institution_id=referral.institution_id,
            subject_id=referral.subject_id,
            known_subject=referral.known_subject,
            facts=referral.facts,
            fiche=fiche,
            channel=referral.channel,
            external_ref=referral.external_ref,
            submitted_at=referral.submitted_at,
        )

    async def write_pending(self, events: Sequence[CloudEvent[Any]] = ()) -> None:
        """Write the referral ``add`` left pending, with ``events``; without one, the
        events alone."""
        pending, self._pending = self._pending, None
        if pending is not None:
            await repository.insert_referral(self.conn, **pending, events=events)
        elif events:
            await outbox.add(self.conn, *events)

    # -- timelines
    async def lock(self, tenant: str, referral_id: uuid.UUID) -> Row | None:
        await self.write_pending()  # a referral added in this unit is read as written
        return await repository.lock_referral(self.conn, tenant, referral_id)

    async def append_status(
        self, referral_id: uuid.UUID, version: int, change: StatusChange
    ) -> None:
        await self.write_pending()  # a referral added in this unit changes as written
        await repository.append_status(self.conn, referral_id, version, change)

    async def erase_child(self, tenant: str, subject_id: uuid.UUID) -> None:
        await self.write_pending()
        await repository.erase_identity(self.conn, tenant, subject_id)

    # -- reads
    def _content(self, tenant: str, row: fiches.Row) -> dict[str, Any] | None:
        """The opened fiche, or None when erased (or unreadable: logged, never guessed)."""
        try:
            return fiches.open_fiche(self.keys, tenant, row)
        except (UnreadableError, KeyNotFoundError) as exc:
            log.error("identity_unreadable", referral_id=str(row["id"]), error=str(exc))
            return None

    def _stored(self, tenant: str, row: fiches.Row, **extra: Any) -> StoredReferral:
        return StoredReferral(
            id=row["id"],
            tenant=tenant,
            institution_id=extra.pop("institution_id", ""),
            status=ReferralStatus(row["status"]),
            submitted_at=row["submitted_at"],
            updated_at=row["updated_at"],
            holds_fiche=row["fiche"] is not None or row["identity"] is not None,
            content=self._content(tenant, row),
            **extra,
        )

    async def read(self, tenant: str, referral_id: uuid.UUID) -> StoredReferral | None:
        await self.write_pending()  # a referral added in this unit is read as written
        row = await repository.get_referral(self.conn, tenant, referral_id)
        if row is None:
            return None
        timeline = await repository.get_timeline(self.conn, referral_id)
        return self._stored(
            tenant,
            row,
            institution_id=row["institution_id"],
            channel=row["channel"],
            external_ref=row["external_ref"],
            timeline=[
                StatusChange(ReferralStatus(t["status"]), t["at"], t["reason"], t["redirected_to"])
                for t in timeline
            ],
        )

    async def page(
        self,
        tenant: str,
        institution_id: str,
        *,
        statuses: list[str] | None,
        limit: int,
        offset: int,
    ) -> tuple[list[StoredReferral], int]:
        await self.write_pending()
        rows, total = await repository.list_referrals(
            self.conn, tenant, institution_id, statuses=statuses, limit=limit, offset=offset
        )
        items = [
            self._stored(tenant, row, institution_id=institution_id, channel="", external_ref=None)
            for row in rows
        ]
        return items, total

    async def record_access(self, access: Access) -> None:
        await audit.record(self.conn, access)


class ReferralUnitOfWork:
    """``service.ports.ReferralWork``: a runtime unit of work and the referral store on it.

    Events emitted are held and written together when the use case's block ends (still
    inside the transaction, before it commits): one statement for all of them
    (``outbox.add``) instead of one per event, which also carries a referral just added
    (``PgReferrals.write_pending``): a submission's row, timeline and events, one round trip.
    """

    def __init__(self, base: UnitOfWork, keys: ReferralKeys) -> None:
        self.base = base
        self.referrals = PgReferrals(base.conn, keys)
        self._events = UnitOfWork(base.conn, source=base.source, cause=base.cause, held=[])
        self.emit = self._events.emit

    async def write_events(self) -> None:
        """Write the events held so far to the outbox, in the order they were emitted,
        with a referral added meanwhile (one statement: the referral, its timeline's
        first step and its events)."""
        held = self._events.take_held()
        await self.referrals.write_pending(held)
        self.base.emitted.extend(held)


def unit_of_work(
    runtime: ServiceRuntime, keys: ReferralKeys
) -> Callable[[], AbstractAsyncContextManager[ReferralWork]]:
    """Units of work of their own (HTTP): each commits when its block ends."""

    @asynccontextmanager
    async def opened() -> AsyncIterator[ReferralWork]:
        async with runtime.unit_of_work() as base:
            work = ReferralUnitOfWork(base, keys)
            yield work
            await work.write_events()

    return opened


def within(
    base: UnitOfWork, keys: ReferralKeys
) -> Callable[[], AbstractAsyncContextManager[ReferralWork]]:
    """The unit of work a consumer already opened (its ``Tx``): it commits or rolls back,
    not the use case; the events are written when the use case's block ends."""
    work = ReferralUnitOfWork(base, keys)

    @asynccontextmanager
    async def the_same() -> AsyncIterator[ReferralWork]:
        yield work
        await work.write_events()

    return the_same
