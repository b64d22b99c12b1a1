"""The coordination's page of the families' requests (correction, erasure): the list with
the legal month and the days left, overdue first, and the answer form that sends the
decision and its reason to parcours, keeping the form and the API's French errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from fastapi.testclient import TestClient

from relais_web.devidp.users import DemoUser
from relais_web.pages.coordinator import today
from relais_web.pages.family_requests import request_lines

from .helpers import FakeApis

SITUATION = "b185e2df-16a6-4b6f-b83e-c86f16d1e1f9"
LATE = "0d6f3c1e-5b7a-4a43-9a8e-2f1c6d7e8a90"
SOON = "5a2b9c4d-1e3f-4a5b-8c7d-9e0f1a2b3c4d"
DONE = "9c8b7a6d-5e4f-4d3c-8b2a-1f0e9d8c7b6a"
ANSWERS = f"/v1/family-requests/{SOON}/answer"


def _request(ident: str, kind: str, due_in_days: int, **extra: Any) -> dict[str, Any]:
    due = today() + timedelta(days=due_in_days)
    return {
        "id": ident,
        "situation_id": SITUATION,
        "guardian": 0,
        "kind": kind,
        "details": "Le nom de l'école est faux : c'est l'école Jules Ferry.",
        "status": "open",
        "made_at": f"{(due - timedelta(days=30)).isoformat()}T09:00:00+00:00",
        "due_on": due.isoformat(),
        "overdue": due < today(),
        "answered_at": None,
        "answered_by": None,
        "answer": None,
        **extra,
    }


REQUESTS = [
    _request(
        DONE,
        "erasure",
        10,
        status="answered",
        answered_at="2026-12-01T10:00:00+00:00",
        answer="Demande acceptée. Les données ont été effacées.",
    ),
    _request(SOON, "correction", 5),
    _request(LATE, "erasure", -3),
]


def _parcours(refusal: httpx.Response | None = None) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return refusal or httpx.Response(204)
        if request.url.path == "/v1/family-requests":
            return httpx.Response(200, json=REQUESTS)
        return httpx.Response(404, json={"code": "not_found"})

    return answer


def test_open_requests_come_first_the_overdue_at_the_top_with_their_days_left() -> None:
    lines = request_lines(REQUESTS, today())
    assert [line["id"] for line in lines] == [LATE, SOON, DONE]
    assert lines[0]["overdue"] is True
    assert lines[0]["days_left"] == -3
    assert lines[1]["days_left"] == 5
    assert lines[2]["overdue"] is False  # answered: no longer late, whatever its date


def test_the_coordinator_reaches_the_list_from_home_and_sees_kind_deadline_and_status(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("coordinator")
    apis.handler = _parcours()
    assert 'href="/coordination/demandes-des-familles"' in client.get("/").text
    page = client.get("/coordination/demandes-des-familles")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "<title>Demandes des familles" in page.text
    text = page.text
    assert text.index(LATE) < text.index(SOON) < text.index(DONE)
    assert "En retard de 3 jours" in text
    assert "5 jours restants" in text
    assert "Rectification" in text
    assert "Effacement" in text
    assert "répondue le 1er décembre 2026" in text
    assert apis.calls[-1].url.params["limit"] == "500"


def test_an_answer_sends_the_decision_and_its_reason_then_returns_to_the_list(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("coordinator")
    apis.handler = _parcours()
    form = client.get(f"/coordination/demandes-des-familles/{SOON}")
    assert form.status_code == 200
    assert "faux : c&#39;est l&#39;école Jules Ferry" in form.text
    assert f'href="/situations/{SITUATION}"' in form.text
    response = client.post(
        f"/coordination/demandes-des-familles/{SOON}",
        data={"csrf_token": "csrf-ok", "outcome": "accept", "answer": "École rectifiée."},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/coordination/demandes-des-familles"
    assert apis.bodies("POST", ANSWERS) == [{"answer": "Demande acceptée. École rectifiée."}]


def test_without_a_decision_the_form_comes_back_in_french_and_nothing_is_sent(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("coordinator")
    apis.handler = _parcours()
    response = client.post(
        f"/coordination/demandes-des-familles/{SOON}",
        data={"csrf_token": "csrf-ok", "answer": "Pas encore décidé."},
    )
    assert response.status_code == 422
    assert 'id="outcome-erreur"' in response.text
    assert "Choisissez : accepter ou refuser la demande." in response.text
    assert "Pas encore décidé.</textarea>" in response.text
    assert apis.bodies("POST", ANSWERS) == []


def test_the_apis_refusal_of_an_empty_reason_is_shown_beside_the_reason_with_the_form_kept(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("coordinator")
    refusal = httpx.Response(
        422,
        json={
            "code": "validation_error",
            "message": "La demande contient des erreurs.",
            "errors": [
                {
                    "field": "answer",
                    "code": "string_too_short",
                    "message": "Ce champ ne peut pas être vide.",
                }
            ],
        },
    )
    apis.handler = _parcours(refusal)
    response = client.post(
        f"/coordination/demandes-des-familles/{SOON}",
        data={"csrf_token": "csrf-ok", "outcome": "refuse", "answer": ""},
    )
    assert response.status_code == 422
    assert 'id="answer-erreur"' in response.text
    assert "Ce champ ne peut pas être vide." in response.text
    assert 'value="refuse" checked' in response.text
    assert apis.bodies("POST", ANSWERS) == [{"answer": ""}]


def test_an_answered_request_shows_its_answer_and_no_form(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("coordinator")
    apis.handler = _parcours()
    page = client.get(f"/coordination/demandes-des-familles/{DONE}")
    assert "Demande acceptée. Les données ont été effacées." in page.text
    assert '<form method="post" action="/coordination/demandes-des-familles' not in page.text
    missing = "11111111-2222-4333-8444-555555555555"
    assert client.get(f"/coordination/demandes-des-familles/{missing}").status_code == 404


def test_an_answer_without_the_session_csrf_token_is_refused_and_not_sent(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("coordinator")
    apis.handler = _parcours()
    response = client.post(
        f"/coordination/demandes-des-familles/{SOON}",
        data={"csrf_token": "forged", "outcome": "accept", "answer": "Fait."},
    )
    assert response.status_code == 403
    assert apis.bodies("POST", ANSWERS) == []


def test_a_referent_cannot_open_the_families_requests(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("referent")
    apis.handler = _parcours()
    assert client.get("/coordination/demandes-des-familles").status_code == 403
    assert apis.calls == []
