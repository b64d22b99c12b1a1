"""Institution pages against a fake of the referral API: the fiche, its errors, the timeline."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import httpx
from fastapi.testclient import TestClient
from markupsafe import escape

from relais_web.devidp.users import DemoUser

from .helpers import FakeApis

REFERRAL_ID = "b870c029-c823-4076-bdeb-9eaac1ed4dfb"
FILLED = {
    "csrf_token": "csrf-ok",
    "idempotency_key": "k-1",
    "child.first_name": "Lina",
    "child.last_name": "Martin",
    "child.birth_date": "2030-01-01",
    "child.school_level": "ce2",
    "child.lives_in_qpv": "unknown",
    "guardians.0.first_name": "Sofia",
    "guardians.0.last_name": "Martin",
    "guardians.0.relationship": "mother",
    "guardians.0.parental_authority": "yes",
    "guardians.0.phone": "06 12 34 56 78",
    "guardians.0.languages": "fr, ar",
    "guardians.1.relationship": "father",
    "guardians.1.parental_authority": "unknown",
    "guardians.1.languages": "fr",
    "reasons.categories": ["learning_difficulties", "speech"],
    "reasons.description": "Difficultés de lecture.",
    "axes": "schooling",
    "parents_informed": "yes",
    "parents_agree": "yes",
    "referrer.name": "Mme Durand",
    "referrer.role": "directrice",
    "referrer.email": "direction@ecole.example",
}


def view(status: str = "received") -> dict[str, object]:
    return {
        "id": REFERRAL_ID,
        "pre_id": "pre-76540",
        "institution_id": "ecole-jules-ferry-rouen",
        "status": status,
        "submitted_at": "2026-12-03T08:00:00Z",
        "updated_at": "2026-12-03T08:05:00Z",
        "known_subject": False,
        "channel": "http",
        "timeline": [
            {"status": "received", "at": "2026-12-03T08:00:00Z"},
            {"status": "under_review", "at": "2026-12-03T08:00:01Z"},
            *([{"status": status, "at": "2026-12-04T09:00:00Z"}] if status != "received" else []),
        ],
        "referral": {
            "child": {
                "first_name": "Lina",
                "last_name": "Martin",
                "birth_date": "2017-03-14",
                "school_level": "ce2",
            },
            "guardians": [{"first_name": "Sofia", "last_name": "Martin", "relationship": "mother"}],
            "reasons": {"categories": ["speech"], "description": "Difficultés de lecture."},
            "axes": ["schooling"],
            "parents_informed": True,
            "parents_agree": True,
        },
    }


def test_the_fiche_is_sent_as_the_api_body_with_an_idempotency_key(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("institution")
    apis.handler = lambda request: httpx.Response(201, json=view())
    response = client.post("/orientations/nouvelle", data=FILLED)
    assert response.status_code == 303
    assert response.headers["location"] == f"/orientations/{REFERRAL_ID}?envoyee=1"
    sent = apis.calls[0]
    assert sent.headers["Idempotency-Key"] == "k-1"
    assert sent.headers["Authorization"] == "Bearer token-of-directrice-demo"
    body = json.loads(sent.content)
    assert body["pre_id"] == "pre-76540"
    assert body["child"] == {
        "first_name": "Lina",
        "last_name": "Martin",
        "birth_date": "2030-01-01",
        "school_level": "ce2",
        "lives_in_qpv": "unknown",
    }
    # the untouched second guardian block is not sent; the first keeps what was typed
    assert len(body["guardians"]) == 1
    assert body["guardians"][0]["languages"] == ["fr", "ar"]
    assert body["guardians"][0]["parental_authority"] is True
    assert body["reasons"]["categories"] == ["learning_difficulties", "speech"]
    assert body["axes"] == ["schooling"]
    assert (body["parents_informed"], body["parents_agree"]) == (True, True)


def test_the_apis_field_errors_are_shown_beside_each_field_and_the_form_is_kept(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("institution")
    apis.handler = lambda request: httpx.Response(
        422,
        json={
            "code": "validation_error",
            "message": "La requête contient des erreurs.",
            "errors": [
                {
                    "field": "child.birth_date",
                    "code": "date_in_future",
                    "message": "La date ne peut pas être dans le futur.",
                },
                {"field": "axes", "code": "too_short", "message": "Choisissez au moins un axe."},
            ],
        },
    )
    response = client.post("/orientations/nouvelle", data=FILLED)
    page = response.text
    assert response.status_code == 422
    field = re.search(r'<input[^>]*id="child-birth_date"[^>]*>', page)
    assert field is not None
    assert 'aria-invalid="true"' in field[0]
    assert 'aria-describedby="child-birth_date-erreur"' in field[0]
    assert 'value="2030-01-01"' in field[0]
    assert (
        '<p id="child-birth_date-erreur" class="fr-error-text">'
        "La date ne peut pas être dans le futur.</p>" in page
    )
    assert 'id="axes-erreur"' in page
    assert 'href="#child-birth_date"' in page  # the summary links to the field
    assert 'value="Lina"' in page
    assert 'id="reasons-categories-speech" name="reasons.categories" value="speech" checked' in page
    assert 'name="idempotency_key" value="k-1"' in page  # a corrected re-send is the same fiche


def test_without_the_parents_agreement_the_refusal_is_shown_at_that_question(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("institution")
    message = "Sans l'accord des parents, l'orientation ne peut pas être envoyée au PRE."
    apis.handler = lambda request: httpx.Response(
        422, json={"code": "parents_agreement_required", "message": message}
    )
    page = client.post("/orientations/nouvelle", data={**FILLED, "parents_agree": "no"}).text
    assert (
        f'<p id="parents_agree-erreur" class="fr-message fr-message--error">{escape(message)}'
        in page
    )


def test_the_referral_page_shows_the_timeline_without_identity_in_its_title(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("institution")
    apis.handler = lambda request: httpx.Response(200, json=view("taken_up"))
    page = client.get(f"/orientations/{REFERRAL_ID}").text
    title = re.search(r"<title>(.*?)</title>", page)
    assert title is not None
    assert "Lina" not in title[1]
    assert "Martin" not in title[1]
    assert "Enfant pris en charge par le PRE" in page
    assert escape("En cours d'examen par l'équipe du PRE") in page
    assert "Retirer l'orientation" not in page  # too late once taken up


def test_a_referral_not_yet_taken_up_can_be_withdrawn(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("institution")
    apis.handler = lambda request: httpx.Response(200, json=view("under_review"))
    assert "Retirer l'orientation" in client.get(f"/orientations/{REFERRAL_ID}").text
    response = client.post(f"/orientations/{REFERRAL_ID}/retrait", data={"csrf_token": "csrf-ok"})
    assert response.status_code == 303
    assert [(c.method, c.url.path) for c in apis.calls][-1] == (
        "POST",
        f"/v1/referrals/{REFERRAL_ID}/withdraw",
    )


def test_a_withdrawal_the_api_refuses_says_why_on_the_page(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("institution")
    too_late = "Le PRE a déjà pris en charge cet enfant : l'orientation ne peut plus être retirée."

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(
                409, json={"code": "referral_not_withdrawable", "message": too_late}
            )
        return httpx.Response(200, json=view("taken_up"))

    apis.handler = answer
    response = client.post(f"/orientations/{REFERRAL_ID}/retrait", data={"csrf_token": "csrf-ok"})
    assert response.status_code == 409
    assert escape(too_late) in response.text


def test_another_role_gets_the_french_403_page(
    client: TestClient, sign_in: Callable[[str], DemoUser]
) -> None:
    sign_in("partner")
    response = client.get("/orientations/nouvelle")
    assert response.status_code == 403
    assert "Cette page ne vous est pas accessible" in response.text
    assert "demandez à la coordination de votre PRE" in response.text


def test_an_expired_token_sends_back_to_sign_in_then_to_this_page(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("institution")
    apis.handler = lambda request: httpx.Response(401, json={"code": "token_expired"})
    response = client.get("/orientations?statut=taken_up")
    assert response.status_code == 303
    assert response.headers["location"] == "/connexion?suite=%2Forientations%3Fstatut%3Dtaken_up"


def test_a_malformed_referral_id_is_a_404_without_calling_the_api(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("institution")
    assert client.get("/orientations/not-a-uuid").status_code == 404
    assert apis.calls == []
