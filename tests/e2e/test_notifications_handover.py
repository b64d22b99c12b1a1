"""A handover reaches the partner's own software: signed webhook and its AMQP queue.

Parcours, referral, notifications and reporting run as processes; the partner's webhook
receiver is a real server on 127.0.0.1 and its queue ``deliver.<org_id>`` is read with its
own AMQP client. What the référent wrote for the partner never travels: only a reference
and a link to the consent-scoped sheet.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import httpx
import pytest

from relais_contracts.topology import delivery_queue
from relais_notifications.testing import WebhookReceiver
from tests.e2e.test_backbone_flow import IDENTIFYING, eventually
from tests.e2e.test_parcours_flow import CMPP, Flow

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

REQUESTED = "fr.relais.handover.requested.v1"


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver() as peer:
        yield peer


async def test_a_partner_hears_of_a_handover_by_webhook_and_on_its_own_queue(
    stack_factory: Any, receiver: WebhookReceiver
) -> None:
    stack = await stack_factory(
        extra_env={
            "NOTIFICATIONS_WEBHOOK_ALLOW_INSECURE": "true",
            "NOTIFICATIONS_DISPATCH_INTERVAL_S": "0.2",
        }
    )
    notifications = stack.url("notifications")
    async with httpx.AsyncClient(timeout=10) as http:
        flow = Flow(stack, http)
        await flow.set_up()
        hook = await http.post(
            f"{notifications}/v1/webhooks",
            json={"url": receiver.url, "event_types": [REQUESTED]},
            headers=flow.partner,
        )
        assert hook.status_code == 201, hook.text
        queue = await http.post(
            f"{notifications}/v1/subscriptions", json={"channel": "amqp"}, headers=flow.partner
        )
        assert queue.status_code == 201, queue.text

        _, situation_id = await flow.take_up()
        _, action_id = await flow.consent_and_action(situation_id)
        handover_id = await flow.hand_over(situation_id, action_id)

        await eventually(lambda: _true(len(receiver.received) >= 1))
        [payload] = receiver.verified(hook.json()["secret"])
        assert payload["type"] == REQUESTED
        assert payload["data"]["link"].endswith(f"/v1/handovers/{handover_id}")
        assert payload["data"]["reference"] == "R-" + handover_id.replace("-", "")[:8].upper()

        connection = await aio_pika.connect(stack.amqp_url)
        async with connection:
            channel = await connection.channel()
            own = await channel.get_queue(delivery_queue(CMPP))

            async def next_message() -> Any:
                return await own.get(fail=False)

            seen: list[dict[str, Any]] = []
            while not any(m["type"] == REQUESTED for m in seen):
                message = await eventually(next_message)
                await message.ack()
                seen.append(json.loads(message.body))

    sent = json.dumps(payload, ensure_ascii=False) + json.dumps(seen, ensure_ascii=False)
    for needle in (*IDENTIFYING, "premier rendez-vous", "Bilan psychologique"):
        assert needle not in sent


async def _true(value: bool) -> bool:
    return value
