"""A referral's status changes reach its sender by e-mail, signed webhook and feed.

The four services run as processes on an isolated vhost; the SMTP server and the webhook
receiver are real peers on 127.0.0.1 inside the test.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from relais_notifications.testing import SmtpSink, WebhookReceiver
from tests.e2e.test_backbone_flow import (
    IDENTIFYING,
    SCHOOL,
    eventually,
    referral_body,
    register_school,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

STATUS_CHANGED = "fr.relais.referral.status_changed.v1"


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver() as peer:
        yield peer


async def test_a_status_change_reaches_the_sender_by_email_webhook_and_feed(
    stack_factory: Any, smtp: SmtpSink, receiver: WebhookReceiver
) -> None:
    stack = await stack_factory(
        extra_env={
            "NOTIFICATIONS_SMTP_PORT": str(smtp.port),
            "NOTIFICATIONS_WEBHOOK_ALLOW_INSECURE": "true",
            "NOTIFICATIONS_DISPATCH_INTERVAL_S": "0.2",
            "NOTIFICATIONS_DELIVERY_BACKOFF_S": "[0.3, 0.3]",
        }
    )
    school = stack.auth("institution", SCHOOL)
    notifications = stack.url("notifications")
    async with httpx.AsyncClient(timeout=10) as http:
        await register_school(http, stack)
        hook = await http.post(
            f"{notifications}/v1/webhooks",
            json={"url": receiver.url, "event_types": [STATUS_CHANGED]},
            headers=school,
        )
        assert hook.status_code == 201, hook.text
        secret, hook_id = hook.json()["secret"], hook.json()["id"]
        mail = await http.post(
            f"{notifications}/v1/subscriptions",
            json={"channel": "email", "email": "direction@ecole.example"},
            headers=school,
        )
        assert mail.status_code == 201, mail.text

        created = await http.post(
            f"{stack.url('referral')}/v1/referrals", json=referral_body(), headers=school
        )
        assert created.status_code == 201, created.text
        referral_id = created.json()["id"]
        ref = f"O-{referral_id.replace('-', '')[:8].upper()}"

        # received, then under_review once parcours opened the situation.
        await eventually(lambda: _true(len(receiver.received) >= 2 and len(smtp.messages) >= 2))
        payloads = receiver.verified(secret)  # raises unless every signature checks out
        assert sorted(p["data"]["facts"]["status"] for p in payloads) == [
            "received",
            "under_review",
        ]
        assert {p["type"] for p in payloads} == {STATUS_CHANGED}
        assert all(p["data"]["reference"] == ref for p in payloads)
        assert all(referral_id in p["data"]["link"] for p in payloads)
        subjects = sorted(str(m["Subject"]) for m in smtp.messages)
        assert subjects == [
            f"Orientation {ref} : en cours d'examen par l'équipe du PRE.",
            f"Orientation {ref} : reçue par le PRE.",
        ]
        assert all(m["To"] == "direction@ecole.example" for m in smtp.messages)

        feed = (await http.get(f"{notifications}/v1/feed", headers=school)).json()
        assert feed["unread"] == 2
        assert all(referral_id in item["link"] for item in feed["items"])

        # The receiver goes away: the next referral's notifications are retried, then
        # given up, visibly, in the endpoint's log and the organisation's deliveries.
        await receiver.stop()
        again = await http.post(
            f"{stack.url('referral')}/v1/referrals", json=referral_body(), headers=school
        )
        assert again.status_code == 201, again.text

        async def failed() -> list[dict[str, Any]]:
            r = await http.get(
                f"{notifications}/v1/deliveries",
                params={"status": "failed"},
                headers=school,
            )
            return [d for d in r.json()["items"] if d["channel"] == "webhook"]

        failures = await eventually(failed)
        assert failures[0]["last_failure"] == "connection_error"
        assert failures[0]["attempts"] == 3
        log = (
            await http.get(f"{notifications}/v1/webhooks/{hook_id}/attempts", headers=school)
        ).json()["items"]
        assert sum(1 for a in log if a["failure"] == "connection_error") >= 3

    # Nothing identifying in any message sent.
    sent = [r.body.decode() for r in receiver.received]
    sent += [m.as_string() for m in smtp.messages]
    sent += [json.dumps(feed)]
    for text in sent:
        for needle in IDENTIFYING:
            assert needle not in text, f"{needle!r} found in a notification"


async def _true(value: bool) -> bool:
    return value
