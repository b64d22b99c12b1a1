"""The dispatcher: sends claimed deliveries and settles each one in its own transaction.

Claim (``FOR UPDATE SKIP LOCKED``, a lease) → send outside any transaction → settle:
delivered, or failed with a retry after backoff, or given up; ``notification.delivered`` /
``notification.failed`` go to the outbox in the settling transaction. A webhook endpoint
failing ``webhook_disable_after`` attempts in a row is disabled, its waiting deliveries
given up, and its owner told in the feed. A digest settles the deliveries it carried in
the same transaction: each emits its own event (delivered, or failed when the digest is
given up), so a digested notice is recorded like any other, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import structlog
from prometheus_client import Counter

from relais_contracts.types import DeliveryChannel, DeliveryFailure
from relais_contracts.v1.notifications import NotificationDelivered, NotificationFailed
from relais_notifications.adapters import channels, deliveries, feed, subscriptions
from relais_notifications.config import NotificationsSettings
from relais_notifications.domain.delivery import (
    FINAL_FAILURES,
    retry_delay,
    webhook_disabled_title,
)
from relais_notifications.service.digest import DIGEST_TYPE
from relais_runtime.background import BackgroundLoop
from relais_runtime.db import Conn
from relais_runtime.runtime import ServiceRuntime

log = structlog.get_logger("relais.notifications.dispatch")

#: Delivery attempts by channel and outcome (delivered, retry, failed), on GET /metrics.
ATTEMPTS = Counter(
    "relais_notification_attempts_total",
    "Notification delivery attempts by channel and outcome.",
    ["channel", "outcome"],
)
#: Webhook endpoints disabled after repeated failures.
ENDPOINTS_DISABLED = Counter(
    "relais_webhook_endpoints_disabled_total", "Webhook endpoints disabled after failures."
)


class Dispatcher(BackgroundLoop):
    """Sends due deliveries, after the periodic ``jobs``, woken early by ``wake``."""

    task_name = "notifications-dispatcher"

    def __init__(self, runtime: ServiceRuntime, settings: NotificationsSettings) -> None:
        super().__init__()
        self.runtime = runtime
        self.settings = settings
        self._client: httpx.AsyncClient | None = None
        self.wake = asyncio.Event()
        #: Extra periodic jobs (escalations, digests), run before each dispatch round.
        self.jobs: list[Any] = []
        #: Rounds the loop has finished (whatever they sent): lets a caller know the round
        #: started with the loop is over before it runs one by hand.
        self.rounds = 0

    def start(self) -> None:
        self._client = httpx.AsyncClient()
        super().start()

    async def stop(self) -> None:
        await super().stop()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _run(self) -> None:
        while True:
            sent = 0
            try:
                for job in self.jobs:
                    await job()
                sent = await self.run_once()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("dispatch_db_error", error=type(exc).__name__)
            except Exception:
                log.exception("dispatch_failed")
            self.rounds += 1
            if sent >= self.settings.dispatch_batch:
                continue
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.settings.dispatch_interval_s)

    async def run_once(self) -> int:
        """Claim a batch of due deliveries, send them concurrently, settle each."""
        async with self.runtime.pool.acquire() as conn, conn.transaction():
            claimed = await deliveries.claim(
                conn, batch=self.settings.dispatch_batch, lease_s=self.settings.delivery_lease_s
            )
        if claimed:
            await asyncio.gather(*(self._deliver(dict(row)) for row in claimed))
        return len(claimed)

    async def _deliver(self, d: dict[str, Any]) -> None:
        structlog.contextvars.bind_contextvars(notification_id=str(d["id"]), channel=d["channel"])
        try:
            sent = await self._send(d)
            async with self.runtime.pool.acquire() as conn, conn.transaction():
                await self._settle(conn, d, sent)
        finally:
            structlog.contextvars.unbind_contextvars("notification_id", "channel")

    async def _send(self, d: dict[str, Any]) -> channels.Sent:
        s = self.settings
        if d["channel"] == "webhook":
            async with self.runtime.pool.acquire() as conn:
                endpoint = await subscriptions.endpoint_secret(conn, d["webhook_id"])
            if endpoint is None:
                return channels.Sent(DeliveryFailure.ENDPOINT_DELETED)
            if not endpoint[2]:
                return channels.Sent(DeliveryFailure.ENDPOINT_DISABLED)
            url, secrets, _ = endpoint
            assert self._client is not None
            return await channels.send_webhook(
                self._client,
                url=url,
                secrets=secrets,
                msg_id=str(d["id"]),
                payload=d["payload"],
                timeout_s=s.webhook_timeout_s,
            )
        if d["channel"] == "email":
            message = channels.email_message(
                sender=s.mail_from,
                to=d["destination"].removeprefix("mailto:"),
                subject=d["title"],
                body=d["body"],
                delivery_id=str(d["id"]),
            )
            return await channels.send_email(s, message)
        if d["channel"] == "amqp":
            return await channels.send_amqp(
                self.runtime.broker,
                org_id=d["recipient_org"],
                msg_id=str(d["id"]),
                payload=d["payload"],
            )
        return channels.Sent("other")

    async def _settle(self, conn: Conn, d: dict[str, Any], sent: channels.Sent) -> None:
        attempts = d["attempts"]
        endpoint = False
        if d["channel"] == "webhook" and d["webhook_id"] is not None:
            # First: lock order. Deleted meanwhile: its delivery was given up, no log left.
            endpoint = await subscriptions.lock_endpoint(conn, d["webhook_id"])
        if sent.ok:
            ATTEMPTS.labels(channel=d["channel"], outcome="delivered").inc()
            delivered_at = await deliveries.mark_delivered(conn, d["id"], sent.http_status)
            if delivered_at is not None:
                await emit_delivered(self.runtime, conn, d, delivered_at=delivered_at)
                log.info("notification_delivered", attempts=attempts)
                if d["event_type"] == DIGEST_TYPE:
                    await self._settle_digest_items(conn, d, sent, delivered_at=delivered_at)
        else:
            assert sent.failure is not None
            retry_in = None
            if sent.failure not in FINAL_FAILURES:
                retry_in = retry_delay(attempts, self.settings.delivery_backoff_s)
            outcome = "retry" if retry_in is not None else "failed"
            ATTEMPTS.labels(channel=d["channel"], outcome=outcome).inc()
            if await deliveries.mark_failed(
                conn,
                d["id"],
                failure=sent.failure,
                http_status=sent.http_status,
                retry_in_s=retry_in,
            ):
                await self._emit_failed(conn, d, sent, will_retry=retry_in is not None)
                log.warning(
                    "notification_failed",
                    failure=sent.failure,
                    http_status=sent.http_status,
                    attempts=attempts,
                    will_retry=retry_in is not None,
                )
                if retry_in is None and d["event_type"] == DIGEST_TYPE:
                    await self._settle_digest_items(conn, d, sent, delivered_at=None)
        if endpoint:
            failures = await subscriptions.record_attempt(
                conn,
                hook_id=d["webhook_id"],
                delivery_id=d["id"],
                attempt=attempts,
                http_status=sent.http_status,
                failure=sent.failure,
                duration_ms=sent.duration_ms,
            )
            if failures >= self.settings.webhook_disable_after:
                await self._disable_endpoint(conn, d)

    async def _disable_endpoint(self, conn: Conn, d: dict[str, Any]) -> None:
        hook_id: uuid.UUID = d["webhook_id"]
        # Other attempts in flight fail too: only the first to disable it tells the owner.
        if not await subscriptions.disable(conn, hook_id):
            return
        disabled = DeliveryFailure.ENDPOINT_DISABLED
        for waiting in await deliveries.give_up_endpoint(conn, hook_id, disabled):
            await self._emit_failed(conn, dict(waiting), channels.Sent(disabled), will_retry=False)
        # The owner hears about it where it always looks: its feed.
        await feed.add_item(
            conn,
            item_id=uuid.uuid4(),
            tenant=d["pre_id"],
            recipient=f"org:{d['recipient_org']}",
            title=webhook_disabled_title(self.settings.webhook_disable_after),
            link=f"{self.settings.public_url}/v1/webhooks/{hook_id}",
            event_id=uuid.uuid5(hook_id, f"disabled:{datetime.now(UTC).isoformat()}"),
            kind="fr.relais.notification.webhook_disabled.v1",
            created_at=datetime.now(UTC),
        )
        ENDPOINTS_DISABLED.inc()
        log.warning("webhook_disabled", webhook_id=str(hook_id))

    async def _settle_digest_items(
        self,
        conn: Conn,
        digest: dict[str, Any],
        sent: channels.Sent,
        *,
        delivered_at: datetime | None,
    ) -> None:
        """Each delivery a digest carried emits its own event, for its own cause: delivered
        when the digest was (its time, its attempts), failed for good when it was given
        up. In the digest's settling transaction, which only succeeds once."""
        carried = await deliveries.settle_digest_items(
            conn,
            digest["id"],
            delivered_at=delivered_at,
            failure=None if delivered_at is not None else sent.failure,
        )
        for row in sorted(carried, key=lambda r: (r["created_at"], r["id"])):
            # Held items were never claimed: the digest's attempts are theirs.
            item = dict(row) | {"channel": "email", "attempts": digest["attempts"]}
            if delivered_at is not None:
                await emit_delivered(self.runtime, conn, item, delivered_at=delivered_at)
            else:
                # A digest's failure is an SMTP one: no HTTP status to repeat.
                await self._emit_failed(
                    conn, item, channels.Sent(sent.failure or "other"), will_retry=False
                )

    async def _emit_failed(
        self, conn: Conn, d: dict[str, Any], sent: channels.Sent, *, will_retry: bool
    ) -> None:
        await emit_failed(self.runtime, conn, d, sent, will_retry=will_retry)


