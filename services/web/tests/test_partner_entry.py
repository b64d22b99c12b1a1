"""A partner proposes changes to its directory entry; the coordination validates them.
The web pages against fake APIs (parcours' rules are tested in parcours)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
from fastapi.testclient import TestClient

from relais_web.devidp.users import DemoUser

from .helpers import FakeApis

CMPP = "cmpp-rouen-rive-gauche"
CHANGE = "6f1c2a7e-9a53-4d5e-8f0b-2c1d3e4f5a6b"
OLD = "0b8e1f2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
ENTRY: dict[str, Any] = {
    "id": CMPP,
    "pre_id": "pre-76540",
    "name": "CMPP Rouen rive gauche",
    "category": "cmpp",
    "description": "Consultations pour enfants.",
    "email": "accueil@cmpp.example",
    "website": None,
    "services": [{"id": "bilan", "name": "Bilan", "wait_time_days": 45}],
    "locations": [],
    "contacts": [],
}
PROPOSED = {
    **ENTRY,
    "services": [{"id": "bilan", "name": "Bilan", "wait_time": "2 mois", "wait_time_days": 60}],
}
PENDING = {
    "id": CHANGE,
    "partner_id": CMPP,
    "parts": ["services"],
    "status": "pending",
    "proposed_at": "2026-12-02T09:00:00Z",
    "decided_at": None,
    "reason": None,
    "proposed": PROPOSED,
}
REJECTED = {
    **PENDING,
    "id": OLD,
    "parts": ["description"],
    "status": "rejected",
    "decided_at": "2026-11-20T10:00:00Z",
    "reason": "Merci de ne pas citer de tarif.",
}
FIELD_ERROR = {
    "code": "validation_error",
    "message": "La requête contient des erreurs.",
    "errors": [
        {"field": "website", "code": "url_parsing", "message": "Adresse internet invalide."}
    ],
}


def parcours(request: httpx.Request) -> httpx.Response:
    """The partner's entry, its changes, the directory's pending ones; writes accepted."""
    path = request.url.path
    if request.method != "GET":
        return httpx.Response(204 if "/directory/" in path else 201, json=PENDING)
    if path == f"/v1/partners/{CMPP}":
        return httpx.Response(200, json=ENTRY)
    if path == f"/v1/partners/{CMPP}/changes":
        return httpx.Response(200, json=[PENDING, REJECTED])
    if path == "/v1/directory/changes":
        return httpx.Response(200, json=[PENDING])
    if path == f"/v1/directory/changes/{CHANGE}":
        return httpx.Response(200, json={**PENDING, "published": ENTRY})
    if path == "/v1/partners":
        return httpx.Response(200, json=[ENTRY])
    return httpx.Response(404, json={"code": "not_found"})


def test_a_partner_sees_its_entry_the_proposal_waiting_and_why_one_was_refused(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("partner")
    apis.handler = parcours
    page = client.get("/relais/annuaire")
    assert page.status_code == 200
    text = page.text
    assert "Proposition en attente de validation" in text
    # the published waiting time beside the proposed one
    assert "Bilan — attente : 45 jours" in text
    assert "Bilan — attente : 2 mois (60 jours)" in text
    assert "Refusée le 20 novembre 2026 : « Merci de ne pas citer de tarif. »" in text
    # the wait-time form starts from the proposal waiting (a new one completes it)
    assert 'id="service-bilan-wait_time" name="wait_time" value="2 mois"' in text


def test_a_partner_proposes_its_presentation_and_an_emptied_field_is_removed(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("partner")
    apis.handler = parcours
    response = client.post(
        "/relais/annuaire/presentation",
        data={
            "csrf_token": "csrf-ok",
            "description": " Bilans et soins pour les 3-18 ans. ",
            "email": "",
            "website": "https://cmpp.example",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/relais/annuaire?envoye=1"
    assert apis.bodies("POST", f"/v1/partners/{CMPP}/changes") == [
        {
            "description": "Bilans et soins pour les 3-18 ans.",
            "email": None,
            "website": "https://cmpp.example",
        }
    ]
    assert "Proposition envoyée" in client.get("/relais/annuaire?envoye=1").text


def test_a_refused_presentation_is_explained_beside_its_field_with_what_was_typed(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("partner")

    def refuse(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(422, json=FIELD_ERROR)
        return parcours(request)

    apis.handler = refuse
    response = client.post(
        "/relais/annuaire/presentation",
        data={"csrf_token": "csrf-ok", "description": "x", "email": "", "website": "cmpp"},
    )
    assert response.status_code == 422
    assert 'id="presentation-website-erreur"' in response.text
    assert "Adresse internet invalide." in response.text
    assert 'value="cmpp"' in response.text
    assert 'href="#presentation-website"' in response.text


def test_a_partner_proposes_a_services_waiting_time_in_words_and_in_days(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("partner")
    apis.handler = parcours
    response = client.post(
        "/relais/annuaire/services/bilan/attente",
        data={"csrf_token": "csrf-ok", "wait_time": "3 semaines", "wait_time_days": "21"},
    )
    assert response.status_code == 303
    assert apis.bodies("PUT", f"/v1/partners/{CMPP}/services/bilan/wait-time") == [
        {"wait_time": "3 semaines", "wait_time_days": 21}
    ]


def test_the_coordination_lists_the_proposals_and_compares_one_with_the_entry(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("coordinator")
    apis.handler = parcours
    listed = client.get("/annuaires/propositions")
    assert listed.status_code == 200
    assert "CMPP Rouen rive gauche" in listed.text
    assert f'href="/annuaires/propositions/{CHANGE}"' in listed.text
    page = client.get(f"/annuaires/propositions/{CHANGE}")
    assert page.status_code == 200
    assert "<td>Bilan — attente : 45 jours</td><td>Bilan — attente : 2 mois (60 jours)</td>" in (
        page.text
    )
    assert "Valider et publier" in page.text


def test_the_coordination_approves_or_rejects_with_a_reason_for_the_partner(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("coordinator")
    apis.handler = parcours
    approved = client.post(
        f"/annuaires/propositions/{CHANGE}/decision",
        data={"csrf_token": "csrf-ok", "decision": "approve"},
    )
    assert approved.headers["location"] == "/annuaires/propositions?fait=validee"
    assert [r.url.path for r in apis.calls if r.method == "POST"] == [
        f"/v1/directory/changes/{CHANGE}/approval"
    ]
    rejected = client.post(
        f"/annuaires/propositions/{CHANGE}/decision",
        data={"csrf_token": "csrf-ok", "decision": "reject", "reason": "Pas de tarif, merci."},
    )
    assert rejected.headers["location"] == "/annuaires/propositions?fait=refusee"
    assert apis.bodies("POST", f"/v1/directory/changes/{CHANGE}/rejection") == [
        {"reason": "Pas de tarif, merci."}
    ]


def test_a_rejection_without_a_reason_is_sent_back_with_the_apis_message(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("coordinator")

    def refuse(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            error = {**FIELD_ERROR, "errors": [{**FIELD_ERROR["errors"][0], "field": "reason"}]}
            error["errors"][0]["message"] = "Au moins 3 caractères."
            return httpx.Response(422, content=json.dumps(error).encode())
        return parcours(request)

    apis.handler = refuse
    response = client.post(
        f"/annuaires/propositions/{CHANGE}/decision",
        data={"csrf_token": "csrf-ok", "decision": "reject", "reason": ""},
    )
    assert response.status_code == 422
    assert 'id="refus-reason-erreur"' in response.text
    assert "Au moins 3 caractères." in response.text


def test_a_partner_cannot_open_the_coordinations_proposals(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("partner")
    apis.handler = parcours
    response = client.get("/annuaires/propositions")
    assert response.status_code == 403
    assert "Cette page ne vous est pas accessible" in response.text
    assert not apis.calls
