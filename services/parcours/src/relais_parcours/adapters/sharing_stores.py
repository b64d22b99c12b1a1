"""The stores of the team's review, the consent, the handovers, the deadlines and the
partner directory on PostgreSQL: each forwards to its SQL module on the unit's connection."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from relais_parcours.adapters import (
    consents_repo,
    deadlines_repo,
    handovers_repo,
    reviews_repo,
)
from relais_parcours.adapters import directory as directory_repo
from relais_parcours.domain.handover import Handover
from relais_parcours.service.ports import Row
from relais_runtime.db import Conn


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
