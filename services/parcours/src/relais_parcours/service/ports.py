"""What parcours' use cases need from storage and messaging: a unit of work and its stores.

A use case is given a factory of units of work and opens one (``async with uows() as
uow``); it reads and writes the aggregates through the unit's stores
(``uow.consents.active(...)``) and writes its events with ``uow.emit(...)``. The adapters
implement these on PostgreSQL (``adapters/unit_of_work.py``): over HTTP a transaction
scoped to the caller's PRE (row-level security, ADR 0018), for a scheduler a sweep across
PREs, for a consumed message the consumer's own transaction (the inbox claim in it, and
the events caused by the message). Unit tests use in-memory fakes (``tests/fakes.py``).

Every store method takes the PRE (``tenant``), as the SQL does: a sweep works across PREs.
Rows come back as mappings of column names.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from relais_parcours.domain.handover import Handover
from relais_parcours.domain.plan import Action, Objective, Plan
from relais_runtime.audit import Access
from relais_runtime.db import Conn
from relais_runtime.errors import DomainError
from relais_runtime.idempotency import KEY_REUSED, IdempotencyScope
from relais_runtime.uow import Emitter, UnitOfWork, UnitOfWorkFactory


class Row(Protocol):
    """A stored row: its columns by name (an asyncpg record, a dict in the fakes)."""

    def __getitem__(self, key: str, /) -> Any: ...

    def keys(self) -> Iterable[str]: ...


@dataclass(frozen=True)
class ReceivedReferral:
    """What ``Situations.receive`` writes for one referral of a child."""

    tenant: str
    situation_id: uuid.UUID
    subject_id: uuid.UUID
    referral_id: uuid.UUID
    institution_id: str
    facts: dict[str, Any]
    identity_enc: bytes
    interpreter_needed: bool
    received_at: datetime
    #: A new situation, awaiting its review (else the referral joins ``situation_id``).
    opens: bool
    #: The situation goes back to awaiting its review (every earlier referral withdrawn).
    reopens: bool
    #: The review's due date: a review deadline is added when the situation opens or reopens.
    review_due_on: date
    previous_situation_id: uuid.UUID | None
    #: The child's data key, wrapped, when this referral creates it (its first use).
    new_key: bytes | None
    master_kid: str


class Situations(Protocol):
    async def get(self, tenant: str, situation_id: uuid.UUID, *, lock: bool = False) -> Row | None:
        """The situation with its referrals; ``lock`` serialises changes to it (its
        version is the sequence of its events)."""

    async def bump_version(self, tenant: str, situation_id: uuid.UUID) -> int:
        """The next version of the situation: the sequence of the event about to be written."""

    async def set_stage(self, tenant: str, situation_id: uuid.UUID, stage: str) -> None: ...

    async def withdraw_referral(
        self, tenant: str, referral_id: uuid.UUID, withdrawn_at: datetime
    ) -> uuid.UUID | None:
        """Drop a referral's identity, withdrawn by its sender; its situation, or None if the
        referral is unknown here or already withdrawn."""

    async def live_referrals(self, tenant: str, situation_id: uuid.UUID) -> int:
        """How many of the situation's referrals are not withdrawn."""

    async def set_stage_after_review(
        self,
        tenant: str,
        situation_id: uuid.UUID,
        *,
        stage: str,
        started_on: date | None,
        axes: list[str],
    ) -> None: ...

    async def set_referent(
        self, tenant: str, situation_id: uuid.UUID, referent_id: uuid.UUID
    ) -> None: ...

    async def close(
        self,
        tenant: str,
        situation_id: uuid.UUID,
        *,
        closed_at: datetime,
        exit_reason: str,
        exit_reason_text_enc: bytes | None,
        final_review_held: bool,
        followup_due_on: date,
    ) -> None:
        """The parcours ends (its reason in words sealed under the child's key)."""

    async def add_followup(
        self,
        followup_id: uuid.UUID,
        situation_id: uuid.UUID,
        tenant: str,
        outcome: str,
        held_on: date,
        recorded_by: str,
        now: datetime,
    ) -> bool:
        """The follow-up of a closed parcours; False if it was recorded already."""

    async def referral_identities(self, tenant: str, situation_id: uuid.UUID) -> Sequence[Row]:
        """Each referral's sealed identity (``identity_enc``) and the child's ``wrapped_key``,
        oldest first."""

    async def of_subject(self, tenant: str, subject_id: uuid.UUID) -> Sequence[Row]:
        """Every situation (``id``, ``stage``) of the child, oldest first, locked."""

    async def erase_subject(
        self,
        tenant: str,
        subject_id: uuid.UUID,
        situation_id: uuid.UUID,
        now: datetime,
        reason: str,
    ) -> None:
        """Crypto-erase the child's identity (its key) and clear what was written about it."""

    async def subject_key(self, tenant: str, subject_id: uuid.UUID) -> bytes | None:
        """The child's wrapped data key (``service.child_texts``); None once erased."""

    async def add_subject_key(
        self, tenant: str, subject_id: uuid.UUID, wrapped: bytes, master_kid: str
    ) -> None: ...

    async def latest_with_key(
        self, tenant: str, subject_id: uuid.UUID
    ) -> tuple[Row | None, bytes | None]:
        """The child's most recent situation, locked (earlier ones are finished or erased),
        and the child's wrapped data key (None: none yet, or erased): one read."""

    async def receive(self, received: ReceivedReferral) -> int:
        """Write what a referral received changes, together: the child's new key, the new
        situation or the existing one reopened, the review deadline, the referral attached
        (its identity sealed under the child's key). The situation's version after it: 1
        when opened, else the next one (the sequence of the event about to be written)."""

    async def attach_referral(
        self,
        *,
        referral_id: uuid.UUID,
        situation_id: uuid.UUID,
        tenant: str,
        institution_id: str,
        facts: dict[str, Any],
        identity_enc: bytes | None,
        received_at: datetime,
        interpreter_needed: bool | None = None,
    ) -> None:
        """A referral joins the situation (its identity sealed under the child's key)."""

    async def claim_sealed_referrals(self, limit: int) -> Sequence[Row]:
        """Identities still stored as JWE by earlier versions, across PREs (a sweep)."""

    async def set_identity(
        self, tenant: str, referral_id: uuid.UUID, identity_enc: bytes, interpreter_needed: bool
    ) -> None: ...

    async def claim_unflagged_referrals(self, limit: int) -> Sequence[Row]:
        """Identities stored before « interprète à prévoir » was kept beside them, across
        PREs (a sweep), with the child's ``wrapped_key``."""

    async def set_interpreter_needed(
        self, tenant: str, referral_id: uuid.UUID, needed: bool
    ) -> None: ...


