"""Erasure: nothing about an erased child stays in notifications."""

from __future__ import annotations

import uuid

import pytest

from relais_contracts.envelope import new_event
from relais_contracts.v1.parcours import DeadlineOverdue, SituationOpened, SubjectErased
from relais_contracts.v1.referral import ReferralStatusChanged

from .conftest import ServiceFactory, eventually, publish_event
from .samples import example

pytestmark = pytest.mark.integration


async def test_an_erased_child_leaves_no_feed_item_delivery_or_reminder(
    start_service: ServiceFactory,
) -> None:
    service = await start_service()
    await service.publish(example(SituationOpened))
    await service.publish(example(DeadlineOverdue, 0))
    await service.publish(example(ReferralStatusChanged, 0))
    kept = example(SituationOpened, situation_id=str(uuid.uuid4()))
    await service.publish(kept)

    async def four() -> bool:
        rows = await service.fetch("SELECT count(DISTINCT event_id) FROM feed_items")
        return bool(rows[0][0] == 4)

    await eventually(four)
    erased = example(SubjectErased)
    await publish_event(
        service.amqp_url,
        new_event(erased, source="/relais/parcours", tenant="pre-76540", sequence=1),
    )

    async def gone() -> bool:
        rows = await service.fetch("SELECT link FROM feed_items")
        return len(rows) == 1

    await eventually(gone)
    [row] = await service.fetch("SELECT link FROM feed_items")
    assert str(kept.situation_id) in row["link"]
    assert await service.fetch("SELECT 1 FROM escalations") == []
