"""Coordinator, référent and partner forms: what they send, and how refusals come back."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta

import httpx
from fastapi.testclient import TestClient

from relais_web.devidp.users import DemoUser
from relais_web.forms.situation import consent_body, scope_errors
from relais_web.pages.coordinator import attendees, decision_body, inbox_lines, today
from relais_web.pages.partner import answer_body

from .helpers import FakeApis

SITUATION = "b185e2df-16a6-4b6f-b83e-c86f16d1e1f9"


def _line(opened_days_ago: int, due_in_days: int, ident: str) -> dict[str, object]:
    opened = today() - timedelta(days=opened_days_ago)
    return {
        "id": ident,
        "opened_at": f"{opened.isoformat()}T10:00:00+00:00",
        "review_due_on": (today() + timedelta(days=due_in_days)).isoformat(),
        "institution_ids": ["ecole-jules-ferry-rouen"],
        "facts": [],
    }


def test_the_inbox_puts_overdue_situations_first_then_the_oldest() -> None:
    lines = inbox_lines(
        [_line(3, 10, "recent"), _line(20, -2, "late"), _line(9, 5, "older")],
        {"ecole-jules-ferry-rouen": "École élémentaire Jules Ferry"},
    )
    assert [line["id"] for line in lines] == ["late", "older", "recent"]
    assert lines[0]["overdue"] is True
    assert lines[0]["days_waiting"] == 20
    assert lines[0]["senders"] == ["École élémentaire Jules Ferry"]


def test_a_decision_sends_only_the_fields_that_go_with_it() -> None:
    form = {
        "situation_id": SITUATION,
        "decision": "decline",
        "decline_reason": "family_unreachable",
        "axes": ["health"],
        "redirected_to": "left over from another choice",
        "note": "Trois appels sans réponse.",
    }
    assert decision_body(form) == {
        "situation_id": SITUATION,
        "decision": "decline",
        "decline_reason": "family_unreachable",
        "note": "Trois appels sans réponse.",
    }


def test_attendees_are_one_per_line_name_organisation_function() -> None:
    assert attendees("Nadia Benali, PRE de Rouen, coordinatrice\n\nDr Roussel, CMPP") == [
        {"name": "Nadia Benali", "organisation": "PRE de Rouen", "role": "coordinatrice"},
        {"name": "Dr Roussel", "organisation": "CMPP"},
    ]


def test_consent_scope_lists_only_the_partners_ticked_and_maps_errors_back() -> None:
    form = {
        "form": "signed",
        "given_at": (date.today() - timedelta(days=2)).isoformat(),
        "guardians.0.label": "Mère",
        "guardians.0.relationship": "mother",
        "sole_guardian_reason": "Père absent.",
        "scope.clas-saint-sever": "schooling",
        "scope.cmpp-rouen-rive-gauche": ["identity_and_contact", "health"],
    }
    body, order = consent_body(form, ["cmpp-rouen-rive-gauche", "orthophonie", "clas-saint-sever"])
    assert body["guardians"] == [{"label": "Mère", "relationship": "mother"}]
    assert body["scope"] == [
        {
            "partner_id": "cmpp-rouen-rive-gauche",
            "data_categories": ["identity_and_contact", "health"],
        },
        {"partner_id": "clas-saint-sever", "data_categories": ["schooling"]},
    ]
    assert body["given_at"].endswith(("+01:00", "+02:00"))
    errors = scope_errors({"scope.1.data_categories": "Catégorie hors accord."}, order)
    assert errors["scope.clas-saint-sever"] == "Catégorie hors accord."


def test_each_partner_answer_carries_its_own_field() -> None:
    assert answer_body("waitlist", {"expected_start_on": "2027-01-04"}) == {
        "expected_start_on": "2027-01-04"
    }
    assert answer_body("decline", {"reason": "no_capacity", "starts_on": "x"}) == {
        "reason": "no_capacity"
    }
    assert answer_body("accept", {}) == {}


def test_over_the_caseload_limit_the_refusal_is_shown_at_the_reason_field(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("coordinator")
    message = "Camille Morel suit déjà 30 situation(s) pour une limite de 30."

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            return httpx.Response(409, json={"code": "caseload_full", "message": message})
        if request.url.path == "/v1/referents":
            return httpx.Response(
                200,
                json=[
                    {
                        "id": "c4d9",
                        "display_name": "Camille Morel",
                        "caseload": 30,
                        "caseload_limit": None,
                        "active": True,
                    }
                ],
            )
        if request.url.path == "/v1/settings":
            return httpx.Response(200, json={"caseload_limit": 30})
        return httpx.Response(200, json=[])

    apis.handler = answer
    response = client.post(
        f"/coordination/situations/{SITUATION}/referent",
        data={"csrf_token": "csrf-ok", "referent_id": "c4d9"},
    )
    assert response.status_code == 409
    assert 'id="override_reason-erreur"' in response.text
    assert "limite atteinte" in response.text
    assert json.loads(apis.calls[0].content) == {"referent_id": "c4d9"}


def test_a_partner_cannot_open_the_coordination_pages(
    client: TestClient, sign_in: Callable[[str], DemoUser]
) -> None:
    sign_in("partner")
    assert client.get("/coordination/a-examiner").status_code == 403
    assert client.get(f"/situations/{SITUATION}").status_code == 403
