"""Subscribers: referrals from the AMQP intake, and the parcours facts that move timelines."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from relais_contracts.base import Message
from relais_contracts.envelope import CloudEvent
from relais_contracts.types import ReferralStatus, ReviewDecision, SituationStage
from relais_contracts.v1.parcours import (
    ParcoursClosed,
    ReviewDecided,
    SituationOpened,
    SituationReferralAttached,
    SubjectErased,
)
from relais_contracts.v1.referral import SubmitReferral
from relais_referral.adapters.keys import ReferralKeys
from relais_referral.adapters.unit_of_work import within
from relais_referral.config import ReferralSettings
from relais_referral.domain.timeline import StatusChange
from relais_referral.service.follow_parcours import erase_subject, record_status
from relais_referral.service.intake import IntakeRejected, submit_from_intake
from relais_referral.service.reject_command import sender_of, tell_sender_refused
from relais_runtime.consumer import (
    BatchHandler,
    Handler,
    ParkingNotice,
    PermanentError,
    Tx,
    typed,
)
from relais_runtime.db import Conn
from relais_runtime.errors import DomainError
from relais_runtime.runtime import ServiceRuntime

PARCOURS_EVENTS_QUEUE = "referral.parcours-events"
INTAKE_QUEUE = "referral.intake"

_DECISION_STATUS = {
    ReviewDecision.TAKE_UP: ReferralStatus.TAKEN_UP,
    ReviewDecision.REDIRECT: ReferralStatus.REDIRECTED,
    ReviewDecision.DECLINE: ReferralStatus.DECLINED,
}


def register(runtime: ServiceRuntime, keys: ReferralKeys) -> None:
    register_intake(runtime, keys)
    register_parcours_events(runtime, keys)


def register_intake(runtime: ServiceRuntime, keys: ReferralKeys) -> None:
    intake = runtime.consumer(INTAKE_QUEUE)
    # While the outbox is behind, commands wait in the queue rather than being accepted
    # and delivered late (the HTTP intake answers 503 meanwhile).
    intake.admit = runtime.wait_for_intake

    @intake.handles(SubmitReferral)
    async def on_submit_referral(event: CloudEvent[Any], tx: Tx) -> None:
        # A command that can never succeed is parked with its reason (codes and field
        # names only, never values); the operator or the sender fixes it and replays.
        try:
            await submit_from_intake(
                within(tx, keys), keys, event, sender=sender_of(tx.routing_key)
            )
        except IntakeRejected as exc:
            raise PermanentError(exc.code, ", ".join(exc.fields), fields=exc.fields) from None
        except DomainError as exc:
            raise PermanentError(exc.code) from None

    @intake.on_parked
    async def on_submit_referral_parked(parked: ParkingNotice, conn: Conn) -> None:
        # Whatever made it fail (unreadable, invalid, refused), the sender hears of it.
        await tell_sender_refused(runtime, conn, parked)


def register_parcours_events(runtime: ServiceRuntime, keys: ReferralKeys) -> None:
    runtime.consumer(PARCOURS_EVENTS_QUEUE).handles_batches(parcours_events(runtime, keys))


def parcours_events(runtime: ServiceRuntime, keys: ReferralKeys) -> BatchHandler:
    """The parcours facts delivered together, in one transaction (docs/decisions/0021):
    handled one after the other in delivery order, each as it would be alone."""
    routes: dict[str, tuple[type[Message], Handler]] = {}

    def handles(model: type[Message]) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            routes[model.ce_type()] = (model, handler)
            return handler

        return register

    models: dict[str, type[Message]] = {}  # filled once every handler is registered

    async def on_events(txs: Sequence[Tx]) -> None:
        for tx in txs:
            typed(tx, models)
            await routes[tx.incoming.type][1](tx.incoming, tx)

    @handles(SituationOpened)
    async def on_situation_opened(event: CloudEvent[Any], tx: Tx) -> None:
        data: SituationOpened = event.data
        await record_status(
            within(tx, keys),
            event.tenant,
            data.referral_ids,
            StatusChange(ReferralStatus.UNDER_REVIEW, data.opened_at),
        )

    @handles(ReviewDecided)
    async def on_review_decided(event: CloudEvent[Any], tx: Tx) -> None:
        data: ReviewDecided = event.data
        change = StatusChange(
            _DECISION_STATUS[data.decision],
            data.decided_at,
            reason=data.decline_reason.value if data.decline_reason else None,
            redirected_to=data.redirected_to,
        )
        await record_status(within(tx, keys), event.tenant, data.referral_ids, change)

    @handles(ParcoursClosed)
    async def on_parcours_closed(event: CloudEvent[Any], tx: Tx) -> None:
        data: ParcoursClosed = event.data
        change = StatusChange(ReferralStatus.CLOSED, data.closed_at, reason=data.exit_reason.value)
        await record_status(within(tx, keys), event.tenant, data.referral_ids, change)

    @handles(SituationReferralAttached)
    async def on_situation_referral_attached(event: CloudEvent[Any], tx: Tx) -> None:
        data: SituationReferralAttached = event.data
        # A child already followed: the new sender hears its referral joined the parcours.
        status = (
            ReferralStatus.TAKEN_UP
            if data.stage == SituationStage.IN_PARCOURS
            else ReferralStatus.UNDER_REVIEW
        )
        await record_status(
            within(tx, keys),
            event.tenant,
            [data.referral_id],
            StatusChange(status, data.attached_at),
        )

    @handles(SubjectErased)
    async def on_subject_erased(event: CloudEvent[Any], tx: Tx) -> None:
        data: SubjectErased = event.data
        await erase_subject(
            within(tx, keys), event.tenant, data.subject_id, data.referral_ids, data.erased_at
        )
        # Parked copies here may hold the child's status history (and a parked
        # referral.submit its identity, though that one names no subject yet).
        await runtime.purge_parked_after_erasure(data)

    models.update({ce_type: model for ce_type, (model, _) in routes.items()})
    return on_events


def keys_from(settings: ReferralSettings) -> ReferralKeys:
    return ReferralKeys(settings.keys_dir, settings.effective_secrets_dir)