async def emit_delivered(
    runtime: ServiceRuntime, conn: Conn, d: dict[str, Any], *, delivered_at: datetime
) -> None:
    """``notification.delivered`` for delivery ``d`` in the outbox (this transaction)."""
    data = NotificationDelivered(**_outcome_fields(d), delivered_at=delivered_at)
    await runtime.emit(conn, data, subject=str(d["id"]), tenant=d["pre_id"], sequence=_attempts(d))


async def emit_failed(
    runtime: ServiceRuntime,
    conn: Conn,
    d: dict[str, Any],
    sent: channels.Sent,
    *,
    will_retry: bool,
) -> None:
    """``notification.failed`` for delivery ``d`` in the outbox (this transaction)."""
    data = NotificationFailed(
        **_outcome_fields(d),
        failure=DeliveryFailure(sent.failure or "other"),
        http_status=sent.http_status,
        will_retry=will_retry,
        failed_at=datetime.now(UTC),
    )
    # A final failure follows the last attempt's own (retryable) failure event.
    sequence = _attempts(d) + (0 if will_retry else 1)
    await runtime.emit(conn, data, subject=str(d["id"]), tenant=d["pre_id"], sequence=sequence)


def _attempts(d: dict[str, Any]) -> int:
    return max(1, int(d["attempts"]))


def _outcome_fields(d: dict[str, Any]) -> dict[str, Any]:
    """What ``notification.delivered`` and ``notification.failed`` both say of delivery ``d``."""
    return {
        "notification_id": d["id"],
        "channel": DeliveryChannel(d["channel"]),
        "recipient_org_id": d["recipient_org"],
        "recipient_user_id": _as_uuid(d["recipient_user"]),
        "subscription_id": d["subscription_id"],
        "cause_event_id": d["event_id"],
        "cause_type": d["event_type"],
        "attempts": _attempts(d),
    }


def _as_uuid(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
