"""In-memory fakes of parcours' unit of work and stores (``service/ports.py``), for unit
tests of the use cases without PostgreSQL or RabbitMQ.

The unit of work builds its events with the runtime's own :meth:`UnitOfWork.event` (the
causation under test is the real one) and keeps them in ``emitted`` instead of an outbox.
Changes are made on a copy of the tables and kept only when the block ends without an
exception, like a transaction. Each store filters by PRE, as the SQL (and row-level
security) does.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from relais_contracts.envelope import CloudEvent
from relais_contracts.types import DeadlineKind
from relais_parcours.domain.handover import OPEN, Handover
from relais_parcours.domain.plan import Action, Objective, Plan
from relais_parcours.domain.situation import Stage
from relais_parcours.service.ports import ReceivedReferral
from relais_runtime.audit import Access
from relais_runtime.errors import DomainError
from relais_runtime.idempotency import KEY_REUSED, IdempotencyScope
from relais_runtime.uow import UnitOfWork

SOURCE = "/relais/parcours"
Rows = dict[uuid.UUID, dict[str, Any]]


@dataclass
class Tables:
    """What the fake database holds (rows as dicts, columns as in the SQL schema)."""

    situations: Rows = field(default_factory=dict)
    #: The referrals of each situation (``situation_referrals``), by referral id.
    referrals: Rows = field(default_factory=dict)
    referents: Rows = field(default_factory=dict)
    #: Référent assignments (their history), in order.
    assignments: list[dict[str, Any]] = field(default_factory=list)
    #: PRE -> its own limits (``caseload_limit``, ``max_duration_months``).
    limits: dict[str, dict[str, int | None]] = field(default_factory=dict)
    meetings: Rows = field(default_factory=dict)
    #: (meeting id, situation id) -> position on the agenda.
    agenda: dict[tuple[uuid.UUID, uuid.UUID], int] = field(default_factory=dict)
    decisions: Rows = field(default_factory=dict)
    objectives: Rows = field(default_factory=dict)
    followups: Rows = field(default_factory=dict)
    #: (situation id, guardian index) -> the guardian's preferences.
    preferences: dict[tuple[uuid.UUID, int], dict[str, Any]] = field(default_factory=dict)
    notices: list[dict[str, Any]] = field(default_factory=list)
    actions: Rows = field(default_factory=dict)
    consents: Rows = field(default_factory=dict)
    handovers: Rows = field(default_factory=dict)
    #: The disclosure ledger (what a partner's sheet showed), in order.
    disclosures: list[dict[str, Any]] = field(default_factory=list)
    deadlines: list[dict[str, Any]] = field(default_factory=list)
    #: (PRE, subject id) -> the child's wrapped data key.
    subject_keys: dict[tuple[str, uuid.UUID], bytes] = field(default_factory=dict)
    #: PRE -> its directory of partners.
    directory: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    keys: dict[tuple[str, str, str, str], tuple[str, uuid.UUID]] = field(default_factory=dict)
    accesses: list[Access] = field(default_factory=list)
    outbox: list[CloudEvent[Any]] = field(default_factory=list)


def _of(rows: Rows, tenant: str, row_id: uuid.UUID) -> dict[str, Any] | None:
    row = rows.get(row_id)
    return row if row is not None and row["pre_id"] == tenant else None


class FakeSituations:
    def __init__(self, t: Tables) -> None:
        self.t = t

    async def get(
        self, tenant: str, situation_id: uuid.UUID, *, lock: bool = False
    ) -> dict[str, Any] | None:
        return _of(self.t.situations, tenant, situation_id)

    async def bump_version(self, tenant: str, situation_id: uuid.UUID) -> int:
        row = _of(self.t.situations, tenant, situation_id)
        assert row is not None, "bump_version of a situation the PRE does not hold"
        row["version"] += 1
        return int(row["version"])

    async def set_stage(self, tenant: str, situation_id: uuid.UUID, stage: str) -> None:
        row = _of(self.t.situations, tenant, situation_id)
        if row is not None:
            row["stage"] = stage

    async def withdraw_referral(
        self, tenant: str, referral_id: uuid.UUID, withdrawn_at: datetime
    ) -> uuid.UUID | None:
        row = _of(self.t.referrals, tenant, referral_id)
        if row is None or row["withdrawn_at"] is not None:
            return None
        row.update(withdrawn_at=withdrawn_at, identity_enc=None, interpreter_needed=None)
        situation_id: uuid.UUID = row["situation_id"]
        return situation_id

    async def live_referrals(self, tenant: str, situation_id: uuid.UUID) -> int:
        return sum(
            1
            for r in self.t.referrals.values()
            if (r["pre_id"], r["situation_id"], r["withdrawn_at"]) == (tenant, situation_id, None)
        )

    async def set_stage_after_review(
        self,
        tenant: str,
        situation_id: uuid.UUID,
        *,
        stage: str,
        started_on: date | None,
        axes: list[str],
    ) -> None:
        row = _of(self.t.situations, tenant, situation_id)
        if row is not None:
            row.update(stage=stage, started_on=started_on, axes=axes)

    async def set_referent(
        self, tenant: str, situation_id: uuid.UUID, referent_id: uuid.UUID
    ) -> None:
        row = _of(self.t.situations, tenant, situation_id)
        if row is not None:
            row["referent_id"] = referent_id

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
        row = _of(self.t.situations, tenant, situation_id)
        if row is not None:
            row.update(
                stage="closed",
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
        if any(f["situation_id"] == situation_id for f in self.t.followups.values()):
            return False
        self.t.followups[followup_id] = {
            "id": followup_id,
            "situation_id": situation_id,
            "pre_id": tenant,
            "outcome": outcome,
            "held_on": held_on,
            "recorded_by": recorded_by,
            "recorded_at": now,
        }
        return True

    async def referral_identities(
        self, tenant: str, situation_id: uuid.UUID
    ) -> Sequence[dict[str, Any]]:
        situation = _of(self.t.situations, tenant, situation_id)
        if situation is None:
            return []
        key = self.t.subject_keys.get((tenant, situation["subject_id"]))
        return [
            {**r, "wrapped_key": key}
            for r in self.t.referrals.values()
            if (r["pre_id"], r["situation_id"]) == (tenant, situation_id)
        ]

    async def of_subject(self, tenant: str, subject_id: uuid.UUID) -> Sequence[dict[str, Any]]:
        return sorted(
            (
                s
                for s in self.t.situations.values()
                if (s["pre_id"], s["subject_id"]) == (tenant, subject_id)
            ),
            key=lambda s: s["opened_at"],
        )

    async def erase_subject(
        self,
        tenant: str,
        subject_id: uuid.UUID,
        situation_id: uuid.UUID,
        now: datetime,
        reason: str,
    ) -> None:
        self.t.subject_keys.pop((tenant, subject_id), None)
        for r in self.t.referrals.values():
            if (r["pre_id"], r["situation_id"]) == (tenant, situation_id):
                r["identity_enc"] = None
        row = _of(self.t.situations, tenant, situation_id)
        if row is not None:
            row.update(stage="erased", erased_at=now, erasure_reason=reason)

    async def subject_key(self, tenant: str, subject_id: uuid.UUID) -> bytes | None:
        return self.t.subject_keys.get((tenant, subject_id))

    async def add_subject_key(
        self, tenant: str, subject_id: uuid.UUID, wrapped: bytes, master_kid: str
    ) -> None:
        assert (tenant, subject_id) not in self.t.subject_keys, "one key per child"
        self.t.subject_keys[(tenant, subject_id)] = wrapped

    async def latest_with_key(
        self, tenant: str, subject_id: uuid.UUID
    ) -> tuple[dict[str, Any] | None, bytes | None]:
        latest = max(
            (
                s
                for s in self.t.situations.values()
                if (s["pre_id"], s["subject_id"]) == (tenant, subject_id)
            ),
            key=lambda s: s["opened_at"],
            default=None,
        )
        return latest, self.t.subject_keys.get((tenant, subject_id))

    async def receive(self, received: ReceivedReferral) -> int:
        r = received
        if r.new_key is not None:
            await self.add_subject_key(r.tenant, r.subject_id, r.new_key, r.master_kid)
        if r.opens:
            assert r.situation_id not in self.t.situations, "situation id taken"
            self.t.situations[r.situation_id] = {
                "id": r.situation_id,
                "pre_id": r.tenant,
                "subject_id": r.subject_id,
                "stage": "awaiting_review",
                "referent_id": None,
                "opened_at": r.received_at,
                "review_due_on": r.review_due_on,
                "previous_situation_id": r.previous_situation_id,
                "referral_ids": [],
                "facts": [],
                "axes": [],
                "started_on": None,
                "closed_at": None,
                "erased_at": None,
                "erasure_reason": None,
                "plan_version": 0,
                "version": 1,
            }
        situation = _of(self.t.situations, r.tenant, r.situation_id)
        assert situation is not None, "a referral joins a situation the PRE does not hold"
        if r.reopens:
            situation.update(stage="awaiting_review", review_due_on=r.review_due_on)
        if r.opens or r.reopens:
            self.t.deadlines.append(
                {
                    "id": uuid.uuid4(),
                    "pre_id": r.tenant,
                    "situation_id": r.situation_id,
                    "kind": DeadlineKind.REVIEW.value,
                    "handover_id": None,
                    "due_on": r.review_due_on,
                    "resolved": False,
                }
            )
        await self.attach_referral(
            referral_id=r.referral_id,
            situation_id=r.situation_id,
            tenant=r.tenant,
            institution_id=r.institution_id,
            facts=r.facts,
            identity_enc=r.identity_enc,
            received_at=r.received_at,
            interpreter_needed=r.interpreter_needed,
        )
        return 1 if r.opens else await self.bump_version(r.tenant, r.situation_id)

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
        assert referral_id not in self.t.referrals, "referral attached twice"
        self.t.referrals[referral_id] = {
            "id": referral_id,
            "pre_id": tenant,
            "situation_id": situation_id,
            "institution_id": institution_id,
            "facts": facts,
            "identity_enc": identity_enc,
            "received_at": received_at,
            "interpreter_needed": interpreter_needed,
            "withdrawn_at": None,
        }
        situation = self.t.situations[situation_id]
        situation["referral_ids"] = [*situation.get("referral_ids", []), referral_id]
        situation["facts"] = [*situation.get("facts", []), facts]

    async def claim_sealed_referrals(self, limit: int) -> Sequence[dict[str, Any]]:
        raise NotImplementedError("the JWE backfill is tested on PostgreSQL")

    async def set_identity(
        self, tenant: str, referral_id: uuid.UUID, identity_enc: bytes, interpreter_needed: bool
    ) -> None:
        raise NotImplementedError("the JWE backfill is tested on PostgreSQL")

    async def claim_unflagged_referrals(self, limit: int) -> Sequence[dict[str, Any]]:
        raise NotImplementedError("the interpreter backfill is tested on PostgreSQL")

    async def set_interpreter_needed(
        self, tenant: str, referral_id: uuid.UUID, needed: bool
    ) -> None:
        raise NotImplementedError("the interpreter backfill is tested on PostgreSQL")


class FakeReferents:
    def __init__(self, t: Tables) -> None:
        self.t = t

    async def by_sub(self, tenant: str, user_sub: str) -> dict[str, Any] | None:
        return next(
            (
                r
                for r in self.t.referents.values()
                if (r["pre_id"], r["user_sub"]) == (tenant, user_sub)
            ),
            None,
        )

    async def get(self, tenant: str, referent_id: uuid.UUID) -> dict[str, Any] | None:
        return _of(self.t.referents, tenant, referent_id)

    async def save(self, tenant: str, values: dict[str, Any]) -> int | None:
        earlier = self.t.referents.get(values["id"])
        taken = any(
            r["user_sub"] == values["user_sub"] and r["id"] != values["id"]
            for r in self.t.referents.values()
            if r["pre_id"] == tenant
        )
        if taken or (earlier is not None and earlier["pre_id"] != tenant):
            return None
        version = (earlier["version"] if earlier else 0) + 1
        self.t.referents[values["id"]] = {**values, "pre_id": tenant, "version": version}
        return version

    async def lock(self, tenant: str, referent_id: uuid.UUID) -> None:
        pass  # one unit at a time in memory

    async def caseload(self, tenant: str, referent_id: uuid.UUID) -> int:
        return sum(
            1
            for s in self.t.situations.values()
            if (s["pre_id"], s["referent_id"], s["stage"]) == (tenant, referent_id, "in_parcours")
        )

    async def limits(self, tenant: str) -> dict[str, int | None]:
        return self.t.limits.get(tenant, {"caseload_limit": None, "max_duration_months": None})

    async def end_assignment(self, tenant: str, situation_id: uuid.UUID, now: datetime) -> None:
        for a in self.t.assignments:
            if (a["pre_id"], a["situation_id"], a["ended_at"]) == (tenant, situation_id, None):
                a["ended_at"] = now

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
        self.t.assignments.append(
            {
                "pre_id": tenant,
                "situation_id": situation_id,
                "referent_id": referent_id,
                "assigned_at": assigned_at,
                "assigned_by": assigned_by,
                "over_limit": over_limit,
                "override_reason_enc": override_reason_enc,
                "ended_at": None,
            }
        )


class FakeReviews:
    def __init__(self, t: Tables) -> None:
        self.t = t

    async def add_meeting(
        self,
        meeting_id: uuid.UUID,
        tenant: str,
        meets_on: date,
        attendees: list[dict[str, Any]],
        created_by: str,
        now: datetime,
    ) -> None:
        self.t.meetings[meeting_id] = {
            "id": meeting_id,
            "pre_id": tenant,
            "meets_on": meets_on,
            "attendees": attendees,
            "created_by": created_by,
            "created_at": now,
        }

    async def meeting(
        self, tenant: str, meeting_id: uuid.UUID, *, lock: bool = False
    ) -> dict[str, Any] | None:
        return _of(self.t.meetings, tenant, meeting_id)

    async def set_attendees(
        self, tenant: str, meeting_id: uuid.UUID, attendees: list[dict[str, Any]]
    ) -> None:
        row = _of(self.t.meetings, tenant, meeting_id)
        if row is not None:
            row["attendees"] = attendees

    async def agenda_length(self, tenant: str, meeting_id: uuid.UUID) -> int:
        return sum(1 for m, _ in self.t.agenda if m == meeting_id)

    async def add_to_agenda(
        self, meeting_id: uuid.UUID, situation_id: uuid.UUID, tenant: str, position: int
    ) -> None:
        assert _of(self.t.meetings, tenant, meeting_id) is not None
        self.t.agenda.setdefault((meeting_id, situation_id), position)

    async def on_agenda(self, tenant: str, meeting_id: uuid.UUID, situation_id: uuid.UUID) -> bool:
        return (
            _of(self.t.meetings, tenant, meeting_id) is not None
            and (meeting_id, situation_id) in self.t.agenda
        )

    async def add_decision(self, tenant: str, values: dict[str, Any]) -> None:
        self.t.decisions[values["id"]] = {**values, "pre_id": tenant}


class FakePlans:
    def __init__(self, t: Tables) -> None:
        self.t = t

    def _of_situation(
        self, rows: Rows, tenant: str, situation_id: uuid.UUID
    ) -> list[dict[str, Any]]:
        return sorted(
            (
                r
                for r in rows.values()
                if (r["pre_id"], r["situation_id"]) == (tenant, situation_id)
            ),
            key=lambda r: r["created_at"],
        )

    def _handovers_of(self, action_id: uuid.UUID) -> list[dict[str, Any]]:
        return [h for h in self.t.handovers.values() if h.get("action_id") == action_id]

    async def load(self, tenant: str, situation: Any, opened_on: date) -> Plan:
        objectives = self._of_situation(self.t.objectives, tenant, situation["id"])
        actions = [
            {
                **a,
                "with_partner": any(
                    h["status"] not in ("declined", "cancelled")
                    for h in self._handovers_of(a["id"])
                ),
            }
            for a in self._of_situation(self.t.actions, tenant, situation["id"])
        ]
        return Plan(
            situation_id=situation["id"],
            subject_id=situation["subject_id"],
            stage=Stage(situation["stage"]),
            opened_on=opened_on,
            version=situation["plan_version"],
            objectives={r["id"]: Objective.of(r) for r in objectives},
            actions={r["id"]: Action.of(r) for r in actions},
        )

    async def set_version(self, tenant: str, situation_id: uuid.UUID, version: int) -> None:
        row = _of(self.t.situations, tenant, situation_id)
        if row is not None:
            row["plan_version"] = version

    async def add_objective(
        self,
        tenant: str,
        situation_id: uuid.UUID,
        objective: Objective,
        title_enc: bytes,
        now: datetime,
    ) -> None:
        self.t.objectives[objective.id] = {
            "id": objective.id,
            "situation_id": situation_id,
            "pre_id": tenant,
            "axis": objective.axis.value,
            "status": objective.status.value,
            "title": None,
            "title_enc": title_enc,
            "target_on": objective.target_on,
            "created_at": now,
            "updated_at": now,
        }

    async def add_action(
        self, tenant: str, situation_id: uuid.UUID, action: Action, title_enc: bytes, now: datetime
    ) -> None:
        self.t.actions[action.id] = {
            "id": action.id,
            "objective_id": action.objective_id,
            "situation_id": situation_id,
            "pre_id": tenant,
            "axis": action.axis.value,
            "status": action.status.value,
            "title": None,
            "title_enc": title_enc,
            "starts_on": action.starts_on,
            "ends_on": action.ends_on,
            "created_at": now,
            "updated_at": now,
        }

    async def update_item(
        self,
        tenant: str,
        table: str,
        item_id: uuid.UUID,
        situation_id: uuid.UUID,
        changes: dict[str, Any],
        now: datetime,
    ) -> bool:
        rows = self.t.objectives if table == "plan_objectives" else self.t.actions
        row = _of(rows, tenant, item_id)
        if row is None or row["situation_id"] != situation_id:
            return False
        allowed = {"title", "title_enc", "status", "target_on", "starts_on", "ends_on"}
        row.update({k: v for k, v in changes.items() if k in allowed}, updated_at=now)
        return True

    async def rows(
        self, tenant: str, situation_id: uuid.UUID
    ) -> tuple[Sequence[dict[str, Any]], Sequence[dict[str, Any]]]:
        actions = []
        for a in self._of_situation(self.t.actions, tenant, situation_id):
            latest = max(self._handovers_of(a["id"]), key=lambda h: h["requested_at"], default=None)
            actions.append({**a, "handover_id": latest["id"] if latest else None})
        return self._of_situation(self.t.objectives, tenant, situation_id), actions

    async def action(
        self, tenant: str, situation_id: uuid.UUID, action_id: uuid.UUID
    ) -> dict[str, Any] | None:
        row = _of(self.t.actions, tenant, action_id)
        return row if row is not None and row["situation_id"] == situation_id else None


class FakeFamily:
    def __init__(self, t: Tables) -> None:
        self.t = t

    async def preferences(
        self, tenant: str, situation_id: uuid.UUID, guardian_index: int
    ) -> dict[str, Any] | None:
        row = self.t.preferences.get((situation_id, guardian_index))
        return row if row is not None and row["pre_id"] == tenant else None

    async def add_notice(self, values: dict[str, Any]) -> bool:
        cause = (values["situation_id"], values["guardian_index"], values["kind"])
        if any(
            (n["situation_id"], n["guardian_index"], n["kind"]) == cause
            and n["dedupe_key"] == values["dedupe_key"]
            for n in self.t.notices
        ):
            return False
        self.t.notices.append(dict(values))
        return True

    async def erase_texts(self, tenant: str, situation_id: uuid.UUID, now: datetime) -> None:
        self.t.notices = [n for n in self.t.notices if n["situation_id"] != situation_id]


class FakeParked:
    """The parked messages an erasure purges: the ids it was asked about."""

    def __init__(self) -> None:
        self.purged: list[str] = []

    async def purge_parked_about(self, ids: Collection[str]) -> int:
        self.purged.extend(ids)
        return 0


class FakeConsents:
    def __init__(self, t: Tables) -> None:
        self.t = t

    async def active(self, tenant: str, situation_id: uuid.UUID) -> dict[str, Any] | None:
        return next(
            (
                c
                for c in self.t.consents.values()
                if (c["pre_id"], c["situation_id"], c["status"]) == (tenant, situation_id, "active")
            ),
            None,
        )

    async def get(
        self, tenant: str, situation_id: uuid.UUID, consent_id: uuid.UUID
    ) -> dict[str, Any] | None:
        row = _of(self.t.consents, tenant, consent_id)
        return row if row is not None and row["situation_id"] == situation_id else None

    async def ledger(self, tenant: str, situation_id: uuid.UUID) -> Sequence[dict[str, Any]]:
        return sorted(
            (
                c
                for c in self.t.consents.values()
                if (c["pre_id"], c["situation_id"]) == (tenant, situation_id)
            ),
            key=lambda c: c["given_at"],
        )

    async def add(self, tenant: str, values: dict[str, Any]) -> None:
        self.t.consents[values["id"]] = {
            "ended_at": None,
            "withdrawn_by": None,
            **values,
            "pre_id": tenant,
        }

    async def end(
        self,
        tenant: str,
        consent_id: uuid.UUID,
        status: str,
        now: datetime,
        withdrawn_by: str | None,
    ) -> None:
        row = _of(self.t.consents, tenant, consent_id)
        if row is not None:
            row.update(status=status, ended_at=now, withdrawn_by=withdrawn_by)

    async def claim_expired(self, today: date, limit: int) -> Sequence[dict[str, Any]]:
        due = sorted(
            (
                c
                for c in self.t.consents.values()
                if c["status"] == "active"
                and c["valid_until"] is not None
                and c["valid_until"] < today
            ),
            key=lambda c: c["valid_until"],
        )[:limit]
        return [
            {**c, "subject_id": self.t.situations[c["situation_id"]]["subject_id"]} for c in due
        ]


class FakeHandovers:
    def __init__(self, t: Tables) -> None:
        self.t = t

    def _joined(self, row: dict[str, Any]) -> dict[str, Any]:
        return {**row, "subject_id": self.t.situations[row["situation_id"]]["subject_id"]}

    async def get(
        self, tenant: str, handover_id: uuid.UUID, *, lock: bool = False
    ) -> dict[str, Any] | None:
        row = _of(self.t.handovers, tenant, handover_id)
        return None if row is None else self._joined(row)

    async def open(self, tenant: str, situation_id: uuid.UUID) -> list[Handover]:
        return [
            Handover.of(self._joined(h))
            for h in self.t.handovers.values()
            if (h["pre_id"], h["situation_id"]) == (tenant, situation_id) and h["status"] in OPEN
        ]

    async def cancel(self, tenant: str, handover_id: uuid.UUID, reason: str, now: datetime) -> int:
        row = _of(self.t.handovers, tenant, handover_id)
        assert row is not None, "cancel of a handover the PRE does not hold"
        row.update(status="cancelled", cancel_reason=reason, ended_at=now)
        row["version"] += 1
        return int(row["version"])

    async def open_for(self, tenant: str, action_id: uuid.UUID, partner_id: str) -> bool:
        return any(
            (h["pre_id"], h["action_id"], h["partner_id"]) == (tenant, action_id, partner_id)
            and h["status"] in OPEN
            for h in self.t.handovers.values()
        )

    async def add(self, tenant: str, values: dict[str, Any]) -> None:
        assert values["id"] not in self.t.handovers, "handover id taken"
        self.t.handovers[values["id"]] = {**values, "pre_id": tenant}

    async def update(self, tenant: str, handover_id: uuid.UUID, changes: dict[str, Any]) -> int:
        row = _of(self.t.handovers, tenant, handover_id)
        assert row is not None, "update of a handover the PRE does not hold"
        row.update(changes)
        row["version"] += 1
        return int(row["version"])

    async def record_disclosure(self, **values: Any) -> None:
        self.t.disclosures.append(values)


class FakeDeadlines:
    def __init__(self, t: Tables) -> None:
        self.t = t

    async def add(
        self,
        tenant: str,
        situation_id: uuid.UUID,
        kind: str,
        due_on: date,
        *,
        handover_id: uuid.UUID | None,
    ) -> None:
        self.t.deadlines.append(
            {
                "id": uuid.uuid4(),
                "pre_id": tenant,
                "situation_id": situation_id,
                "kind": kind,
                "handover_id": handover_id,
                "due_on": due_on,
                "resolved": False,
            }
        )

    async def resolve(
        self,
        tenant: str,
        situation_id: uuid.UUID,
        kind: str,
        handover_id: uuid.UUID | None = None,
    ) -> None:
        for d in self.t.deadlines:
            if (d["pre_id"], d["situation_id"], d["kind"]) == (tenant, situation_id, kind) and (
                handover_id is None or d["handover_id"] == handover_id
            ):
                d["resolved"] = True

    def _due(self, d: dict[str, Any], today: date) -> bool:
        return d["due_on"] < today or (d["kind"] == "followup" and d["due_on"] <= today)

    async def claim_due(self, today: date, limit: int) -> Sequence[dict[str, Any]]:
        due = sorted(
            (
                d
                for d in self.t.deadlines
                if not d["resolved"] and d.get("fired_at") is None and self._due(d, today)
            ),
            key=lambda d: d["due_on"],
        )[:limit]
        rows = []
        for d in due:
            situation = self.t.situations[d["situation_id"]]
            handover = self.t.handovers.get(d["handover_id"]) if d["handover_id"] else None
            rows.append(
                {
                    **d,
                    "subject_id": situation["subject_id"],
                    "referent_id": situation["referent_id"],
                    "closed_at": situation.get("closed_at"),
                    "partner_id": handover["partner_id"] if handover else None,
                }
            )
        return rows

    async def count_open(self, today: date) -> Sequence[dict[str, Any]]:
        counts: dict[str, dict[str, Any]] = {}
        for d in self.t.deadlines:
            if d["resolved"]:
                continue
            row = counts.setdefault(d["kind"], {"kind": d["kind"], "overdue": 0, "unfired": 0})
            if d.get("fired_at") is not None:
                row["overdue"] += 1
            elif self._due(d, today):
                row["unfired"] += 1
        return list(counts.values())

    async def mark_fired(self, tenant: str, deadline_id: uuid.UUID, now: datetime) -> None:
        for d in self.t.deadlines:
            if (d["pre_id"], d["id"]) == (tenant, deadline_id):
                d["fired_at"] = now


class FakeDirectory:
    def __init__(self, t: Tables) -> None:
        self.t = t

    async def all(self, tenant: str) -> Sequence[dict[str, Any]]:
        return sorted(self.t.directory.get(tenant, []), key=lambda p: p["name"])

    async def entry(self, tenant: str, partner_id: str) -> dict[str, Any] | None:
        return next((p for p in self.t.directory.get(tenant, []) if p["id"] == partner_id), None)


class FakeUnitOfWork:
    """``service.ports.ParcoursWork`` in memory; ``cause`` as for a consumed message."""

    def __init__(self, tables: Tables, cause: CloudEvent[Any] | None = None) -> None:
        self.t = tables
        self.situations = FakeSituations(tables)
        self.referents = FakeReferents(tables)
        self.consents = FakeConsents(tables)
        self.handovers = FakeHandovers(tables)
        self.deadlines = FakeDeadlines(tables)
        self.reviews = FakeReviews(tables)
        self.plans = FakePlans(tables)
        self.family = FakeFamily(tables)
        self.directory = FakeDirectory(tables)
        #: No SQL in memory: a use case still on ``conn`` is tested on PostgreSQL.
        self.conn: Any = None
        # Events are held, never written: there is no outbox in memory.
        events = UnitOfWork(None, source=SOURCE, cause=cause, held=[])  # type: ignore[arg-type]
        self.emit = events.emit
        self.emitted = events.emitted

    async def record_access(self, *accesses: Access) -> None:
        self.t.accesses.extend(accesses)

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
        slot = (scope.tenant, scope.caller, scope.route, key)
        earlier = self.t.keys.get(slot)
        if earlier is None:
            self.t.keys[slot] = (digest, result_id)
            return None
        if earlier[0] != digest and earlier[0] not in also_accepted:
            raise reused
        return earlier[1]


Factory = Callable[[], AbstractAsyncContextManager[FakeUnitOfWork]]


@dataclass
class FakeDatabase:
    """``service.ports.Units`` in memory: units over shared tables (what one commits, the
    next one sees). A scoped unit sees every PRE's rows through the stores, which filter
    by the PRE each call names, as the SQL does."""

    tables: Tables = field(default_factory=Tables)
    #: The PREs units were scoped to, in order (``None`` for a sweep).
    opened: list[str | None] = field(default_factory=list)

    def scoped(self, tenant: str) -> Factory:
        return lambda: self._open(tenant)

    def sweep(self) -> Factory:
        return lambda: self._open(None)

    def within(self, opened: UnitOfWork) -> Factory:
        return lambda: self._open(opened.cause.tenant if opened.cause else None, opened.cause)

    @asynccontextmanager
    async def _open(
        self, tenant: str | None, cause: CloudEvent[Any] | None = None
    ) -> AsyncIterator[FakeUnitOfWork]:
        self.opened.append(tenant)
        working = copy.deepcopy(self.tables)
        uow = FakeUnitOfWork(working, cause)
        yield uow
        # Reached only without an exception: commit.
        working.outbox.extend(uow.emitted)
        self.tables = working

    @property
    def outbox(self) -> list[CloudEvent[Any]]:
        return self.tables.outbox
