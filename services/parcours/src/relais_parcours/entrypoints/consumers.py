"""Subscribers of the parcours service."""

from __future__ import annotations

from typing import Any

from relais_contracts.envelope import CloudEvent
from relais_contracts.v1.referral import ReferralSubmitted, ReferralWithdrawn
from relais_parcours.context import Parcours
from relais_parcours.service.open_situation import receive_referral
from relais_parcours.service.withdraw_referral import referral_withdrawn
from relais_runtime.consumer import Tx
from relais_runtime.runtime import ServiceRuntime

REFERRALS_QUEUE = "parcours.referrals"


def register(runtime: ServiceRuntime, ctx: Parcours) -> None:
    consumer = runtime.consumer(REFERRALS_QUEUE)

    @consumer.handles(ReferralSubmitted)
    async def on_referral_submitted(event: CloudEvent[Any], tx: Tx) -> None:
        await receive_referral(ctx.units.within(tx), ctx, tx.incoming.tenant, event.data)

    @consumer.handles(ReferralWithdrawn)
    async def on_referral_withdrawn(event: CloudEvent[Any], tx: Tx) -> None:
        await referral_withdrawn(ctx.units.within(tx), tx.incoming.tenant, event.data)
