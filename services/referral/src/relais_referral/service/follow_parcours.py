"""Use case: move the sender's timeline as the PRE decides (parcours events)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

import structlog

from relais_contracts.types import ReferralStatus
from relais_contracts.v1.referral import ReferralStatusChanged
from relais_referral.domain.timeline import StatusChange, can_move
from relais_referral.service.ports import ReferralWork, Uows

log = structlog.get_logger("relais.referral")


async def record_status(
    uows: Uows, tenant: str, referral_ids: Iterable[uuid.UUID], change: StatusChange
) -> int:
    """Apply ``change`` to each referral that may take it; return how many moved.

    A referral already past that status (a re-ordered or repeated event) is left alone.
    """
    async with uows() as uow:
        return await _record_status(uow, tenant, referral_ids, change)


async def _record_status(
    uow: ReferralWork, tenant: str, referral_ids: Iterable[uuid.UUID], change: StatusChange
) -> int:
    moved = 0
    for referral_id in referral_ids:
        row = await uow.referrals.lock(tenant, referral_id)
        if row is None:
            log.warning("status_for_unknown_referral", referral_id=str(referral_id))
            continue
        current = ReferralStatus(row["status"])
        if not can_move(current, change.status):
            continue
        version = row["version"] + 1
        await uow.referrals.append_status(referral_id, version, change)
        # Caused by the message being handled (the unit of work's cause).
        await uow.emit(
            ReferralStatusChanged(
                referral_id=referral_id,
                institution_id=row["institution_id"],
                status=change.status,
                previous_status=current,
                reason=change.reason,
                redirected_to=change.redirected_to,
                changed_at=change.at,
            ),
            subject=str(referral_id),
            tenant=tenant,
            sequence=version,
        )
        moved += 1
    return moved


#: The reason code a sender reads when its referral ends with the child's erasure.
SUBJECT_ERASED_REASON = "subject_erased"


async def erase_subject(
    uows: Uows,
    tenant: str,
    subject_id: uuid.UUID,
    referral_ids: Iterable[uuid.UUID],
    at: datetime,
) -> None:
    """Forget the child (its key, fiches and blind index); the timeline stays.

    A listed referral the review never decided (``received``, ``under_review``) will never
    be: its sender is told it was not kept (``declined``, reason ``subject_erased``). That
    is also how the sender of a referral still on its way at the erasure hears of it:
    parcours drops it and erases it by a ``subject.erased`` naming it (ADR 0006).
    """
    async with uows() as uow:
        await uow.referrals.erase_child(tenant, subject_id)
        await _record_status(
            uow,
            tenant,
            referral_ids,
            StatusChange(ReferralStatus.DECLINED, at, reason=SUBJECT_ERASED_REASON),
        )
