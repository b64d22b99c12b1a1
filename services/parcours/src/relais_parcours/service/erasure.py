"""Use case: erase every record about a child in parcours (crypto-erasure of the identity)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import aio_pika

from relais_contracts.types import ErasureReason, HandoverCancelReason
from relais_contracts.v1.parcours import SubjectErased
from relais_parcours.domain.situation import Stage
from relais_parcours.service import access_log
from relais_parcours.service.handovers import cancel_handovers
from relais_parcours.service.ports import ParkedMessages, Uows
from relais_runtime.auth import Principal
from relais_runtime.errors import DomainError
from relais_runtime.logging import get_logger

log = get_logger(__name__)


async def erase(
    uows: Uows,
    parked: ParkedMessages,
    who: Principal,
    situation_id: uuid.UUID,
    reason: ErasureReason,
) -> None:
    """Delete the child's key (every stored identity becomes unreadable, backups included),
    clear what people wrote about the child, and tell the other services."""
    now = datetime.now(UTC)
    async with uows() as uow:
        situation = await uow.situations.get(who.tenant, situation_id, lock=True)
        if situation is None:
            raise DomainError("situation_not_found", "Situation introuvable.", 404)
        if situation["stage"] == Stage.ERASED:
            raise DomainError("already_erased", "Cette situation a déjà été effacée.")
        # The key is the child's, so are the erasure and its request: every file of the
        # child goes, the earlier ones a new referral was linked to included (ADR 0006).
        erased: list[uuid.UUID] = []
        referral_ids: list[uuid.UUID] = []
        sequence: int | None = None
        for row in await uow.situations.of_subject(who.tenant, situation["subject_id"]):
            if row["stage"] == Stage.ERASED:
                continue
            one = await uow.situations.get(who.tenant, row["id"])
            assert one is not None
            await cancel_handovers(
                uow,
                await uow.handovers.open(who.tenant, row["id"]),
                HandoverCancelReason.OTHER,
                now,
                who=who,
                purpose=access_log.ERASURE,
            )
            await uow.situations.erase_subject(
                who.tenant, situation["subject_id"], row["id"], now, reason.value
            )
            await uow.family.erase_texts(who.tenant, row["id"], now)
            version = await uow.situations.bump_version(who.tenant, row["id"])
            erased.append(row["id"])
            await uow.record_access(access_log.erased(who, row["id"], reason.value))
            referral_ids.extend(one["referral_ids"])
            if row["id"] == situation_id:
                sequence = version
        assert sequence is not None  # the situation asked for is one of the child's
        await uow.emit(
            SubjectErased(
                subject_id=situation["subject_id"],
                situation_ids=erased,
                referral_ids=referral_ids,
                reason=reason,
                erased_at=now,
            ),
            subject=str(situation["subject_id"]),
            tenant=who.tenant,
            sequence=sequence,
        )
    # After the commit: a parked referral.submitted still carries the sealed identity.
    # Best effort (the erasure stands); the runbook's `relais dlq purge-child` is the fallback.
    ids = [str(situation["subject_id"]), *map(str, erased), *map(str, referral_ids)]
    try:
        dropped = await parked.purge_parked_about(ids)
    except (OSError, aio_pika.exceptions.AMQPException) as exc:
        log.warning("erasure_parked_purge_failed", error=type(exc).__name__)
    else:
        if dropped:
            log.info("erasure_parked_messages_dropped", count=dropped)
