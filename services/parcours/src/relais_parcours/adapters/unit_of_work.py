"""Parcours' unit of work on PostgreSQL: the runtime's transaction and outbox writer, with
the stores the use cases read and write through (``service/ports.py``).

Each store forwards to the SQL module of its aggregate (``*_repo``) on the unit's
connection. ``conn`` stays reachable for the use cases not yet on the stores.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import date, datetime
from typing import Any

from relais_contracts.base import Message
from relais_contracts.envelope import CloudEvent
from relais_parcours.adapters import (
    consents_repo,
    deadlines_repo,
    family_repository,
    handovers_repo,
    plans_repo,
    referents_repo,
    reviews_repo,
    situations_repo,
)
from relais_parcours.adapters import directory as directory_repo
from relais_parcours.domain.handover import Handover
from relais_parcours.domain.plan import Action, Objective, Plan
from relais_parcours.service.ports import Row
from relais_runtime import audit, idempotency
from relais_runtime.audit import Access
from relais_runtime.db import Conn, scope_to_tenant
from relais_runtime.errors import DomainError
from relais_runtime.idempotency import KEY_REUSED, IdempotencyScope
from relais_runtime.runtime import ServiceRuntime
from relais_runtime.uow import UnitOfWork


class PgSituations:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def get(self, tenant: str, situation_id: uuid.UUID, *, lock: bool = False) -> Row | None:
        return await situations_repo.get_situation(self.conn, tenant, situation_id, lock=lock)

    async def bump_version(self, tenant: str, situation_id: uuid.UUID) -> int:
        return await situations_repo.bump_version(self.conn, tenant, situation_id)

    async def set_stage(self, tenant: str, situation_id: uuid.UUID, stage: str) -> None:
        await situations_repo.set_stage(self.conn, tenant, situation_id, stage)

    async def withdraw_referral(
        self, tenant: str, referral_id: uuid.UUID, withdrawn_at: datetime
    ) -> uuid.UUID | None:
        return await situations_repo.withdraw_referral(self.conn, tenant, referral_id, withdrawn_at)

    async def live_referrals(self, tenant: str, situation_id: uuid.UUID) -> int:
        return await situations_repo.live_referrals(self.conn, tenant, situation_id)

    async def set_stage_after_review(
        self,
        tenant: str,
        situation_id: uuid.UUID,
        *,
        stage: str,
        started_on: date | None,
        axes: list[str],
    ) -> None:
        await situations_repo.set_stage_after_review(
            self.conn, tenant, situation_id, stage=stage, started_on=started_on, axes=axes
        )

    async def set_referent(
        self, tenant: str, situation_id: uuid.UUID, referent_id: uuid.UUID
    ) -> None:
        await situations_repo.set_referent(self.conn, tenant, situation_id, referent_id)

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
        await situations_repo.close_situation(
            self.conn,
            tenant,
            situation_id,
            closed_at=closed_at,
            exit_reason=exit_reason,
            exit_reason_text_enc=exit_reason_text_enc,
            final_review_held=final_review_held,
            followup_due_on=followup_due_on,
        )

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
        return await situations_repo.insert_followup(
            self.conn, followup_id, situation_id, tenant, outcome, held_on, recorded_by, now
        )

    async def referral_identities(self, tenant: str, situation_id: uuid.UUID) -> Sequence[Row]:
        return await situations_repo.referral_identities(self.conn, tenant, situation_id)

    async def of_subject(self, tenant: str, subject_id: uuid.UUID) -> Sequence[Row]:
        return await situations_repo.situations_of_subject(self.conn, tenant, subject_id)

    async def erase_subject(
        self,
        tenant: str,
        subject_id: uuid.UUID,
        situation_id: uuid.UUID,
        now: datetime,
        reason: str,
    ) -> None:
        await situations_repo.erase_subject(
            self.conn, tenant, subject_id, situation_id, now, reason
        )

    async def subject_key(self, tenant: str, subject_id: uuid.UUID) -> bytes | None:
        return await situations_repo.subject_key(self.conn, tenant, subject_id)

    async def add_subject_key(
        self, tenant: str, subject_id: uuid.UUID, wrapped: bytes, master_kid: str
    ) -> None:
        await situations_repo.insert_subject_key(self.conn, tenant, subject_id, wrapped, master_kid)

    async def latest_of_subject(self, tenant: str, subject_id: uuid.UUID) -> Row | None:
        return await situations_repo.latest_situation_for_subject(self.conn, tenant, subject_id)

    async def open(
        self,
        *,
        situation_id: uuid.UUID,
        tenant: str,
        subject_id: uuid.UUID,
        opened_at: datetime,
        review_due_on: date,
        previous_situation_id: uuid.UUID | None,
    ) -> None:
        await situations_repo.insert_situation(
            self.conn,
            situation_id=situation_id,
            tenant=tenant,
            subject_id=subject_id,
            opened_at=opened_at,
            review_due_on=review_due_on,
            previous_situation_id=previous_situation_id,
        )

    async def reopen_for_review(
        self, tenant: str, situation_id: uuid.UUID, review_due_on: date
    ) -> None:
        await situations_repo.reopen_for_review(self.conn, tenant, situation_id, review_due_on)

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
        await situations_repo.attach_referral(
            self.conn,
            referral_id=referral_id,
            situation_id=situation_id,
            tenant=tenant,
            institution_id=institution_id,
            facts=facts,
            identity_enc=identity_enc,
            received_at=received_at,
            interpreter_needed=interpreter_needed,
        )

    async def claim_sealed_referrals(self, limit: int) -> Sequence[Row]:
        return await situations_repo.claim_sealed_referrals(self.conn, limit)

    async def set_identity(
        self, tenant: str, referral_id: uuid.UUID, identity_enc: bytes, interpreter_needed: bool
    ) -> None:
        await situations_repo.set_identity(
            self.conn, tenant, referral_id, identity_enc, interpreter_needed
        )

    async def claim_unflagged_referrals(self, limit: int) -> Sequence[Row]:
        return await situations_repo.claim_unflagged_referrals(self.conn, limit)

    async def set_interpreter_needed(
        self, tenant: str, referral_id: uuid.UUID, needed: bool
    ) -> None:
        await situations_repo.set_interpreter_needed(self.conn, tenant, referral_id, needed)


class PgReferents:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def by_sub(self, tenant: str, user_sub: str) -> Row | None:
        return await referents_repo.referent_by_sub(self.conn, tenant, user_sub)

    async def get(self, tenant: str, referent_id: uuid.UUID) -> Row | None:
        return await referents_repo.get_referent(self.conn, tenant, referent_id)

    async def save(self, tenant: str, values: dict[str, Any]) -> int | None:
        return await referents_repo.upsert_referent(self.conn, tenant, values)

    async def lock(self, tenant: str, referent_id: uuid.UUID) -> None:
        await referents_repo.lock_referent(self.conn, tenant, referent_id)

    async def caseload(self, tenant: str, referent_id: uuid.UUID) -> int:
        return await referents_repo.caseload(self.conn, tenant, referent_id)

    async def limits(self, tenant: str) -> dict[str, int | None]:
        return await referents_repo.pre_limits(self.conn, tenant)

    async def end_assignment(self, tenant: str, situation_id: uuid.UUID, now: datetime) -> None:
        await referents_repo.end_assignment(self.conn, tenant, situation_id, now)

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
    ) -> None:
        await referents_repo.insert_assignment(
            self.conn,
            situation_id=situation_id,
            tenant=tenant,
            referent_id=referent_id,
            assigned_at=assigned_at,
            assigned_by=assigned_by,
            over_limit=over_limit,
            override_reason_enc=override_reason_enc,
        )


class PgPlans:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def load(self, tenant: str, situation: Row, opened_on: date) -> Plan:
        return await plans_repo.load(self.conn, tenant, situation, opened_on)

    async def set_version(self, tenant: str, situation_id: uuid.UUID, version: int) -> None:
        await plans_repo.set_plan_version(self.conn, tenant, situation_id, version)

    async def add_objective(
        self,
        tenant: str,
        situation_id: uuid.UUID,
        objective: Objective,
        title_enc: bytes,
        now: datetime,
    ) -> None:
        await plans_repo.insert_objective(
            self.conn, tenant, situation_id, objective, title_enc, now
        )

    async def add_action(
        self, tenant: str, situation_id: uuid.UUID, action: Action, title_enc: bytes, now: datetime
    ) -> None:
        await plans_repo.insert_action(self.conn, tenant, situation_id, action, title_enc, now)

    async def update_item(
        self,
        tenant: str,
        table: str,
        item_id: uuid.UUID,
        situation_id: uuid.UUID,
        changes: dict[str, Any],
        now: datetime,
    ) -> bool:
        return await plans_repo.update_plan_item(
            self.conn, tenant, table, item_id, situation_id, changes, now
        )

    async def rows(
        self, tenant: str, situation_id: uuid.UUID
    ) -> tuple[Sequence[Row], Sequence[Row]]:
        return await plans_repo.plan(self.conn, tenant, situation_id)

    async def action(
        self, tenant: str, situation_id: uuid.UUID, action_id: uuid.UUID
    ) -> Row | None:
        return await plans_repo.get_action(self.conn, tenant, situation_id, action_id)


class PgFamily:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def preferences(
        self, tenant: str, situation_id: uuid.UUID, guardian_index: int
    ) -> Row | None:
        return await family_repository.preferences(self.conn, tenant, situation_id, guardian_index)

    async def add_notice(self, values: dict[str, Any]) -> bool:
        return await family_repository.insert_notice(self.conn, values)

    async def erase_texts(self, tenant: str, situation_id: uuid.UUID, now: datetime) -> None:
        await family_repository.erase_family_texts(self.conn, tenant, situation_id, now)


class PgReviews:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def add_meeting(
        self,
        meeting_id: uuid.UUID,
        tenant: str,
        meets_on: date,
        attendees: list[dict[str, Any]],
        created_by: str,
        now: datetime,
    ) -> None:
        await reviews_repo.insert_meeting(
            self.conn, meeting_id, tenant, meets_on, attendees, created_by, now
        )

    async def meeting(
        self, tenant: str, meeting_id: uuid.UUID, *, lock: bool = False
    ) -> Row | None:
        return await reviews_repo.get_meeting(self.conn, tenant, meeting_id, lock=lock)

    async def set_attendees(
        self, tenant: str, meeting_id: uuid.UUID, attendees: list[dict[str, Any]]
    ) -> None:
        await reviews_repo.set_meeting_attendees(self.conn, tenant, meeting_id, attendees)

    async def agenda_length(self, tenant: str, meeting_id: uuid.UUID) -> int:
        return await reviews_repo.agenda_length(self.conn, tenant, meeting_id)

    async def add_to_agenda(
        self, meeting_id: uuid.UUID, situation_id: uuid.UUID, tenant: str, position: int
    ) -> None:
        await reviews_repo.add_to_agenda(self.conn, meeting_id, situation_id, tenant, position)

    async def on_agenda(self, tenant: str, meeting_id: uuid.UUID, situation_id: uuid.UUID) -> bool:
        return await reviews_repo.on_agenda(self.conn, tenant, meeting_id, situation_id)

    async def add_decision(self, tenant: str, values: dict[str, Any]) -> None:
        await reviews_repo.insert_decision(self.conn, tenant, values)


class PgConsents:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def active(self, tenant: str, situation_id: uuid.UUID) -> Row | None:
        return await consents_repo.active_consent(self.conn, tenant, situation_id)

    async def get(self, tenant: str, situation_id: uuid.UUID, consent_id: uuid.UUID) -> Row | None:
        return await consents_repo.get_consent(self.conn, tenant, situation_id, consent_id)

    async def ledger(self, tenant: str, situation_id: uuid.UUID) -> Sequence[Row]:
        return await consents_repo.list_consents(self.conn, tenant, situation_id)

    async def add(self, tenant: str, values: dict[str, Any]) -> None:
        await consents_repo.insert_consent(self.conn, tenant, values)

    async def end(
        self,
        tenant: str,
        consent_id: uuid.UUID,
        status: str,
        now: datetime,
        withdrawn_by: str | None,
    ) -> None:
        await consents_repo.end_consent(self.conn, tenant, consent_id, status, now, withdrawn_by)

    async def claim_expired(self, today: date, limit: int) -> Sequence[Row]:
        return await consents_repo.claim_expired_consents(self.conn, today, limit)


class PgHandovers:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def get(self, tenant: str, handover_id: uuid.UUID, *, lock: bool = False) -> Row | None:
        return await handovers_repo.get_handover(self.conn, tenant, handover_id, lock=lock)

    async def open(self, tenant: str, situation_id: uuid.UUID) -> list[Handover]:
        return await handovers_repo.open_handovers(self.conn, tenant, situation_id)

    async def cancel(self, tenant: str, handover_id: uuid.UUID, reason: str, now: datetime) -> int:
        return await handovers_repo.cancel_handover(self.conn, tenant, handover_id, reason, now)

    async def open_for(self, tenant: str, action_id: uuid.UUID, partner_id: str) -> bool:
        return await handovers_repo.open_handover_for(self.conn, tenant, action_id, partner_id)

    async def add(self, tenant: str, values: dict[str, Any]) -> None:
        await handovers_repo.insert_handover(self.conn, tenant, values)

    async def update(self, tenant: str, handover_id: uuid.UUID, changes: dict[str, Any]) -> int:
        return await handovers_repo.update_handover(self.conn, tenant, handover_id, changes)

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
        await handovers_repo.record_disclosure(
            self.conn,
            situation_id=situation_id,
            tenant=tenant,
            handover_id=handover_id,
            partner_id=partner_id,
            reader_sub=reader_sub,
            data_categories=data_categories,
            read_at=read_at,
        )


class PgDeadlines:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def add(
        self,
        tenant: str,
        situation_id: uuid.UUID,
        kind: str,
        due_on: date,
        *,
        handover_id: uuid.UUID | None,
    ) -> None:
        await deadlines_repo.add_deadline(
            self.conn, tenant, situation_id, kind, due_on, handover_id=handover_id
        )

    async def resolve(
        self,
        tenant: str,
        situation_id: uuid.UUID,
        kind: str,
        handover_id: uuid.UUID | None = None,
    ) -> None:
        await deadlines_repo.resolve_deadlines(self.conn, tenant, situation_id, kind, handover_id)

    async def claim_due(self, today: date, limit: int) -> Sequence[Row]:
        return await deadlines_repo.claim_due_deadlines(self.conn, today, limit)

    async def count_open(self, today: date) -> Sequence[Row]:
        return await deadlines_repo.count_open_deadlines(self.conn, today)

    async def mark_fired(self, tenant: str, deadline_id: uuid.UUID, now: datetime) -> None:
        await deadlines_repo.mark_deadline_fired(self.conn, tenant, deadline_id, now)


class PgDirectory:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def all(self, tenant: str) -> Sequence[Row]:
        return await directory_repo.all_entries(self.conn, tenant)

    async def entry(self, tenant: str, partner_id: str) -> Row | None:
        return await directory_repo.entry(self.conn, tenant, partner_id)


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

    async def emit(
        self,
        data: Message,
        *,
        subject: str,
        sequence: int,
        tenant: str | None = None,
        caused_by: CloudEvent[Any] | None = None,
    ) -> CloudEvent[Any]:
        return await self.base.emit(
            data, subject=subject, sequence=sequence, tenant=tenant, caused_by=caused_by
        )

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
