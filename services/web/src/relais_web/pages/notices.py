"""Notifications: the feed of the person and their organisation, and its live stream."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from relais_runtime.logging import get_logger
from relais_web.pages.common import apis, render, see_other
from relais_web.session import Form, Person

log = get_logger(__name__)
router = APIRouter(prefix="/notifications", include_in_schema=False)


@router.get("")
async def notices(request: Request, person: Person) -> Response:
    feed = await apis(request).get(person, "notifications", "/v1/feed", {"limit": 100})
    return render(request, "notices/feed.html", person, active="notifications", feed=feed)


@router.post("/lues")
async def mark_all_read(request: Request, person: Person, form: Form) -> Response:
    await apis(request).call(person, "POST", "notifications", "/v1/feed/read", json={})
    return see_other("/notifications")


@router.get("/flux")
async def live(request: Request, person: Person) -> Response:
    """The notifications service's Server-Sent Events, relayed with the person's token (a
    browser's EventSource cannot send an Authorization header)."""
    api = apis(request)
    headers = {"Authorization": f"Bearer {person.token}", "Accept": "text/event-stream"}
    resume = request.headers.get("last-event-id")
    if resume:
        headers["Last-Event-ID"] = resume

    async def relay() -> AsyncIterator[bytes]:
        client: httpx.AsyncClient = request.app.state.http
        try:
            async with client.stream(
                "GET",
                api.url("notifications", "/v1/feed/stream"),
                headers=headers,
                timeout=httpx.Timeout(10.0, read=60.0),  # the service pings every 15 s
            ) as upstream:
                if upstream.status_code != 200:
                    log.info("live feed refused", status=upstream.status_code)
                    return
                async for chunk in upstream.aiter_bytes():
                    yield chunk
        except httpx.HTTPError as exc:
            log.info("live feed ended", error=type(exc).__name__)

    return StreamingResponse(
        relay(),
        media_type="text/event-stream",
        headers={"X-Accel-Buffering": "no"},
    )
