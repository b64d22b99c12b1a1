"""Use case: move the sender's timeline as the PRE decides (parcours events)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

import structlog

from relais_contracts.types import ReferralStatus
from relais_contracts.v1.referral import ReferralStatusChanged
from relais_referral.adapters import repository
from relais_referral.domain.timeline import StatusChange, can_move
from relais_runtime.consumer import Tx

log = structlog.get_logger("relais.referral")


async def record_status(tx: Tx, referral_ids: Iterable[uuid.UUID], change: StatusChange) -> int:
    """Apply ``change`` to each referral that may take it; return how many moved.

    A referral already past that status (a re-ordered or repeated event) is left alone.
    """
    moved = 0
    pre_id = tx.incoming.tenant
    for referral_id in referral_ids:
        row = await repository.lock_referral(tx.conn, pre_id, referral_id)
        if row is None:
            log.warning("status_for_unknown_referral", referral_id=str(referral_id))
            continue
        current = ReferralStatus(row["status"])
        if not can_move(current, change.status):
            continue
        version = row["version"] + 1
        await repository.append_status(tx.conn, referral_id, version, change)
        await tx.emit(
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
            sequence=version,
        )
        moved += 1
    return moved


#: The reason code a sender reads when its referral ends with the child's erasure.
SUBJECT_ERASED_REASON = "subject_erased"


async def erase_subject(
    tx: Tx, subject_id: uuid.UUID, referral_ids: Iterable[uuid.UUID], at: datetime
) -> None:
    """Drop the sealed identity of every referral of the child; the timeline stays.

    A listed referral the review never decided (``received``, ``under_review``) will never
    be: its sender is told it was not kept (``declined``, reason ``subject_erased``). That
    is also how the sender of a referral still on its way at the erasure hears of it:
    parcours drops it and erases it by a ``subject.erased`` naming it (ADR 0006).
    """
    await repository.erase_identity(tx.conn, tx.incoming.tenant, subject_id)
    await record_status(
        tx,
        referral_ids,
        StatusChange(ReferralStatus.DECLINED, at, reason=SUBJECT_ERASED_REASON),
    )
