"""Use case: tell the people who must hear about an event (one transaction: the handler's)."""

from __future__ import annotations

from relais_contracts.base import Message
from relais_notifications.adapters import feed
from relais_notifications.domain.audience import Links, Notice, notice_for
from relais_notifications.domain.texts import render
from relais_runtime.consumer import Tx


async def notify(tx: Tx, data: Message, links: Links) -> Notice:
    """Put the event in the feed of everyone in its audience (once, even if redelivered)."""
    event = tx.incoming
    notice = notice_for(data, links)
    text = render(notice.template, notice.facts, notice.link)
    for recipient in notice.audience:
        await feed.add_item(
            tx.conn,
            pre_id=event.tenant,
            recipient=recipient.key,
            title=text.title,
            link=notice.link,
            event_id=event.id,
            kind=event.type,
            created_at=event.time,
        )
    return notice