class Referents(Protocol):
    async def by_sub(self, tenant: str, user_sub: str) -> Row | None:
        """The référent whose account is ``user_sub``."""

    async def get(self, tenant: str, referent_id: uuid.UUID) -> Row | None: ...

    async def save(self, tenant: str, values: dict[str, Any]) -> int | None:
        """Write the référent's entry; its new version, or None if its id or login is
        another's."""

    async def lock(self, tenant: str, referent_id: uuid.UUID) -> None:
        """Serialise assignments to one référent (their caseload is counted under it)."""

    async def caseload(self, tenant: str, referent_id: uuid.UUID) -> int:
        """How many situations in parcours the référent follows."""

    async def limits(self, tenant: str) -> dict[str, int | None]:
        """The PRE's own ``caseload_limit`` and ``max_duration_months`` (None: the default)."""

    async def end_assignment(self, tenant: str, situation_id: uuid.UUID, now: datetime) -> None:
        """The situation's current assignment ends (its history is kept)."""

    async def add_assignment(
        self,
        *,
        situation_id: uuid.UUID,
        tenant: str,
        referent_id: uuid.UUID,
        assigned_at: datetime,
        assigned_by: str,
        over_limit: bool,
        override_reason_enc: bytes | None,
    ) -> None: ...


class Plans(Protocol):
    """The individual plan of a situation: objectives and actions on the four axes."""

    async def load(self, tenant: str, situation: Row, opened_on: date) -> Plan:
        """The plan of ``situation`` (its row) for its rules, without its wording."""

    async def set_version(self, tenant: str, situation_id: uuid.UUID, version: int) -> None: ...

    async def add_objective(
        self,
        tenant: str,
        situation_id: uuid.UUID,
        objective: Objective,
        title_enc: bytes,
        now: datetime,
    ) -> None: ...

    async def add_action(
        self, tenant: str, situation_id: uuid.UUID, action: Action, title_enc: bytes, now: datetime
    ) -> None: ...

    async def update_item(
        self,
        tenant: str,
        table: str,
        item_id: uuid.UUID,
        situation_id: uuid.UUID,
        changes: dict[str, Any],
        now: datetime,
    ) -> bool:
        """Change an objective (``plan_objectives``) or an action (``plan_actions``)."""

    async def rows(
        self, tenant: str, situation_id: uuid.UUID
    ) -> tuple[Sequence[Row], Sequence[Row]]:
        """The objectives and the actions (each with its latest ``handover_id``), stored."""

    async def action(
        self, tenant: str, situation_id: uuid.UUID, action_id: uuid.UUID
    ) -> Row | None:
        """One action of the situation's plan, as stored."""


