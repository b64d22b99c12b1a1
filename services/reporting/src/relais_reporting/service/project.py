"""Use case: record an event in the anonymous log and update the projections."""

from __future__ import annotations

from typing import Any

from relais_contracts.v1.referral import ReferralSubmitted
from relais_reporting.adapters import store
from relais_reporting.domain.periods import school_year_of
from relais_runtime.consumer import Tx

#: Never kept: reporting cannot read it and must not store it.
NOT_KEPT = frozenset({"sealed"})


def anonymous_data(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in NOT_KEPT}


async def record_event(tx: Tx) -> None:
    event = tx.incoming
    data = event.data if isinstance(event.data, dict) else event.data.model_dump(mode="json")
    await store.log_event(tx.conn, event, anonymous_data(data))
    if event.type == ReferralSubmitted.ce_type():
        submitted = ReferralSubmitted.model_validate(data)
        await store.count_referral(
            tx.conn,
            event.tenant,
            school_year_of(submitted.submitted_at),
            submitted.facts.source_category.value,
        )
