"""Use case: the sender withdraws a referral the PRE has not taken up yet."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from relais_contracts.types import ReferralStatus
from relais_contracts.v1.referral import ReferralStatusChanged, ReferralWithdrawn
from relais_referral.adapters import repository
from relais_referral.domain.timeline import StatusChange, can_move
from relais_referral.service.emitter import Emitter
from relais_referral.service.read_referrals import NOT_FOUND
from relais_runtime.errors import DomainError

_TOO_LATE = {
    ReferralStatus.TAKEN_UP: "Le PRE a déjà pris en charge cet enfant : l'orientation ne peut "
    "plus être retirée. Contactez la coordination du PRE.",
    ReferralStatus.WITHDRAWN: "Cette orientation a déjà été retirée.",
}
_ENDED = "Cette orientation est close : elle ne peut plus être retirée."


async def withdraw_referral(
    emit: Emitter,
    *,
    pre_id: str,
    institution_id: str,
    referral_id: uuid.UUID,
    now: datetime | None = None,
) -> None:
    now = now or datetime.now(UTC)
    row = await repository.lock_referral(emit.conn, pre_id, referral_id)
    if row is None or row["institution_id"] != institution_id:
        raise NOT_FOUND
    current = ReferralStatus(row["status"])
    if not can_move(current, ReferralStatus.WITHDRAWN):
        raise DomainError("referral_not_withdrawable", _TOO_LATE.get(current, _ENDED), status=409)
    version = row["version"] + 1
    await repository.append_status(
        emit.conn, referral_id, version, StatusChange(ReferralStatus.WITHDRAWN, now)
    )
    withdrawn = await emit(
        ReferralWithdrawn(
            referral_id=referral_id,
            subject_id=row["subject_id"],
            institution_id=institution_id,
            withdrawn_at=now,
        ),
        subject=str(referral_id),
        tenant=pre_id,
        sequence=version,
    )
    await emit(
        ReferralStatusChanged(
            referral_id=referral_id,
            institution_id=institution_id,
            status=ReferralStatus.WITHDRAWN,
            previous_status=current,
            changed_at=now,
        ),
        subject=str(referral_id),
        tenant=pre_id,
        sequence=version,
        caused_by=withdrawn,
    )
