"""Use case: tell the people who must hear about an event (one transaction: the handler's).

Everyone in the audience gets a feed item at once. Each matching subscription adds one
delivery row (email, webhook, AMQP) that the dispatcher sends after commit; the unique key
(event, recipient, channel, destination) makes a redelivered event or two overlapping
subscriptions a no-op.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from relais_contracts.base import Message
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
from relais_runtime.consumer import Tx

#: Events that settle an unanswered handover: its reminder need not escalate any more.
ANSWERS = frozenset(
    m.ce_type() for m in (HandoverAccepted, HandoverDeclined, HandoverWaitlisted, HandoverCancelled)
)


def org_of(recipient: Recipient, tenant: str) -> str:
    """The organisation a notification is for: the PRE itself for roles and its staff."""
    return recipient.id if recipient.kind == "org" else tenant


async def notify(
    tx: Tx, data: Message, links: Links, *, escalate_after: timedelta | None = None
) -> Notice:
    notice = notice_for(data, links)
    await deliver(tx, notice)
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
    return notice


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


async def addressed(tx: Tx, audience: tuple[Recipient, ...]) -> dict[Recipient, Recipient]:
    """Each recipient as addressed: a référent (``user:<referent_id>``) at the login it
    signs in with, once known (its id until then, which is parcours' default login)."""
    known = await logins.logins(
        tx.conn, tx.incoming.tenant, [r.id for r in audience if r.kind == "user"]
    )
    return {
        r: Recipient("user", known[r.id]) if r.kind == "user" and r.id in known else r
        for r in audience
    }


async def deliver(tx: Tx, notice: Notice, *, event_id: uuid.UUID | None = None) -> None:
    event = tx.incoming
    event_id = event_id or event.id
    text = render(notice.template, notice.facts, notice.link)
    addresses = await addressed(tx, notice.audience)
    for recipient in notice.audience:
        item_id = uuid.uuid4()
        added = await feed.add_item(
            tx.conn,
            item_id=item_id,
            tenant=event.tenant,
            recipient=addresses[recipient].key,
            title=text.title,
            link=notice.link,
            event_id=event_id,
            kind=event.type,
            created_at=event.time,
            situation_id=notice.situation_id,
        )
        if added:
            await tx.emit(
                NotificationDelivered(
                    notification_id=item_id,
                    channel=DeliveryChannel.FEED,
                    recipient_org_id=org_of(recipient, event.tenant),
                    recipient_user_id=_user_uuid(recipient),
                    cause_event_id=event.id,
                    cause_type=event.type,
                    attempts=1,
                    delivered_at=event.time,
                ),
                subject=str(item_id),
                sequence=1,
            )
    wanted = await subscriptions.matching(
        tx.conn,
        tenant=event.tenant,
        event_type=event.type,
        audience=[addresses[r].key for r in notice.audience],
        situation_id=notice.situation_id,
        referent_id=notice.referent_id,
    )
    for row in wanted:
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
            tx.conn,
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
