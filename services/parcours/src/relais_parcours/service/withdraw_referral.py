"""Use case: a sender withdrew a referral before the review."""

from __future__ import annotations

from relais_contracts.types import DeadlineKind
from relais_contracts.v1.referral import ReferralWithdrawn
from relais_parcours.domain.situation import Stage
from relais_parcours.service.ports import Uows


async def referral_withdrawn(uows: Uows, tenant: str, withdrawn: ReferralWithdrawn) -> None:
    """Drop that referral's identity; a situation left with no live referral is withdrawn.
    Run for the consumed message (``ctx.units.within(tx)``): its inbox claim commits with it."""
    async with uows() as uow:
        situation_id = await uow.situations.withdraw_referral(
            tenant, withdrawn.referral_id, withdrawn.withdrawn_at
        )
        if situation_id is None:
            return  # unknown here, or already withdrawn
        situation = await uow.situations.get(tenant, situation_id, lock=True)
        if situation is None or situation["stage"] != Stage.AWAITING_REVIEW:
            return  # past the review, the situation lives on (referral ignores late withdrawals)
        if await uow.situations.live_referrals(tenant, situation_id) == 0:
            await uow.situations.set_stage(tenant, situation_id, Stage.WITHDRAWN)
            await uow.deadlines.resolve(tenant, situation_id, DeadlineKind.REVIEW.value)
