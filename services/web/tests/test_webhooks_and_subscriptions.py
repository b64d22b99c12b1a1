"""Webhooks (secret shown once, rotation, re-enabling, deletion, attempts), the delivery log
and e-mail subscriptions with the daily digest: the web pages against fake APIs."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from fastapi.testclient import TestClient

from relais_web.devidp.users import DemoUser

from .helpers import FakeApis

HOOK = "3d6f5e1a-7b2c-4d8e-9f01-23456789abcd"
SUB = "9e8d7c6b-5a49-4382-b1a0-fedcba987654"
SECRET = "whsec_c2VjcmV0LW9uY2Utc2hvd24tc2VjcmV0LW9uY2Utc2g="
HOOK_JSON = {
    "id": HOOK,
    "url": "https://sih.example/relais",
    "enabled": False,
    "consecutive_failures": 5,
    "disabled_at": "2026-12-02T10:00:00Z",
    "created_at": "2026-11-02T10:00:00Z",
}
ATTEMPT = {
    "delivery_id": SUB,
    "event_type": "fr.relais.handover.requested.v1",
    "attempt": 3,
    "at": "2026-12-02T09:59:00Z",
    "http_status": 503,
    "failure": "http_error",
    "duration_ms": 120,
}


def notifications(request: httpx.Request) -> httpx.Response:
    path, method = request.url.path, request.method
    if (method, path) == ("POST", "/v1/webhooks"):
        return httpx.Response(201, json={**HOOK_JSON, "enabled": True, "secret": SECRET})
    if (method, path) == ("POST", f"/v1/webhooks/{HOOK}/secret"):
        return httpx.Response(
            200,
            json={
                "id": HOOK,
                "secret": SECRET,
                "previous_secret_valid_until": "2026-12-04T10:00:00Z",
            },
        )
    if method in ("DELETE", "POST"):
        return httpx.Response(204 if method == "DELETE" else 201, json=HOOK_JSON)
    if path == "/v1/webhooks":
        return httpx.Response(200, json={"items": [HOOK_JSON], "limit": 200, "offset": 0})
    if path == f"/v1/webhooks/{HOOK}":
        return httpx.Response(200, json=HOOK_JSON)
    if path == f"/v1/webhooks/{HOOK}/attempts":
        return httpx.Response(200, json={"items": [ATTEMPT], "limit": 100, "offset": 0})
    if path == "/v1/subscriptions":
        return httpx.Response(
            200,
            json={
                "items": [
                    {
                        "id": SUB,
                        "org_id": "cmpp-rouen-rive-gauche",
                        "personal": False,
                        "channel": "email",
                        "event_types": ["fr.relais.handover.requested.v1"],
                        "situation_id": None,
                        "referent_id": None,
                        "language": "fr",
                        "email": "secretariat@cmpp.example",
                        "webhook_id": None,
                        "digest": True,
                        "created_at": "2026-11-30T08:00:00Z",
                    }
                ],
                "limit": 200,
                "offset": 0,
            },
        )
    if path == "/v1/deliveries":
        return httpx.Response(
            200,
            json={
                "items": [
                    {
                        "id": SUB,
                        "event_id": HOOK,
                        "event_type": "fr.relais.handover.requested.v1",
                        "channel": "webhook",
                        "status": "failed",
                        "attempts": 5,
                        "last_failure": "endpoint_disabled",
                        "http_status": None,
                        "title": "Nouveau relais à traiter (R-3D6F5E1A).",
                        "link": f"http://web.test/v1/handovers/{HOOK}",
                        "created_at": "2026-12-02T09:00:00Z",
                        "delivered_at": None,
                    }
                ],
                "limit": 200,
                "offset": 0,
            },
        )
    return httpx.Response(404, json={"code": "not_found"})


def test_a_new_webhooks_secret_is_shown_once_on_the_answer_page_and_nowhere_else(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("partner")
    apis.handler = notifications
    created = client.post(
        "/notifications/webhooks",
        data={
            "csrf_token": "csrf-ok",
            "url": "https://sih.example/relais",
            "event_types": ["fr.relais.handover.requested.v1", "fr.relais.handover.cancelled.v1"],
        },
    )
    assert created.status_code == 201
    assert SECRET in created.text
    assert "elle ne sera plus jamais affichée" in created.text
    assert created.headers["cache-control"] == "no-store"
    assert apis.bodies("POST", "/v1/webhooks") == [
        {
            "url": "https://sih.example/relais",
            "event_types": ["fr.relais.handover.requested.v1", "fr.relais.handover.cancelled.v1"],
            "language": "fr",
        }
    ]
    for page in ("/notifications/webhooks", f"/notifications/webhooks/{HOOK}"):
        assert SECRET not in client.get(page).text


def test_a_refused_webhook_url_is_explained_beside_the_field(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("institution")

    def refuse(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(
                422,
                json={
                    "code": "webhook_url_not_https",
                    "message": "L'adresse du webhook doit commencer par https://.",
                },
            )
        return notifications(request)

    apis.handler = refuse
    page = client.post(
        "/notifications/webhooks", data={"csrf_token": "csrf-ok", "url": "http://sih.example"}
    )
    assert page.status_code == 422
    assert 'id="webhook-url-erreur"' in page.text
    assert 'value="http://sih.example"' in page.text


def test_a_webhook_page_shows_its_attempts_and_offers_to_reenable_rotate_or_delete(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("coordinator")
    apis.handler = notifications
    page = client.get(f"/notifications/webhooks/{HOOK}")
    assert page.status_code == 200
    assert "Désactivé" in page.text
    assert "Un relais est demandé à un partenaire" in page.text
    assert "Réponse en erreur (503)" in page.text
    assert "2 décembre 2026 à 10:59" in page.text  # Paris time
    for action in ("reactivation", "cle", "suppression"):
        assert f'action="/notifications/webhooks/{HOOK}/{action}"' in page.text


def test_rotating_shows_the_new_secret_and_until_when_the_old_one_still_signs(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("partner")
    apis.handler = notifications
    page = client.post(f"/notifications/webhooks/{HOOK}/cle", data={"csrf_token": "csrf-ok"})
    assert page.status_code == 200
    assert SECRET in page.text
    assert "jusqu'au 4 décembre 2026" in page.text


def test_reenabling_and_deleting_call_the_api_and_come_back(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("partner")
    apis.handler = notifications
    back = client.post(
        f"/notifications/webhooks/{HOOK}/reactivation", data={"csrf_token": "csrf-ok"}
    )
    assert back.headers["location"] == f"/notifications/webhooks/{HOOK}"
    gone = client.post(
        f"/notifications/webhooks/{HOOK}/suppression", data={"csrf_token": "csrf-ok"}
    )
    assert gone.headers["location"] == "/notifications/webhooks?fait=supprime"
    assert [(r.method, r.url.path) for r in apis.calls] == [
        ("POST", f"/v1/webhooks/{HOOK}/enable"),
        ("DELETE", f"/v1/webhooks/{HOOK}"),
    ]


def test_the_delivery_log_filters_by_status_and_says_why_one_failed(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("institution")
    apis.handler = notifications
    page = client.get("/notifications/envois?statut=failed")
    assert page.status_code == 200
    assert apis.calls[0].url.params["status"] == "failed"
    assert "webhook désactivé après des échecs répétés" in page.text
    assert f'href="http://web.test/v1/handovers/{HOOK}"' in page.text
    client.get("/notifications/envois?statut=n-importe-quoi")
    assert "status" not in apis.calls[-1].url.params


def test_a_referent_subscribes_to_a_daily_digest_for_some_notices(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("referent")
    apis.handler = notifications
    response = client.post(
        "/notifications/abonnements",
        data={
            "csrf_token": "csrf-ok",
            "email": "camille.morel@pre.example",
            "for_whom": "me",
            "rhythm": "digest",
            "event_types": "fr.relais.deadline.overdue.v1",
        },
    )
    assert response.headers["location"] == "/notifications/abonnements?fait=ajoute"
    assert apis.bodies("POST", "/v1/subscriptions") == [
        {
            "channel": "email",
            "email": "camille.morel@pre.example",
            "personal": True,
            "digest": True,
            "event_types": ["fr.relais.deadline.overdue.v1"],
            "language": "fr",
        }
    ]
    page = client.get("/notifications/abonnements?fait=ajoute").text
    assert "Récapitulatif quotidien" in page
    assert "secretariat@cmpp.example" in page
    assert f'action="/notifications/abonnements/{SUB}/suppression"' in page


def test_unsubscribing_deletes_the_subscription(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("partner")
    apis.handler = notifications
    response = client.post(
        f"/notifications/abonnements/{SUB}/suppression", data={"csrf_token": "csrf-ok"}
    )
    assert response.headers["location"] == "/notifications/abonnements?fait=supprime"
    assert [(r.method, r.url.path) for r in apis.calls] == [("DELETE", f"/v1/subscriptions/{SUB}")]


def test_webhooks_are_not_for_the_analyst_nor_the_referent(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    for role in ("analyst", "referent"):
        sign_in(role)
        assert client.get("/notifications/webhooks").status_code == 403
    sign_in("analyst")
    assert client.get("/notifications/abonnements").status_code == 403
    assert not apis.calls
