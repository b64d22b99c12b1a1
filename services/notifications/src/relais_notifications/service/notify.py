"""Use case: tell the people who must hear about an event (one transaction: the handler's).

Everyone in the audience gets a feed item at once. Each matching subscription adds one
delivery row (email, webhook, AMQP) that the dispatcher sends after commit; the unique key
(event, recipient, channel, destination) makes a redelivered event or two overlapping
subscriptions a no-op.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from relais_contracts.base import Message
from relais_contracts.envelope import CloudEvent
from relais_contracts.types import DeliveryChannel
from relais_contracts.v1.notifications import NotificationDelivered
from relais_contracts.v1.parcours import (
    FollowupRecorded,
    HandoverAccepted,
    HandoverCancelled,
    HandoverDeclined,
    HandoverWaitlisted,
    ReferentRegistered,
    SubjectErased,
)
from relais_notifications.adapters import (
    deliveries,
    erasure,
    escalations,
    feed,
    logins,
    subscriptions,
)
from relais_notifications.domain.audience import (
    COORDINATORS,
    Links,
    Notice,
    Recipient,
    notice_for,
)
from relais_notifications.domain.delivery import Subscription, payload
from relais_notifications.domain.texts import render
from relais_notifications.service.digest import forget_in_digests
from relais_runtime import outbox
from relais_runtime.consumer import Tx
from relais_runtime.db import Conn

#: Events that settle an unanswered handover: its reminder need not escalate any more.
ANSWERS = frozenset(
    m.ce_type() for m in (HandoverAccepted, HandoverDeclined, HandoverWaitlisted, HandoverCancelled)
)


def org_of(recipient: Recipient, tenant: str) -> str:
    """The organisation a notification is for: the PRE itself for roles and its staff."""
    return recipient.id if recipient.kind == "org" else tenant


@dataclass(frozen=True)
class Told:
    """One event to tell (``notify_all``): its unit of work and its validated data."""

    tx: Tx
    data: Message


async def notify(
    tx: Tx, data: Message, links: Links, *, escalate_after: timedelta | None = None
) -> Notice:
    [notice] = await notify_all([Told(tx, data)], links, escalate_after=escalate_after)
    return notice


async def notify_all(
    events: Sequence[Told], links: Links, *, escalate_after: timedelta | None = None
) -> list[Notice]:
    """``notify`` for several events of one transaction, with one statement for each step
    (logins, feed items, their events, subscriptions) instead of one per event.

    Each event has the effect it would have alone: feed items and deliveries do not depend
    on each other, and the reminders are scheduled and resolved in the events' order.
    """
    notices = [notice_for(e.data, links) for e in events]
    await deliver_all([Delivery(e.tx, n) for e, n in zip(events, notices, strict=True)])
    for e, notice in zip(events, notices, strict=True):
        tx, data = e.tx, e.data
        # Escalate to the coordinators only when they were not told in the first place.
        escalates = notice.deadline_id is not None and COORDINATORS not in notice.audience
        if escalates and escalate_after is not None:
            assert notice.deadline_id is not None
            await escalations.schedule(
                tx.conn,
                deadline_id=notice.deadline_id,
                kind=notice.deadline_kind,
                situation_id=notice.situation_id,
                event=tx.incoming,
                escalate_at=tx.incoming.time + escalate_after,
            )
        handover_id = getattr(data, "handover_id", None)
        if handover_id is not None and tx.incoming.type in ANSWERS:
            await escalations.resolve_handover(
                tx.conn, tx.incoming.tenant, handover_id, getattr(data, "situation_id", None)
            )
    return notices


async def record_followup(tx: Tx, data: FollowupRecorded) -> None:
    """No one is told; the follow-up reminder of the situation stops there (no escalation)."""
    await escalations.resolve_followup(tx.conn, tx.incoming.tenant, data.situation_id)


async def erase_subject(tx: Tx, data: SubjectErased) -> None:
    """Delete every feed item, delivery, reminder and remembered answer about the erased
    child's files, and take them out of the digests that gathered them."""
    digests = await erasure.erase(
        tx.conn,
        tenant=tx.incoming.tenant,
        subject_id=data.subject_id,
        situation_ids=data.situation_ids,
        referral_ids=data.referral_ids,
    )
    await forget_in_digests(tx.conn, digests)


async def register_login(tx: Tx, data: ReferentRegistered) -> None:
    """Learn the login a référent signs in with; what its feed already holds follows it."""
    tenant = tx.incoming.tenant
    recorded, previous = await logins.remember(
        tx.conn, tenant, data.referent_id, data.user_sub, tx.incoming.sequence
    )
    if not recorded:
        return
    new = Recipient("user", data.user_sub).key
    old = {Recipient("user", str(data.referent_id)).key}
    if previous is not None:
        old.add(Recipient("user", previous).key)
    old.discard(new)
    if old:
        await feed.readdress(tx.conn, tenant, sorted(old), new)


