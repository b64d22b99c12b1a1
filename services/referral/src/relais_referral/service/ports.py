"""What the use cases need from storage and messaging: a unit of work and its store.

The adapters implement these with PostgreSQL (``adapters/unit_of_work.py``); unit tests
with in-memory fakes. Rows come back as mappings of column names.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from relais_contracts.types import ReferralStatus
from relais_referral.domain.timeline import StatusChange
from relais_runtime.audit import Access
from relais_runtime.errors import DomainError
from relais_runtime.idempotency import IdempotencyScope
from relais_runtime.uow import Emitter, UnitOfWorkFactory


class Row(Protocol):
    """A stored row: its columns by name (an asyncpg record, a dict in the fakes)."""

    def __getitem__(self, key: str, /) -> Any: ...


@dataclass(frozen=True)
class NewReferral:
    """A referral to store: its fiche (``content``, JSON) is encrypted by the store."""

    referral_id: uuid.UUID
    tenant: str
    institution_id: str
    subject_id: uuid.UUID
    known_subject: bool
    facts: dict[str, Any]
    content: dict[str, Any]
    channel: str
    external_ref: str | None
    submitted_at: datetime


@dataclass(frozen=True)
class StoredReferral:
    """A referral as its sender reads it back; ``content`` None once erased (or unreadable)."""

    id: uuid.UUID
    tenant: str
    institution_id: str
    status: ReferralStatus
    submitted_at: datetime
    updated_at: datetime
    channel: str
    external_ref: str | None
    #: The fiche is held (not erased), whether or not it could be opened.
    holds_fiche: bool
    content: dict[str, Any] | None
    timeline: list[StatusChange] = field(default_factory=list)


class Referrals(Protocol):
    """Referrals, children (subjects) and institutions of the PRE, in one transaction."""

    # -- institutions
    async def institution(self, tenant: str, institution_id: str) -> Row | None: ...
    async def institution_tenant(self, institution_id: str) -> str | None: ...
    async def save_institution(self, values: Mapping[str, Any]) -> Row | None: ...
    async def institutions(
        self, tenant: str, *, active: bool | None, limit: int, offset: int
    ) -> tuple[Sequence[Row], int]: ...
    async def set_contacts(
        self, tenant: str, institution_id: str, contacts: list[dict[str, Any]]
    ) -> Row | None: ...
    async def set_active(self, tenant: str, institution_id: str, active: bool) -> Row | None: ...

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
    ) -> uuid.UUID | None: ...
    async def subject_for(
        self,
        tenant: str,
        blind_index: str,
        new_subject_id: uuid.UUID,
        *,
        index_kid: str = "",
        previous: Sequence[str] = (),
    ) -> tuple[uuid.UUID, bool]: ...
    async def add(self, referral: NewReferral) -> None: ...

    # -- timelines
    async def lock(self, tenant: str, referral_id: uuid.UUID) -> Row | None: ...
    async def append_status(
        self, referral_id: uuid.UUID, version: int, change: StatusChange
    ) -> None: ...
    async def erase_child(self, tenant: str, subject_id: uuid.UUID) -> None: ...

    # -- reads
    async def read(self, tenant: str, referral_id: uuid.UUID) -> StoredReferral | None: ...
    async def page(
        self,
        tenant: str,
        institution_id: str,
        *,
        statuses: list[str] | None,
        limit: int,
        offset: int,
    ) -> tuple[list[StoredReferral], int]: ...
    async def record_access(self, access: Access) -> None: ...


class ReferralWork(Emitter, Protocol):
    """The unit of work referral's use cases run in: its store and its events."""

    @property
    def referrals(self) -> Referrals: ...


#: What a use case is given: it opens its unit of work with ``async with uows() as uow``.
Uows = UnitOfWorkFactory[ReferralWork]
