"""Use case: a sender withdrew a referral before the review."""

from __future__ import annotations

from relais_contracts.types import DeadlineKind
from relais_contracts.v1.referral import ReferralWithdrawn
from relais_parcours.adapters import deadlines_repo, situations_repo
from relais_parcours.domain.situation import Stage
from relais_runtime.consumer import Tx


async def referral_withdrawn(tx: Tx, withdrawn: ReferralWithdrawn) -> None:
    """Drop that referral's identity; a situation left with no live referral is withdrawn."""
    tenant = tx.incoming.tenant
    situation_id = await situations_repo.withdraw_referral(
        tx.conn, tenant, withdrawn.referral_id, withdrawn.withdrawn_at
    )
    if situation_id is None:
        return  # unknown here, or already withdrawn
    situation = await situations_repo.get_situation(tx.conn, tenant, situation_id, lock=True)
    if situation is None or situation["stage"] != Stage.AWAITING_REVIEW:
        return  # past the review, the situation lives on (referral ignores late withdrawals)
    if await situations_repo.live_referrals(tx.conn, tenant, situation_id) == 0:
        await situations_repo.set_stage(tx.conn, tenant, situation_id, Stage.WITHDRAWN)
        await deadlines_repo.resolve_deadlines(
            tx.conn, tenant, situation_id, DeadlineKind.REVIEW.value
        )
