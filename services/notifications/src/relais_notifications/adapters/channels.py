"""Senders, one per channel. Each returns a ``Sent``: ok, or a failure code (never remote text).

- webhook: an HTTP POST signed per Standard Webhooks (``webhook-id`` is the delivery id,
  stable across attempts, so a receiver can drop a repeat);
- e-mail: SMTP through the runtime's sender (``relais_runtime.smtp``); ``Message-ID``
  derives from the delivery id;
- AMQP: a persistent, confirmed, mandatory publish to ``deliver.<org_id>`` through the
  direct exchange ``relais.deliver``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from relais_contracts.topology import delivery_queue
from relais_notifications.config import NotificationsSettings
from relais_runtime import smtp

#: Direct exchange feeding the organisations' queues (bound by queue name). Never the
#: default exchange: writing there would reach every queue of the vhost (deploy/rabbitmq).
DELIVER_EXCHANGE = "relais.deliver"


@dataclass(frozen=True)
class Sent:
    failure: str | None = None  # a DeliveryFailure code
    http_status: int | None = None
    duration_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.failure is None


def webhook_headers(
    secrets: Sequence[str], msg_id: str, body: str, now: datetime
) -> dict[str, str]:
    """Standard Webhooks headers; one signature per secret, space-separated (during a
    rotation the new and the previous one: a receiver accepts either)."""
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(Webhook(s).sign(msg_id, now, body) for s in secrets),
        "user-agent": "Relais-Webhooks/1",
    }


async def send_webhook(
    client: httpx.AsyncClient,
    *,
    url: str,
    secrets: Sequence[str],
    msg_id: str,
    payload: Any,
    timeout_s: float,
) -> Sent:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    headers = webhook_headers(secrets, msg_id, body, datetime.now(UTC))
    started = time.perf_counter()

    def took() -> int:
        return int((time.perf_counter() - started) * 1000)

    try:
        response = await client.post(
            url, content=body.encode(), headers=headers, timeout=timeout_s, follow_redirects=False
        )
    except httpx.TimeoutException:
        return Sent("timeout", duration_ms=took())
    except (httpx.TransportError, OSError):
        return Sent("connection_error", duration_ms=took())
    if 200 <= response.status_code < 300:
        return Sent(http_status=response.status_code, duration_ms=took())
    # 410 Gone is the conventional "stop sending": the endpoint is no more.
    code = "invalid_endpoint" if response.status_code == 410 else "http_error"
    return Sent(code, http_status=response.status_code, duration_ms=took())


def email_message(
    *, sender: str, to: str, subject: str, body: str, delivery_id: str
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = f"<{delivery_id}@relais.notifications>"
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    msg.set_content(body)
    return msg


async def send_email(settings: NotificationsSettings, message: EmailMessage) -> Sent:
    started = time.perf_counter()
    failure = await smtp.send_email(settings, message)
    if failure is None:
        return Sent(duration_ms=int((time.perf_counter() - started) * 1000))
    # A temporary refusal (4xx: greylisting, mailbox full) is retried like any "other".
    return Sent("other" if failure is smtp.SmtpFailure.REFUSED_FOR_NOW else failure.value)


async def send_amqp(broker: Any, *, org_id: str, msg_id: str, payload: Any) -> Sent:
    try:
        await broker.publish(
            json.dumps(payload, ensure_ascii=False).encode(),
            exchange=DELIVER_EXCHANGE,
            routing_key=delivery_queue(org_id),
            message_id=msg_id,
            content_type="application/json",
            persist=True,
            mandatory=True,
            timeout=10,
        )
    except Exception as exc:
        # aio_pika raises DeliveryError (NO_ROUTE) when the organisation's queue is missing.
        return Sent("unroutable" if "NO_ROUTE" in repr(exc) or "312" in repr(exc) else "other")
    return Sent()