@dataclass(frozen=True)
class Delivery:
    """A notice to deliver for ``tx``'s event (``event_id`` names it when it is not that
    event: an escalation)."""

    tx: Tx
    notice: Notice
    event_id: uuid.UUID | None = None


async def addressed(
    conn: Conn, deliveries: Sequence[Delivery]
) -> dict[tuple[str, Recipient], Recipient]:
    """Each (PRE, recipient) as addressed: a référent (``user:<referent_id>``) at the login
    it signs in with, once known (its id until then, which is parcours' default login)."""
    audience = {(d.tx.incoming.tenant, r) for d in deliveries for r in d.notice.audience}
    known = await logins.logins_of(
        conn, sorted({(tenant, r.id) for tenant, r in audience if r.kind == "user"})
    )
    return {
        (tenant, r): Recipient("user", known[tenant, r.id])
        if r.kind == "user" and (tenant, r.id) in known
        else r
        for tenant, r in audience
    }


async def deliver(tx: Tx, notice: Notice, *, event_id: uuid.UUID | None = None) -> None:
    await deliver_all([Delivery(tx, notice, event_id)])


async def deliver_all(deliveries: Sequence[Delivery]) -> None:
    """Feed items for every recipient and a delivery per matching subscription, for each
    notice; the statements are shared (one transaction: every ``tx`` is on one connection)."""
    if not deliveries:
        return
    conn = deliveries[0].tx.conn
    addresses = await addressed(conn, deliveries)
    texts = [render(d.notice.template, d.notice.facts, d.notice.link) for d in deliveries]
    items: list[tuple[Delivery, Recipient, feed.NewItem]] = []
    for d, text in zip(deliveries, texts, strict=True):
        event = d.tx.incoming
        for recipient in d.notice.audience:
            item = feed.NewItem(
                id=uuid.uuid4(),
                tenant=event.tenant,
                recipient=addresses[event.tenant, recipient].key,
                title=text.title,
                link=d.notice.link,
                event_id=d.event_id or event.id,
                kind=event.type,
                created_at=event.time,
                situation_id=d.notice.situation_id,
            )
            items.append((d, recipient, item))
    added = await feed.add_items(conn, [item for _, _, item in items])
    told: list[CloudEvent[Any]] = []
    for d, recipient, item in items:
        if item.id not in added:
            continue  # this event already reached this recipient
        event = d.tx.incoming
        emitted = d.tx.event(
            NotificationDelivered(
                notification_id=item.id,
                channel=DeliveryChannel.FEED,
                recipient_org_id=org_of(recipient, event.tenant),
                recipient_user_id=_user_uuid(recipient),
                cause_event_id=event.id,
                cause_type=event.type,
                attempts=1,
                delivered_at=event.time,
            ),
            subject=str(item.id),
            sequence=1,
        )
        d.tx.emitted.append(emitted)
        told.append(emitted)
    if told:
        await outbox.add(conn, *told)
    wanted = await subscriptions.matching_many(
        conn,
        [
            subscriptions.Wanted(
                tenant=d.tx.incoming.tenant,
                event_type=d.tx.incoming.type,
                audience=[addresses[d.tx.incoming.tenant, r].key for r in d.notice.audience],
                situation_id=d.notice.situation_id,
                referent_id=d.notice.referent_id,
            )
            for d in deliveries
        ],
    )
    for d, rows in zip(deliveries, wanted, strict=True):
        for row in rows:
            await _add_delivery(d, row)


async def _add_delivery(d: Delivery, row: Any) -> None:
    event, notice = d.tx.incoming, d.notice
    event_id = d.event_id or event.id
    sub = Subscription(
        id=row["id"],
        org_id=row["org_id"],
        user_id=row["user_id"],
        channel=row["channel"],
        language=row["language"],
        email=row["email"],
        webhook_id=row["webhook_id"],
        digest=row["digest"],
    )
    localized = render(notice.template, notice.facts, notice.link, sub.language)
    delivery_id = uuid.uuid4()
    await deliveries.add(
        d.tx.conn,
        id=delivery_id,
        pre_id=event.tenant,
        event_id=event_id,
        event_type=event.type,
        recipient=sub.recipient,
        recipient_org=sub.org_id,
        recipient_user=sub.user_id,
        channel=sub.channel,
        destination=sub.destination,
        subscription_id=sub.id,
        webhook_id=sub.webhook_id,
        situation_id=notice.situation_id,
        title=localized.title,
        body=localized.body,
        link=notice.link,
        payload=payload(
            notification_id=delivery_id,
            event_id=event_id,
            event_type=event.type,
            tenant=event.tenant,
            occurred_at=event.time,
            notice=notice,
            text=localized,
        ),
        status="digested" if sub.digest and sub.channel == "email" else "pending",
    )


def _user_uuid(recipient: Recipient) -> uuid.UUID | None:
    if recipient.kind != "user":
        return None
    try:
        return uuid.UUID(recipient.id)
    except ValueError:
        return None
