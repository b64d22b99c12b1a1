"""HTTP routes of the notifications service: the in-app feed."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from relais_notifications.adapters import feed
from relais_runtime.app import get_runtime
from relais_runtime.auth import CurrentPrincipal, Principal
from relais_runtime.runtime import ServiceRuntime

router = APIRouter(prefix="/v1")

Runtime = Annotated[ServiceRuntime, Depends(get_runtime)]


class FeedItem(BaseModel):
    id: uuid.UUID
    kind: str
    title: str
    link: str
    created_at: datetime
    read_at: datetime | None


class FeedPage(BaseModel):
    items: list[FeedItem]
    unread: int
    limit: int
    offset: int


def recipients(who: Principal) -> list[str]:
    """What a user's feed gathers: its own items, its organisation's and its roles'."""
    return [
        f"user:{who.sub}",
        f"org:{who.org}",
        *(f"role:{role}" for role in sorted(who.roles)),
    ]


@router.get("/feed", response_model=FeedPage, summary="Fil de notifications")
async def get_feed(
    who: CurrentPrincipal,
    runtime: Runtime,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> FeedPage:
    targets = recipients(who)
    async with runtime.pool.acquire() as conn:
        rows = await feed.list_items(conn, who.pre, targets, limit, offset)
        unread = await feed.unread_count(conn, who.pre, targets)
    return FeedPage(
        items=[FeedItem(**dict(r)) for r in rows], unread=unread, limit=limit, offset=offset
    )
