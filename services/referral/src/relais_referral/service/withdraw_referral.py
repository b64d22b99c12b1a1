"""Use case: the sender withdraws a referral the PRE has not taken up yet."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from relais_contracts.types import ReferralStatus
from relais_contracts.v1.referral import ReferralStatusChanged, ReferralWithdrawn
from relais_referral.domain.timeline import StatusChange, check_withdrawable
from relais_referral.service.ports import StoredReferral, Uows
from relais_referral.service.read_referrals import NOT_FOUND, read_own
from relais_runtime.auth import Principal


async def withdraw_referral(
    uows: Uows,
    *,
    tenant: str,
    institution_id: str,
    referral_id: uuid.UUID,
    reader: Principal,
    now: datetime | None = None,
) -> StoredReferral:
    """Withdraw it; the referral as committed (read in the same unit of work, the answer
    shows the fiche: the read is in the access log, or nothing is withdrawn)."""
    now = now or datetime.now(UTC)
    async with uows() as uow:
        row = await uow.referrals.lock(tenant, referral_id)
        if row is None or row["institution_id"] != institution_id:
            raise NOT_FOUND
        current = ReferralStatus(row["status"])
        check_withdrawable(current)
        version = row["version"] + 1
        await uow.referrals.append_status(
            referral_id, version, StatusChange(ReferralStatus.WITHDRAWN, now)
        )
        withdrawn = await uow.emit(
            ReferralWithdrawn(
                referral_id=referral_id,
                subject_id=row["subject_id"],
                institution_id=institution_id,
                withdrawn_at=now,
            ),
            subject=str(referral_id),
            tenant=tenant,
            sequence=version,
        )
        await uow.emit(
            ReferralStatusChanged(
                referral_id=referral_id,
                institution_id=institution_id,
                status=ReferralStatus.WITHDRAWN,
                previous_status=current,
                changed_at=now,
            ),
            subject=str(referral_id),
            tenant=tenant,
            sequence=version,
            caused_by=withdrawn,
        )
        return await read_own(
            uow,
            tenant=tenant,
            institution_id=institution_id,
            referral_id=referral_id,
            reader=reader,
        )