class Reviews(Protocol):
    """The team's review meetings (EPS), their agendas and decisions."""

    async def add_meeting(
        self,
        meeting_id: uuid.UUID,
        tenant: str,
        meets_on: date,
        attendees: list[dict[str, Any]],
        created_by: str,
        now: datetime,
    ) -> None: ...

    async def meeting(
        self, tenant: str, meeting_id: uuid.UUID, *, lock: bool = False
    ) -> Row | None: ...

    async def set_attendees(
        self, tenant: str, meeting_id: uuid.UUID, attendees: list[dict[str, Any]]
    ) -> None: ...

    async def agenda_length(self, tenant: str, meeting_id: uuid.UUID) -> int: ...

    async def add_to_agenda(
        self, meeting_id: uuid.UUID, situation_id: uuid.UUID, tenant: str, position: int
    ) -> None: ...

    async def on_agenda(
        self, tenant: str, meeting_id: uuid.UUID, situation_id: uuid.UUID
    ) -> bool: ...

    async def add_decision(self, tenant: str, values: dict[str, Any]) -> None: ...


class Consents(Protocol):
    async def active(self, tenant: str, situation_id: uuid.UUID) -> Row | None:
        """The consent in force, locked."""

    async def get(
        self, tenant: str, situation_id: uuid.UUID, consent_id: uuid.UUID
    ) -> Row | None: ...

    async def ledger(self, tenant: str, situation_id: uuid.UUID) -> Sequence[Row]:
        """The situation's consents, oldest first."""

    async def add(self, tenant: str, values: dict[str, Any]) -> None: ...

    async def end(
        self,
        tenant: str,
        consent_id: uuid.UUID,
        status: str,
        now: datetime,
        withdrawn_by: str | None,
    ) -> None: ...

    async def claim_expired(self, today: date, limit: int) -> Sequence[Row]:
        """Active consents past their last day, across PREs (a sweep), with the situation's
        ``subject_id``; claimed (another replica skips them)."""


class Handovers(Protocol):
    async def get(self, tenant: str, handover_id: uuid.UUID, *, lock: bool = False) -> Row | None:
        """The handover with its situation's ``subject_id``."""

    async def open(self, tenant: str, situation_id: uuid.UUID) -> list[Handover]:
        """The situation's handovers a partner still holds, locked."""

    async def cancel(self, tenant: str, handover_id: uuid.UUID, reason: str, now: datetime) -> int:
        """Cancel one; returns its new version (the sequence of handover.cancelled)."""

    async def open_for(self, tenant: str, action_id: uuid.UUID, partner_id: str) -> bool:
        """Whether the action is already with that partner (an open handover)."""

    async def add(self, tenant: str, values: dict[str, Any]) -> None: ...

    async def update(self, tenant: str, handover_id: uuid.UUID, changes: dict[str, Any]) -> int:
        """A partner's answer; returns the handover's new version."""

    async def record_disclosure(
        self,
        *,
        situation_id: uuid.UUID,
        tenant: str,
        handover_id: uuid.UUID,
        partner_id: str,
        reader_sub: str,
        data_categories: list[str],
        read_at: datetime,
    ) -> None:
        """The disclosure ledger: what a partner was shown of the situation, when."""


