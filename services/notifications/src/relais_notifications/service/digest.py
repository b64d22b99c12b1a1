"""Use case: gather the deliveries held for a daily digest into one e-mail per subscription."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from relais_notifications.adapters import deliveries
from relais_notifications.config import NotificationsSettings
from relais_notifications.domain.delivery import digest_cutoff
from relais_notifications.domain.texts import Text, render
from relais_runtime.db import Conn
from relais_runtime.runtime import ServiceRuntime

#: ``event_type`` of a digest delivery (it answers no single event).
DIGEST_TYPE = "fr.relais.notification.digest.v1"


async def send_digests(
    runtime: ServiceRuntime, settings: NotificationsSettings, now: datetime, *, batch: int = 5000
) -> int:
    """Create one digest delivery per subscription for everything held before the last
    digest time; the dispatcher sends it like any e-mail. Idempotent: the digest's key
    derives from the subscription and the digest time."""
    cutoff = digest_cutoff(now, settings.timezone, settings.digest_hour)
    made = 0
    async with runtime.pool.acquire() as conn, conn.transaction():
        rows = await deliveries.claim_held_for_digest(conn, before=cutoff, batch=batch)
        groups: dict[Any, list[Any]] = defaultdict(list)
        for row in rows:
            groups[row["subscription_id"], row["destination"]].append(row)
        for (subscription_id, destination), held in groups.items():
            first = held[0]
            digest_id = uuid.uuid4()
            items = [{"title": r["title"], "link": r["link"]} for r in held]
            text = digest_text(cutoff.date(), items)
            added = await deliveries.add(
                conn,
                id=digest_id,
                pre_id=first["pre_id"],
                event_id=uuid.uuid5(subscription_id or digest_id, cutoff.isoformat()),
                event_type=DIGEST_TYPE,
                recipient=first["recipient"],
                recipient_org=first["recipient_org"],
                recipient_user=first["recipient_user"],
                channel="email",
                destination=destination,
                subscription_id=subscription_id,
                title=text.title,
                body=text.body,
                link="",
                payload=digest_payload(cutoff.date(), items),
            )
            if not added:
                # This digest already went out (an item committed after it, created before
                # its time): keep the item held for the next one rather than lose it.
                continue
            await deliveries.put_in_digest(conn, [r["id"] for r in held], digest_id)
            made += 1
    return made


def digest_text(day: date, items: list[dict[str, str]]) -> Text:
    return render("digest", {"day": day, "items": items, "ref": ""}, "")


def digest_payload(day: date, items: list[dict[str, str]]) -> dict[str, Any]:
    # The day is kept so the digest can be rewritten (erasure) with the same wording.
    return {"type": DIGEST_TYPE, "data": {"day": day.isoformat(), "items": items}}


async def forget_in_digests(conn: Conn, digest_ids: Iterable[uuid.UUID]) -> None:
    """Rewrite digests after some of what they gathered was erased: they keep only the
    rest, and a digest left with nothing is deleted."""
    for digest_id in digest_ids:
        digest = await deliveries.get_digest(conn, digest_id)
        if digest is None:
            continue
        left = [dict(r) for r in await deliveries.digest_left(conn, digest_id)]
        if not left:
            await deliveries.delete_delivery(conn, digest_id)
            continue
        stored = digest["payload"].get("data", {}).get("day")
        day = date.fromisoformat(stored) if stored else digest["created_at"].date()
        text = digest_text(day, left)
        await deliveries.rewrite_digest(
            conn, digest_id, title=text.title, body=text.body, payload=digest_payload(day, left)
        )
