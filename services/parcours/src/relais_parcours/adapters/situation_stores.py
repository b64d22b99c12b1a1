"""The stores of a situation and what hangs on it (référents, plan, family) on PostgreSQL:
each forwards to its aggregate's SQL module (``*_repo``) on the unit's connection."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from relais_parcours.adapters import (
    family_repository,
    plans_repo,
    referents_repo,
    situations_repo,
)
from relais_parcours.domain.plan import Action, Objective, Plan
from relais_parcours.service.ports import ReceivedReferral, Row
from relais_runtime.db import Conn


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

    async def latest_with_key(
        self, tenant: str, subject_id: uuid.UUID
    ) -> tuple[Row | None, bytes | None]:
        latest, key = await situations_repo.latest_with_key(self.conn, tenant, subject_id)
        return latest, key

    async def receive(self, received: ReceivedReferral) -> int:
        return await situations_repo.receive_referral(self.conn, received)

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