class Deadlines(Protocol):
    async def add(
        self,
        tenant: str,
        situation_id: uuid.UUID,
        kind: str,
        due_on: date,
        *,
        handover_id: uuid.UUID | None,
    ) -> None: ...

    async def resolve(
        self,
        tenant: str,
        situation_id: uuid.UUID,
        kind: str,
        handover_id: uuid.UUID | None = None,
    ) -> None:
        """The open deadlines of that kind (of that handover, if named) are met."""

    async def claim_due(self, today: date, limit: int) -> Sequence[Row]:
        """Deadlines past due (the follow-up: due today) across PREs (a sweep), with their
        situation's ``subject_id``, ``referent_id``, ``closed_at`` and the handover's
        ``partner_id``; claimed (another replica skips them)."""

    async def count_open(self, today: date) -> Sequence[Row]:
        """Per ``kind``, across PREs: ``overdue`` (fired, unresolved) and ``unfired``."""

    async def mark_fired(self, tenant: str, deadline_id: uuid.UUID, now: datetime) -> None: ...


class Directory(Protocol):
    async def all(self, tenant: str) -> Sequence[Row]:
        """The PRE's whole directory of partners, by name."""

    async def entry(self, tenant: str, partner_id: str) -> Row | None: ...


class Stores(Protocol):
    """Who may see a situation reads these two (``service.access``)."""

    @property
    def situations(self) -> Situations: ...
    @property
    def referents(self) -> Referents: ...


class Family(Protocol):
    """What parcours keeps for the family: its preferences and the notices it is sent."""

    async def preferences(
        self, tenant: str, situation_id: uuid.UUID, guardian_index: int
    ) -> Row | None:
        """A guardian's chosen ``language`` and ``channel``, if any."""

    async def add_notice(self, values: dict[str, Any]) -> bool:
        """False when this guardian was already told of this cause (its ``dedupe_key``)."""

    async def erase_texts(self, tenant: str, situation_id: uuid.UUID, now: datetime) -> None:
        """On erasure: the family's words go, and no letter opens anything any more."""


class FamilyStores(Stores, Protocol):
    """What a notice to the family reads and writes (``service.family_notices``)."""

    @property
    def family(self) -> Family: ...


class ParcoursWork(FamilyStores, Emitter, Protocol):
    """The unit of work parcours' use cases run in: its stores, access log and events."""

    @property
    def consents(self) -> Consents: ...
    @property
    def handovers(self) -> Handovers: ...
    @property
    def deadlines(self) -> Deadlines: ...
    @property
    def reviews(self) -> Reviews: ...
    @property
    def plans(self) -> Plans: ...
    @property
    def directory(self) -> Directory: ...
    @property
    def conn(self) -> Conn:
        """The unit's connection, for the tables that have no store here yet: the use cases
        on them call their SQL modules (``adapters/*``) on it, in the unit's transaction."""

    async def record_access(self, *accesses: Access) -> None:
        """Access-log lines, in this unit: if they cannot be written the change fails."""

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
        """An Idempotency-Key claimed for ``result_id`` (``relais_runtime.idempotency``):
        None to go on, or the id created under the same key earlier."""


#: What a use case is given: it opens its unit of work with ``async with uows() as uow``.
Uows = UnitOfWorkFactory[ParcoursWork]


class Units(Protocol):
    """The units of work of parcours (``app.state.parcours_units``): routes and the
    scheduler pick the factory a use case is given."""

    def scoped(self, tenant: str) -> Callable[[], AbstractAsyncContextManager[ParcoursWork]]:
        """Units scoped to one PRE (an HTTP request: the caller's PRE)."""

    def sweep(self) -> Callable[[], AbstractAsyncContextManager[ParcoursWork]]:
        """Units across every PRE, as the sweep role (schedulers only)."""

    def within(self, opened: UnitOfWork) -> Callable[[], AbstractAsyncContextManager[ParcoursWork]]:
        """The unit a consumer already opened (its ``Tx``), scoped here to the message's
        PRE: the consumer commits it with the inbox claim, and the events the use case
        emits are caused by the message (same correlation)."""


class ParkedMessages(Protocol):
    """The service's parked messages (``ServiceRuntime``): an erasure drops those about the
    child, which may still hold what it destroyed."""

    async def purge_parked_about(self, ids: Collection[str]) -> int: ...
