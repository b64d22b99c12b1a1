"""The family's pages: a letter's link and code open a session for one guardian's child,
every page in the family's language (Arabic right to left), withdrawal, requests and
preferences go to parcours with the guardian's token, and a refused letter or token
ends the session with a French sentence."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from relais_web.config import WebSettings
from relais_web.family import i18n
from relais_web.family.session import AttemptLimiter, TooManyAttemptsError
from relais_web.main import create_app

from .helpers import FakeApis

LINK = "Zk3pR9vQ0yT2bX7nL4mH8cW1aS6dF5gJ0eU3iO9kPq4"
SPACE: dict[str, Any] = {
    "language": "ar",
    "languages": ["fr", "ar", "en", "tr", "pt"],
    "channel": None,
    "guardian": {"first_name": "Samira", "last_name": "Ouali", "relationship": "mother"},
    "child_first_name": "Inès",
    "pre_contact": {"name": "PRE de Rouen", "phone": "02 35 00 12 34", "hours": "9 h - 12 h"},
    "referent_first_name": "Camille",
    "consent": {
        "id": "7b0c43a4-6f0e-4a53-9c2e-3b0a3e0f9d11",
        "given_at": "2026-12-01T10:00:00+00:00",
        "valid_until": "2027-06-30",
        "partners": [
            {
                "partner_id": "cmpp-rouen-rive-gauche",
                "name": "CMPP Rouen rive gauche",
                "data_categories": ["health", "identity_and_contact"],
            },
            {
                "partner_id": "clas-saint-sever",
                "name": "CLAS Saint-Sever",
                "data_categories": ["schooling"],
            },
        ],
    },
    "plan": [
        {
            "axis": "health",
            "title": "Bilan",
            "status": "open",
            "actions": [
                {
                    "title": "Bilan orthophonique",
                    "status": "planned",
                    "starts_on": None,
                    "ends_on": None,
                }
            ],
        }
    ],
    "ledger": [
        {
            "read_at": "2026-12-02T09:30:00+00:00",
            "partner_name": "CMPP Rouen rive gauche",
            "data_categories": ["health"],
        }
    ],
    "followup_due_on": None,
    "requests": [],
    "staff_reads": [
        {
            "read_at": "2026-12-02T08:00:00+00:00",
            "organisation": "pre-76540-coordination",
            "role": "referent",
            "field_groups": ["identity.child", "consent"],
        },
        {
            "read_at": "2026-12-02T09:00:00+00:00",
            "organisation": "pre-76540-coordination",
            "role": "coordinator",
            "field_groups": ["family_request.kind", "family_request.details", "consent.scope"],
        },
    ],
    "notices": [],
}


def parcours(space: dict[str, Any] = SPACE, refusal: tuple[int, str] | None = None) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v1/family/sessions":
            body = json.loads(request.content)
            if refusal:
                return httpx.Response(
                    refusal[0], json={"code": refusal[1], "message": MESSAGES[refusal[1]]}
                )
            if body == {"link": LINK, "code": "ABCD-2345"}:
                return httpx.Response(
                    200,
                    json={
                        "access_token": "guardian-token",
                        "token_type": "Bearer",
                        "expires_in": 1800,
                    },
                )
            return httpx.Response(
                401, json={"code": "code_wrong", "message": MESSAGES["code_wrong"]}
            )
        if request.headers.get("authorization") != "Bearer guardian-token":
            return httpx.Response(401, json={"code": "unauthenticated"})
        if path == "/v1/family/space":
            return httpx.Response(200, json=space)
        if path == "/v1/family/consent/withdrawal":
            return httpx.Response(200, json={"partners_cut_off": ["cmpp-rouen-rive-gauche"]})
        if path == "/v1/family/requests":
            return httpx.Response(201, json={})
        if path == "/v1/family/preferences":
            return httpx.Response(204)
        if path == "/v1/family/documents/ledger":
            return httpx.Response(
                200, content=b"%PDF-1.7 ledger", headers={"content-type": "application/pdf"}
            )
        return httpx.Response(404, json={"code": "not_found"})

    return handler


ASK = "Demandez une nouvelle lettre à votre référent·e."
MESSAGES = {
    "code_wrong": "Ce lien ou ce code n'est pas reconnu. Vérifiez le code imprimé sur "
    "votre lettre.",
    "letter_expired": f"Cette lettre a expiré. {ASK}",
    "letter_revoked": f"Cette lettre a été annulée. {ASK}",
}


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def open_space(client: TestClient, code: str = "ABCD-2345") -> httpx.Response:
    letter = client.get(f"/famille/lettre/{LINK}")
    return client.post(
        f"/famille/lettre/{LINK}", data={"code": code, "csrf_token": csrf_of(letter.text)}
    )


def test_the_letter_and_its_code_open_the_space_in_the_guardians_language(
    client: TestClient, apis: FakeApis
) -> None:
    apis.handler = parcours()
    letter = client.get(f"/famille/lettre/{LINK}")
    assert letter.status_code == 200
    assert '<html lang="fr" dir="ltr"' in letter.text
    assert "Code de la lettre" in letter.text

    opened = open_space(client)
    assert opened.status_code == 303
    assert opened.headers["location"] == "/famille"
    space = client.get("/famille")
    assert space.status_code == 200
    assert '<html lang="ar" dir="rtl"' in space.text
    assert "فضاء عائلتكم" in space.text
    assert "CMPP Rouen rive gauche" in space.text
    assert "Camille" in space.text
    assert "Ouali" not in space.text  # the family name is not needed on its own page
    assert space.headers["cache-control"] == "no-store"
    assert "unsafe-inline" not in space.headers["content-security-policy"]
    assert apis.calls[-1].headers["authorization"] == "Bearer guardian-token"


def test_no_page_of_the_space_carries_anything_identifying_in_its_url_or_title(
    client: TestClient, apis: FakeApis
) -> None:
    apis.handler = parcours()
    open_space(client)
    for path in ("/famille", "/famille/registre", "/famille/demandes", "/famille/preferences"):
        page = client.get(path)
        title = re.search(r"<title>(.*?)</title>", page.text, re.S)
        assert page.status_code == 200, path
        assert title is not None
        for word in ("Inès", "Samira", "Ouali", "7b0c43a4"):
            assert word not in title.group(1)
            assert word not in path


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_page_has_a_language_switch_and_switching_keeps_the_page(
    client: TestClient, apis: FakeApis, language: str
) -> None:
    apis.handler = parcours()
    open_space(client)
    page = client.get(f"/famille/registre?langue={language}")
    assert f'<html lang="{language}" dir="{"rtl" if language == "ar" else "ltr"}"' in page.text
    for code, name in i18n.LANGUAGE_NAMES.items():
        assert f'href="/famille/registre?langue={code}" lang="{code}"' in page.text
        assert name in page.text
    again = client.get("/famille")  # the choice stays for the next pages
    assert f'<html lang="{language}"' in again.text


def test_the_ledger_shows_partners_and_staff_reads_in_arabic(
    client: TestClient, apis: FakeApis
) -> None:
    apis.handler = parcours()
    open_space(client)
    page = client.get("/famille/registre").text
    assert "من قرأ ماذا عن طفلكم" in page
    assert "CMPP Rouen rive gauche" in page
    assert "الصحة" in page  # health
    assert "المرافق(ة) المسؤول(ة) عنكم" in page  # the référent, by role, never by name
    assert "هوية الطفل" in page  # what was read: the child's identity
    # The access log's groups of a family's request and of the consent ledger, in words:
    # a bare code is a long word that makes the table scroll on a phone (axe refuses that).
    assert "نص طلبكم" in page  # the words of your request
    assert "family_request" not in page
    assert "consent.scope" not in page


def test_a_wrong_code_shows_the_form_again_with_a_french_message(
    client: TestClient, apis: FakeApis
) -> None:
    apis.handler = parcours()
    refused = open_space(client, code="WXYZ-2345")
    assert refused.status_code == 401
    assert "Vérifiez le code imprimé sur votre lettre" in refused.text
    assert 'name="code"' in refused.text
    assert client.get("/famille").status_code == 401


@pytest.mark.parametrize("code", ["letter_expired", "letter_revoked"])
def test_an_expired_or_revoked_letter_is_refused_in_french_and_offers_no_form(
    client: TestClient, apis: FakeApis, code: str
) -> None:
    apis.handler = parcours(refusal=(403, code))
    client.get(f"/famille/lettre/{LINK}?langue=tr")
    refused = open_space(client)
    assert refused.status_code == 403
    assert MESSAGES[code] in refused.text  # French, always
    assert "Danışmanınızdan yeni bir mektup isteyin" in refused.text  # and in Turkish
    assert 'name="code"' not in refused.text


def test_a_revoked_letter_ends_an_open_session_at_the_next_page(
    client: TestClient, apis: FakeApis
) -> None:
    apis.handler = parcours()
    open_space(client)
    assert client.get("/famille").status_code == 200

    def revoked(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            403, json={"code": "letter_revoked", "message": MESSAGES["letter_revoked"]}
        )

    apis.handler = revoked
    page = client.get("/famille/registre")
    assert page.status_code == 403
    assert "Cette lettre a été annulée" in page.text
    apis.handler = parcours()
    assert client.get("/famille").status_code == 401  # the session is gone from the cookie


def test_withdrawing_for_one_partner_asks_first_then_posts_it_with_the_guardians_token(
    client: TestClient, apis: FakeApis
) -> None:
    apis.handler = parcours()
    open_space(client)
    confirm = client.get("/famille/retrait?partenaire=cmpp-rouen-rive-gauche&langue=fr")
    assert "Oui, retirer mon accord pour ce partenaire" in confirm.text
    done = client.post(
        "/famille/retrait",
        data={"partner_id": "cmpp-rouen-rive-gauche", "csrf_token": csrf_of(confirm.text)},
    )
    assert done.status_code == 303
    assert apis.bodies("POST", "/v1/family/consent/withdrawal") == [
        {"partner_id": "cmpp-rouen-rive-gauche"}
    ]
    assert "Le partage s'est arrêté tout de suite" in client.get(done.headers["location"]).text


def test_a_family_form_without_its_csrf_token_changes_nothing(
    client: TestClient, apis: FakeApis
) -> None:
    apis.handler = parcours()
    open_space(client)
    refused = client.post("/famille/retrait", data={"partner_id": "cmpp-rouen-rive-gauche"})
    assert refused.status_code == 403
    assert apis.bodies("POST", "/v1/family/consent/withdrawal") == []


def test_a_request_and_preferences_reach_parcours(client: TestClient, apis: FakeApis) -> None:
    apis.handler = parcours()
    open_space(client)
    csrf = csrf_of(client.get("/famille/demandes").text)
    sent = client.post(
        "/famille/demandes",
        data={"kind": "correction", "details": "Mon nom s'écrit Ouali.", "csrf_token": csrf},
    )
    assert sent.status_code == 303
    assert apis.bodies("POST", "/v1/family/requests") == [
        {"kind": "correction", "details": "Mon nom s'écrit Ouali."}
    ]
    saved = client.post(
        "/famille/preferences", data={"language": "pt", "channel": "sms", "csrf_token": csrf}
    )
    assert saved.status_code == 303
    assert apis.bodies("PUT", "/v1/family/preferences") == [{"language": "pt", "channel": "sms"}]
    assert '<html lang="pt"' in client.get("/famille").text


def test_documents_come_from_parcours_and_are_not_stored(
    client: TestClient, apis: FakeApis
) -> None:
    apis.handler = parcours()
    open_space(client)
    pdf = client.get("/famille/documents/ledger")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    assert pdf.headers["cache-control"] == "no-store"


def test_opening_the_space_ends_a_staff_session_in_the_same_browser(
    client: TestClient, apis: FakeApis, sign_in: Any
) -> None:
    sign_in("referent")
    assert "Se déconnecter" in client.get("/").text
    apis.handler = parcours()
    open_space(client)
    assert "Se déconnecter" not in client.get("/").text


def test_leaving_the_space_ends_the_session(client: TestClient, apis: FakeApis) -> None:
    apis.handler = parcours()
    open_space(client)
    left = client.post("/famille/sortie", data={"csrf_token": csrf_of(client.get("/famille").text)})
    assert left.status_code == 200
    assert client.get("/famille").status_code == 401


def test_too_many_letters_tried_from_one_address_are_refused_for_a_while(
    settings: WebSettings, apis: FakeApis
) -> None:
    apis.handler = parcours()
    limited = settings.model_copy(update={"family_attempts_per_address": 2})
    app = create_app(limited, transport=httpx.MockTransport(apis))
    with TestClient(app, base_url="http://web.test", follow_redirects=False) as client:
        assert open_space(client, code="WXYZ-2345").status_code == 401
        assert open_space(client, code="WXYZ-2346").status_code == 401
        third = open_space(client)
        assert third.status_code == 429
        assert "Trop de codes" in third.text
    assert len(apis.bodies("POST", "/v1/family/sessions")) == 2


def test_the_attempt_limiter_forgets_attempts_older_than_its_window() -> None:
    limiter = AttemptLimiter(limit=2, window_s=60)
    limiter.check("10.0.0.1", now=0)
    limiter.check("10.0.0.1", now=1)
    with pytest.raises(TooManyAttemptsError):
        limiter.check("10.0.0.1", now=2)
    limiter.check("10.0.0.2", now=2)  # another address counts alone
    limiter.check("10.0.0.1", now=61)


@pytest.mark.parametrize("language", [lang for lang in i18n.LANGUAGES if lang != "fr"])
def test_every_family_text_is_translated(language: str) -> None:
    french = i18n.translations("fr")
    catalogue = i18n.translations(language)
    for msgid in french._catalog:  # type: ignore[attr-defined]
        if msgid:
            assert catalogue.gettext(msgid) != msgid or msgid in (
                "Date",
                "Menu principal",
                "E-mail :",
                "par e-mail",
                "par SMS",
            ), (language, msgid)


def test_the_referent_sees_which_partners_the_family_withdrew_from_its_space() -> None:
    from relais_web.pages.family_staff import changes_by_family

    partners = [
        {"id": "cmpp-rouen-rive-gauche", "name": "CMPP Rouen rive gauche", "category": "cmpp"},
        {"id": "clas-saint-sever", "name": "CLAS Saint-Sever", "category": "clas"},
    ]
    before = {
        "id": "c1",
        "scope": [{"partner_id": "cmpp-rouen-rive-gauche"}, {"partner_category": "clas"}],
        "recorded_by": "referente",
        "supersedes": None,
        "withdrawn_by": None,
        "given_at": "2026-12-01T10:00:00+00:00",
    }
    narrowed = {
        "id": "c2",
        "scope": [{"partner_id": "clas-saint-sever"}],
        "recorded_by": "letter:0f0e",
        "supersedes": "c1",
        "withdrawn_by": None,
        "given_at": "2026-12-02T10:00:00+00:00",
    }
    by_staff = {**narrowed, "id": "c3", "recorded_by": "referente", "supersedes": "c2"}

    assert changes_by_family([before, narrowed], partners) == [
        {"at": "2026-12-02T10:00:00+00:00", "whole": False, "partners": ["CMPP Rouen rive gauche"]}
    ]
    assert changes_by_family([before, by_staff], partners) == []
    withdrawn = {**before, "withdrawn_by": "letter:0f0e", "ended_at": "2026-12-03T09:00:00Z"}
    assert changes_by_family([withdrawn], partners) == [
        {"at": "2026-12-03T09:00:00Z", "whole": True, "partners": []}
    ]


def test_the_coordinators_inbox_says_interprete_a_prevoir_without_any_identity(
    client: TestClient, apis: FakeApis, sign_in: Any
) -> None:
    sign_in("coordinator")
    line = {
        "id": "b185e2df-16a6-4b6f-b83e-c86f16d1e1f9",
        "opened_at": "2026-12-01T10:00:00+00:00",
        "review_due_on": "2026-12-22",
        "institution_ids": ["ecole-jules-ferry-rouen"],
        "facts": [{"age_years": 10, "school_level": "cm1", "reason_categories": ["language"]}],
        "interpreter_needed": True,
    }

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/situations":
            other = {**line, "id": "0c8a1b9e-0000-4000-8000-000000000000"}
            other["interpreter_needed"] = False
            return httpx.Response(200, json={"items": [line, other], "limit": 200, "offset": 0})
        if request.url.path == "/v1/institutions":
            return httpx.Response(200, json={"items": []})
        return httpx.Response(404, json={"code": "not_found"})

    apis.handler = answer
    page = client.get("/coordination/a-examiner").text
    assert page.count("interprète à prévoir") == 1


def test_lists_on_the_family_pages_are_written_as_each_language_writes_them(
    client: TestClient, apis: FakeApis
) -> None:
    apis.handler = parcours()
    open_space(client)  # in Arabic, the guardian's language
    ledger = client.get("/famille/registre").text
    assert "هوية الطفل، موافقتكم" in ledger  # Arabic's comma, not a French one
    space = client.get("/famille?langue=fr").text
    assert "santé, identité et coordonnées" in space
