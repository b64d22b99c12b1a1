"""Use case: fire the deadlines that went by, once each, from any replica."""

from __future__ import annotations

from datetime import UTC, date, datetime

from prometheus_client import Counter, Gauge

from relais_contracts.base import Event
from relais_contracts.types import DeadlineKind
from relais_contracts.v1.parcours import DeadlineOverdue, FollowupDue
from relais_parcours.context import Parcours
from relais_parcours.service.dates import pre_day
from relais_parcours.service.ports import Uows

BATCH = 100

#: On GET /metrics for the alert rules (deploy/monitoring): every replica samples the same
#: database-wide figures, so the rules take the max over replicas.
FIRED = Counter("relais_deadlines_fired_total", "Deadlines fired, by kind.", ["kind"])
OVERDUE = Gauge(
    "relais_deadlines_overdue", "Deadlines fired (past due) and not yet resolved.", ["kind"]
)
UNFIRED = Gauge(
    "relais_deadlines_unfired",
    "Deadlines past due that the scheduler has not fired yet (should stay at 0).",
    ["kind"],
)


async def fire_due_deadlines(sweeps: Uows, ctx: Parcours, *, now: datetime | None = None) -> int:
    """Claim due rows (SKIP LOCKED: replicas share the work), emit, mark fired; one unit
    across PREs (``ctx.units.sweep()``)."""
    now = now or datetime.now(UTC)
    today = pre_day(ctx, now)
    async with sweeps() as uow:
        rows = await uow.deadlines.claim_due(today, BATCH)
        for row in rows:
            event: Event
            if row["kind"] == "followup":
                event = FollowupDue(
                    situation_id=row["situation_id"],
                    subject_id=row["subject_id"],
                    referent_id=row["referent_id"],
                    closed_on=_local_day(row["closed_at"], ctx),
                    due_on=row["due_on"],
                )
            else:
                about_handover = row["kind"] == DeadlineKind.HANDOVER_RESPONSE.value
                event = DeadlineOverdue(
                    deadline_id=row["id"],
                    deadline_kind=DeadlineKind(row["kind"]),
                    situation_id=row["situation_id"],
                    subject_id=row["subject_id"],
                    handover_id=row["handover_id"] if about_handover else None,
                    partner_id=row["partner_id"] if about_handover else None,
                    referent_id=row["referent_id"],
                    due_on=row["due_on"],
                    days_overdue=(today - row["due_on"]).days,
                    detected_at=now,
                )
            version = await uow.situations.bump_version(row["pre_id"], row["situation_id"])
            await uow.emit(
                event,
                subject=str(row["situation_id"]),
                tenant=row["pre_id"],
                sequence=version,
            )
            await uow.deadlines.mark_fired(row["pre_id"], row["id"], now)
    for row in rows:  # counted once the transaction committed
        FIRED.labels(row["kind"]).inc()
    return len(rows)


async def sample_deadlines(sweeps: Uows, ctx: Parcours, *, now: datetime | None = None) -> None:
    """Set the overdue and not-yet-fired gauges from the database (``ctx.units.sweep()``)."""
    now = now or datetime.now(UTC)
    today = pre_day(ctx, now)
    async with sweeps() as uow:
        rows = {r["kind"]: r for r in await uow.deadlines.count_open(today)}
    for kind in DeadlineKind:
        row = rows.get(kind.value)
        OVERDUE.labels(kind.value).set(row["overdue"] if row else 0)
        UNFIRED.labels(kind.value).set(row["unfired"] if row else 0)


def _local_day(moment: datetime | None, ctx: Parcours) -> date:
    assert moment is not None, "a follow-up deadline exists only for a closed situation"
    return pre_day(ctx, moment)
