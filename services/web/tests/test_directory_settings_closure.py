"""Directories, PRE settings and closing a parcours, against fake APIs."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
from fastapi.testclient import TestClient

from relais_web.devidp.users import DemoUser

from .helpers import FakeApis

SITUATION = "b185e2df-16a6-4b6f-b83e-c86f16d1e1f9"


def test_a_refused_setting_is_shown_beside_its_field_with_what_was_typed(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("coordinator")

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            return httpx.Response(
                422,
                json={
                    "code": "validation_error",
                    "message": "La requête contient des erreurs.",
                    "errors": [
                        {
                            "field": "caseload_limit",
                            "code": "less_than_equal",
                            "message": "La valeur doit être au plus 500.",
                        }
                    ],
                },
            )
        return httpx.Response(200, json={"caseload_limit": 30, "max_duration_months": 24})

    apis.handler = answer
    response = client.post(
        "/coordination/reglages",
        data={"csrf_token": "csrf-ok", "caseload_limit": "900", "max_duration_months": "24"},
    )
    assert response.status_code == 422
    assert 'id="caseload_limit-erreur"' in response.text
    assert 'value="900"' in response.text
    put = next(c for c in apis.calls if c.method == "PUT")
    assert json.loads(put.content) == {"caseload_limit": "900", "max_duration_months": "24"}


def test_closing_sends_the_exit_reason_text_only_with_other(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("referent")
    apis.handler = lambda request: httpx.Response(200, json={"situation_id": SITUATION})
    response = client.post(
        f"/situations/{SITUATION}/cloture",
        data={
            "csrf_token": "csrf-ok",
            "exit_reason": "objectives_met",
            "exit_reason_text": "typed then changed",
            "final_review_held": "yes",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/situations/{SITUATION}#cloture"
    assert json.loads(apis.calls[0].content) == {
        "exit_reason": "objectives_met",
        "final_review_held": True,
    }
