"""Every link a notice carries opens the matching web page for each person it goes to.

Notifications writes one link per notice, the same in the feed, the e-mail (each and the
daily digest) and the webhook/AMQP body (``link``); with its bases set to the web pages
(devstack, deploy), that link lands on relais-web. For every rule of the notifications
service and every example event of the contracts, each recipient of the notice, signed
in with its role, is sent to a page its role may open (which then asks the API for the
item); without a session, to the sign-in and back. The web runs in process, the APIs are
a fake transport (no stack: the pages' own tests and the browser tests cover the rest).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from relais_contracts.base import Message
from relais_notifications.domain.audience import RULES, Links, Recipient, notice_for
from relais_web.config import WebSettings
from relais_web.devidp.users import DEMO_USERS
from relais_web.main import create_app
from relais_web.testing import offline_settings, session_cookie

WEB = "http://web.test"
SITUATION = "b185e2df-16a6-4b6f-b83e-c86f16d1e1f9"


def samples() -> Iterator[Message]:
    for model in RULES:
        extra: Any = model.model_config.get("json_schema_extra")
        for example in extra["examples"]:
            yield model.model_validate(example)


def role_of(recipient: Recipient, event: Message) -> str:
    """Who a recipient is: a role, a référent (users are référents), or an organisation."""
    if recipient.kind == "role":
        return recipient.id
    if recipient.kind == "user":
        return "referent"
    if recipient.id == getattr(event, "partner_id", None):
        return "partner"
    assert recipient.id == getattr(event, "institution_id", None), recipient
    return "institution"


CASES = [
    pytest.param(event, role, id=f"{type(event).__name__}-{i}-{role}")
    for i, event in enumerate(samples())
    if notice_for(event, Links(WEB, WEB)).link
    for role in sorted({role_of(r, event) for r in notice_for(event, Links(WEB, WEB)).audience})
]


@pytest.fixture
def settings() -> WebSettings:
    return offline_settings()


def answer(request: httpx.Request, *, following_link: bool) -> httpx.Response:
    """While the link is followed a handover names its situation (the team's page is the
    situation's); the page opened then finds its item unknown (its 404)."""
    if following_link and request.url.path.startswith("/v1/handovers/"):
        return httpx.Response(200, json={"situation_id": SITUATION})
    return httpx.Response(404, json={"code": "not_found", "message": "Introuvable."})


def test_every_link_kind_the_notifications_service_emits_is_covered() -> None:
    kinds = {
        urlsplit(notice_for(e, Links(WEB, WEB)).link).path.split("/")[2]
        for e in samples()
        if notice_for(e, Links(WEB, WEB)).link
    }
    assert kinds == {"referrals", "situations", "handovers"}
    assert {role for case in CASES for role in case.values[1:]} == {
        "institution",
        "coordinator",
        "referent",
        "partner",
    }


@pytest.mark.parametrize(("event", "role"), CASES)
def test_a_notice_link_opens_the_recipients_page_after_sign_in(
    settings: WebSettings, event: Message, role: str
) -> None:
    calls: list[httpx.Request] = []
    following_link = True

    def api(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return answer(request, following_link=following_link)

    link = urlsplit(notice_for(event, Links(WEB, WEB)).link)
    app = create_app(settings, transport=httpx.MockTransport(api))
    with TestClient(app, base_url=WEB, follow_redirects=False) as client:
        # Not signed in: the provider's sign-in, then back to this very link.
        anonymous = client.get(link.path)
        assert anonymous.status_code == 303
        assert anonymous.headers["location"] == f"/connexion?suite={quote(link.path, safe='')}"

        user = next(u for u in DEMO_USERS if u.role == role)
        client.cookies.set(settings.session_cookie, session_cookie(settings, user))
        opened = client.get(link.path)
        assert opened.status_code == 303, opened.text[:300]
        target = opened.headers["location"]
        assert not target.startswith(("/v1/", "/connexion")), target
        calls.clear()
        following_link = False
        page = client.get(target.split("#")[0])
    # The role may open that page: it asked the API for the item (unknown here: 404),
    # rather than the French 403 that a page of another role answers before any call.
    assert page.status_code == 404, (target, page.status_code)
    assert "Cette page ne vous est pas accessible" not in page.text
    assert calls, f"{target} answered without asking the API"
    item = link.path.rsplit("/", 1)[1]
    assert any(item in str(c.url) or SITUATION in str(c.url) for c in calls)
