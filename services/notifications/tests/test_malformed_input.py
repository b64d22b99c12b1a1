"""Input PostgreSQL or the URL parser cannot take gets a 4xx naming its field, never a 500."""

from __future__ import annotations

import pytest

from relais_notifications.entrypoints.http import _resume_cursor

from .conftest import ServiceFactory

pytestmark = pytest.mark.integration

SCHOOL = "ecole-jules-ferry"


async def test_an_offset_beyond_any_page_is_refused_on_its_field(
    start_service: ServiceFactory,
) -> None:
    service = await start_service()
    school = service.token("institution", SCHOOL)
    # Larger than PostgreSQL's bigint: used to reach the database and give a 500.
    for path in ["/v1/feed", "/v1/subscriptions", "/v1/webhooks", "/v1/deliveries"]:
        r = await service.http.get(f"{path}?offset={2**70}", headers=school)
        assert r.status_code == 422, (path, r.text)
        assert [(e["field"], e["code"]) for e in r.json()["errors"]] == [
            ("query.offset", "less_than_equal")
        ], path


async def test_a_nul_character_in_a_body_is_refused_on_its_field(
    start_service: ServiceFactory,
) -> None:
    service = await start_service()
    school = service.token("institution", SCHOOL)
    for path, body, field in [
        ("/v1/subscriptions", {"channel": "email", "email": "a\u0000@ecole.example"}, "email"),
        ("/v1/webhooks", {"url": "https://hooks\u0000.example/relais"}, "url"),
    ]:
        r = await service.http.post(path, json=body, headers=school)
        assert r.status_code == 422, (path, r.text)
        [error] = r.json()["errors"]
        assert (error["field"], error["code"]) == (field, "nul_character")
        assert "caractère nul" in error["message"]


async def test_a_webhook_url_the_parser_refuses_is_an_invalid_url(
    start_service: ServiceFactory,
) -> None:
    service = await start_service()
    r = await service.http.post(
        "/v1/webhooks",
        json={"url": "https://[::1/relais"},  # urlsplit raises ValueError: was a 500
        headers=service.token("institution", SCHOOL),
    )
    assert (r.status_code, r.json()["code"]) == (422, "webhook_url_invalid")


@pytest.mark.parametrize(
    "last_event_id", ["\u00b2-1", "1-\u00b2", "\u00b2", "9" * 30, "9" * 30 + "-1"]
)
async def test_a_last_event_id_that_is_not_a_cursor_resumes_from_now(
    start_service: ServiceFactory, last_event_id: str
) -> None:
    # "²" passes str.isdigit() but not int(), and 30 digits overflow PostgreSQL's bigint:
    # both used to break the live stream.
    service = await start_service()
    # "Now" is the cluster's snapshot horizon, which other transactions move on: the cursor
    # must be a fresh start read between two fresh starts, not equal to one read apart.
    async with service.runtime.pool.acquire() as conn:
        before = await _resume_cursor(conn, "pre-76540", "")
        resumed = await _resume_cursor(conn, "pre-76540", last_event_id)
        after = await _resume_cursor(conn, "pre-76540", "")
    assert resumed[1] == 0
    assert before[0] <= resumed[0] <= after[0]
