"""In-memory fakes of referral's unit of work and store (``service/ports.py``), for unit
tests of the rules without PostgreSQL or RabbitMQ.

The unit of work builds its events with the runtime's own :meth:`UnitOfWork.event` (the
causation under test is the real one) and keeps them in ``emitted`` instead of an outbox.
Changes are made on copies and kept only when the block ends without an exception, like
a transaction.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from relais_contracts.envelope import CloudEvent
from relais_contracts.types import ReferralStatus
from relais_referral.domain.timeline import StatusChange
from relais_referral.service.ports import NewReferral, StoredReferral
from relais_runtime.audit import Access
from relais_runtime.errors import DomainError
from relais_runtime.idempotency import IdempotencyScope
from relais_runtime.uow import UnitOfWork


@dataclass
class Tables:
    """What the fake database holds."""

    institutions: dict[str, dict[str, Any]] = field(default_factory=dict)
    referrals: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    timelines: dict[uuid.UUID, list[StatusChange]] = field(default_factory=dict)
    subjects: dict[tuple[str, str], uuid.UUID] = field(default_factory=dict)
    keys: dict[tuple[str, str, str, str], tuple[str, uuid.UUID]] = field(default_factory=dict)
    accesses: list[Access] = field(default_factory=list)
    outbox: list[CloudEvent[Any]] = field(default_factory=list)


class FakeReferrals:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    async def institution(self, tenant: str, institution_id: str) -> Mapping[str, Any] | None:
        row = self.t.institutions.get(institution_id)
        return row if row is not None and row["pre_id"] == tenant else None

    async def institution_tenant(self, institution_id: str) -> str | None:
        row = self.t.institutions.get(institution_id)
        return None if row is None else str(row["pre_id"])

    async def save_institution(self, values: Mapping[str, Any]) -> Mapping[str, Any] | None:
        earlier = self.t.institutions.get(values["id"])
        if earlier is not None and earlier["pre_id"] != values["pre_id"]:
            return None
        row = {"active": True, **(earlier or {}), **values}
        self.t.institutions[values["id"]] = row
        return row

    async def institutions(
        self, tenant: str, *, active: bool | None, limit: int, offset: int
    ) -> tuple[Sequence[Mapping[str, Any]], int]:
        rows = sorted(
            (
                r
                for r in self.t.institutions.values()
                if r["pre_id"] == tenant and (active is None or r["active"] == active)
            ),
            key=lambda r: str(r["id"]),
        )
        return rows[offset : offset + limit], len(rows)

    async def set_contacts(
        self, tenant: str, institution_id: str, contacts: list[dict[str, Any]]
    ) -> Mapping[str, Any] | None:
        row = await self.institution(tenant, institution_id)
        if row is None:
            return None
        self.t.institutions[institution_id] = {**row, "contacts": contacts}
        return self.t.institutions[institution_id]

    async def set_active(
        self, tenant: str, institution_id: str, active: bool
    ) -> Mapping[str, Any] | None:
        row = await self.institution(tenant, institution_id)
        if row is None:
            return None
        self.t.institutions[institution_id] = {**row, "active": active}
        return self.t.institutions[institution_id]

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
        at = (scope.tenant, scope.caller, scope.route, key)
        if at not in self.t.keys:
            self.t.keys[at] = (digest, result_id)
            return None
        earlier_digest, earlier_id = self.t.keys[at]
        if earlier_digest not in (digest, *also_accepted):
            raise reused
        return earlier_id

    async def subject_for(
        self,
        tenant: str,
        blind_index: str,
        new_subject_id: uuid.UUID,
        *,
        index_kid: str = "",
        previous: Sequence[str] = (),
    ) -> tuple[uuid.UUID, bool]:
        for old in previous:  # under a key being rotated: moved to the new index
            if (tenant, old) in self.t.subjects:
                self.t.subjects[(tenant, blind_index)] = self.t.subjects.pop((tenant, old))
                return self.t.subjects[(tenant, blind_index)], True
        known = (tenant, blind_index) in self.t.subjects
        return self.t.subjects.setdefault((tenant, blind_index), new_subject_id), known

    async def add(self, referral: NewReferral) -> None:
        self.t.referrals[referral.referral_id] = {
            "id": referral.referral_id,
            "pre_id": referral.tenant,
            "institution_id": referral.institution_id,
            "subject_id": referral.subject_id,
            "known_subject": referral.known_subject,
            "status": ReferralStatus.RECEIVED.value,
            "version": 1,
            "facts": referral.facts,
            "content": referral.content,
            "channel": referral.channel,
            "external_ref": referral.external_ref,
            "submitted_at": referral.submitted_at,
            "updated_at": referral.submitted_at,
        }
        self.t.timelines[referral.referral_id] = [
            StatusChange(ReferralStatus.RECEIVED, referral.submitted_at)
        ]

    async def lock(self, tenant: str, referral_id: uuid.UUID) -> Mapping[str, Any] | None:
        row = self.t.referrals.get(referral_id)
        return row if row is not None and row["pre_id"] == tenant else None

    async def append_status(
        self, referral_id: uuid.UUID, version: int, change: StatusChange
    ) -> None:
        row = self.t.referrals[referral_id]
        row.update(status=change.status.value, version=version, updated_at=change.at)
        self.t.timelines[referral_id].append(change)

    async def erase_child(self, tenant: str, subject_id: uuid.UUID) -> None:
        for row in self.t.referrals.values():
            if row["pre_id"] == tenant and row["subject_id"] == subject_id:
                row["content"] = None
        for at, subject in list(self.t.subjects.items()):
            if at[0] == tenant and subject == subject_id:
                del self.t.subjects[at]

    def _stored(self, row: Mapping[str, Any]) -> StoredReferral:
        return StoredReferral(
            id=row["id"],
            tenant=row["pre_id"],
            institution_id=row["institution_id"],
            status=ReferralStatus(row["status"]),
            submitted_at=row["submitted_at"],
            updated_at=row["updated_at"],
            channel=row["channel"],
            external_ref=row["external_ref"],
            holds_fiche=row["content"] is not None,
            content=row["content"],
            timeline=list(self.t.timelines[row["id"]]),
        )

    async def read(self, tenant: str, referral_id: uuid.UUID) -> StoredReferral | None:
        row = await self.lock(tenant, referral_id)
        return None if row is None else self._stored(row)

    async def page(
        self,
        tenant: str,
        institution_id: str,
        *,
        statuses: list[str] | None,
        limit: int,
        offset: int,
    ) -> tuple[list[StoredReferral], int]:
        rows = [
            r
            for r in self.t.referrals.values()
            if r["pre_id"] == tenant
            and r["institution_id"] == institution_id
            and (statuses is None or r["status"] in statuses)
        ]
        rows.sort(key=lambda r: (r["submitted_at"], str(r["id"])), reverse=True)
        return [self._stored(r) for r in rows[offset : offset + limit]], len(rows)

    async def record_access(self, access: Access) -> None:
        self.t.accesses.append(access)


class FakeUnitOfWork:
    """``service.ports.ReferralWork`` in memory; ``cause`` as for a consumed message."""

    def __init__(self, tables: Tables, cause: CloudEvent[Any] | None = None) -> None:
        self.referrals = FakeReferrals(tables)
        # Events are held, never written: there is no outbox in memory.
        events = UnitOfWork(None, source="/relais/referral", cause=cause, held=[])  # type: ignore[arg-type]
        self.emit = events.emit
        self.emitted = events.emitted


@dataclass
class FakeDatabase:
    """Units of work over shared tables: what one commits, the next one sees."""

    tables: Tables = field(default_factory=Tables)
    #: The message being handled, for units opened as a consumer's.
    cause: CloudEvent[Any] | None = None

    def __call__(self) -> AbstractAsyncContextManager[FakeUnitOfWork]:
        return self._open()

    @asynccontextmanager
    async def _open(self) -> AsyncIterator[FakeUnitOfWork]:
        working = copy.deepcopy(self.tables)
        uow = FakeUnitOfWork(working, self.cause)
        yield uow
        # Reached only without an exception: commit.
        working.outbox.extend(uow.emitted)
        self.tables = working

    def handling(self, message: CloudEvent[Any]) -> FakeDatabase:
        """Units opened from now on run for ``message`` (as a consumer's would)."""
        self.cause = message
        return self

    @property
    def outbox(self) -> list[CloudEvent[Any]]:
        return self.tables.outbox
