"""Notice links, the live feed relay and the analyst's dashboard, against fake APIs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx
from fastapi.testclient import TestClient

from relais_web.devidp.users import DemoUser
from relais_web.pages.analyst import school_years

from .helpers import FakeApis

ID = "2bb42bd4-042f-41ad-9246-e6a749224204"
SITUATION = "b185e2df-16a6-4b6f-b83e-c86f16d1e1f9"


def test_a_notice_link_opens_after_sign_in(client: TestClient) -> None:
    response = client.get(f"/v1/referrals/{ID}")
    assert response.status_code == 303
    assert response.headers["location"] == f"/connexion?suite=%2Fv1%2Freferrals%2F{ID}"


def test_a_referral_notice_opens_the_referral_page(
    client: TestClient, sign_in: Callable[[str], DemoUser]
) -> None:
    sign_in("institution")
    assert client.get(f"/v1/referrals/{ID}").headers["location"] == f"/orientations/{ID}"


def test_a_handover_notice_opens_the_partners_page_or_the_situation_for_the_team(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("partner")
    assert client.get(f"/v1/handovers/{ID}").headers["location"] == f"/relais/{ID}"
    sign_in("referent")
    apis.handler = lambda request: httpx.Response(200, json={"situation_id": SITUATION})
    location = client.get(f"/v1/handovers/{ID}").headers["location"]
    assert location == f"/situations/{SITUATION}#relais"


def test_the_live_feed_relays_the_services_events_with_the_persons_token(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("institution")
    stream = b'event: unread\r\ndata: {"unread": 2}\r\n\r\n'
    apis.handler = lambda request: httpx.Response(
        200, content=stream, headers={"content-type": "text/event-stream"}
    )
    response = client.get("/notifications/flux", headers={"Last-Event-ID": "41-3"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.content == stream
    upstream = apis.calls[0]
    assert upstream.url.path == "/v1/feed/stream"
    assert upstream.headers["Authorization"] == "Bearer token-of-directrice-demo"
    assert upstream.headers["Last-Event-ID"] == "41-3"


def test_the_notifications_page_lists_the_feed_and_loads_the_live_script(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("partner")
    apis.handler = lambda request: httpx.Response(
        200,
        json={
            "items": [
                {
                    "id": ID,
                    "kind": "handover_requested",
                    "title": "Nouveau relais à traiter.",
                    "link": f"http://web.test/v1/handovers/{ID}",
                    "created_at": "2026-12-03T08:00:00Z",
                    "read_at": None,
                }
            ],
            "unread": 1,
            "limit": 100,
            "offset": 0,
        },
    )
    page = client.get("/notifications").text
    assert f'<a href="http://web.test/v1/handovers/{ID}">Nouveau relais à traiter.</a>' in page
    assert '<script src="/static/relais/feed.js" defer></script>' in page
    assert client.get("/static/relais/feed.js").status_code == 200


def test_school_years_start_in_september() -> None:
    assert school_years(datetime(2026, 12, 3)) == ["2026-2027", "2025-2026", "2024-2025"]
    assert school_years(datetime(2027, 6, 30))[0] == "2026-2027"


def test_an_institution_cannot_open_the_dashboard(
    client: TestClient, sign_in: Callable[[str], DemoUser]
) -> None:
    sign_in("institution")
    assert client.get("/tableau-de-bord").status_code == 403
