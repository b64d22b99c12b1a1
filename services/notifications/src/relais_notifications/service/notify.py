"""Use case: put an event in the feed of the people who must hear about it."""

from __future__ import annotations

from relais_notifications.adapters import feed
from relais_notifications.domain.messages import FeedEntry
from relais_runtime.consumer import Tx


async def post_to_feed(tx: Tx, entry: FeedEntry) -> bool:
    event = tx.incoming
    return await feed.add_item(
        tx.conn,
        pre_id=event.tenant,
        entry=entry,
        event_id=event.id,
        kind=event.type,
        created_at=event.time,
    )
