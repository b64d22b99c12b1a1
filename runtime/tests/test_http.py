"""Ops endpoints, Prometheus metrics and the French JSON error shape."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated, Literal

import httpx
import pytest
from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from relais_runtime.errors import DomainError, install_error_handlers
from relais_runtime.http import READY_CHECK_TIMEOUT_S, ops_router
from relais_runtime.metrics import MESSAGES_CONSUMED, PrometheusMiddleware


async def ok() -> None:
    return None


async def broken() -> None:
    raise ConnectionError("broker unreachable")


async def stuck() -> None:
    await asyncio.sleep(30)


def client_for(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://relais")


# -- /health, /ready, /metrics ----------------------------------------------------------------


async def test_health_answers_ok_without_running_checks() -> None:
    app = FastAPI()
    app.include_router(ops_router({"database": broken}))
    async with client_for(app) as http:
        response = await http.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_answers_200_when_every_check_passes() -> None:
    app = FastAPI()
    app.include_router(ops_router({"broker": ok, "database": ok}))
    async with client_for(app) as http:
        response = await http.get("/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"broker": "ok", "database": "ok"}}


async def test_ready_answers_503_and_names_the_failing_checks() -> None:
    app = FastAPI()
    app.include_router(ops_router({"broker": broken, "database": ok}))
    async with client_for(app) as http:
        response = await http.get("/ready")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"broker": "error: ConnectionError: broker unreachable", "database": "ok"},
    }


async def test_a_hanging_check_fails_after_its_timeout() -> None:
    assert READY_CHECK_TIMEOUT_S == 2.0
    app = FastAPI()
    app.include_router(ops_router({"database": stuck, "broker": ok}, timeout_s=0.05))
    async with client_for(app) as http:
        response = await asyncio.wait_for(http.get("/ready"), timeout=5)

    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("error: timeout")
    assert response.json()["checks"]["broker"] == "ok"


@pytest.fixture
async def metered() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.add_middleware(PrometheusMiddleware, service="test-http")
    app.include_router(ops_router({}))

    @app.get("/situations/{situation_id}")
    async def situation(situation_id: str) -> dict[str, str]:
        return {"id": situation_id}

    async with client_for(app) as http:
        yield http


async def test_metrics_count_requests_by_route_template_not_by_path(
    metered: httpx.AsyncClient,
) -> None:
    await metered.get("/situations/s-123")
    await metered.get("/situations/s-456")
    await metered.get("/wp-login.php")

    response = await metered.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert (
        'relais_http_requests_total{method="GET",route="/situations/{situation_id}",'
        'service="test-http",status="200"} 2.0'
    ) in text
    assert 'route="<unmatched>",service="test-http",status="404"' in text
    assert "s-123" not in text
    assert 'relais_http_request_seconds_bucket{le="0.001",method="GET"' in text


async def test_shared_runtime_metrics_are_exposed(metered: httpx.AsyncClient) -> None:
    MESSAGES_CONSUMED.labels(
        service="test-http", queue="parcours.referrals", outcome="parked"
    ).inc()

    text = (await metered.get("/metrics")).text

    assert (
        'relais_messages_consumed_total{outcome="parked",queue="parcours.referrals",'
        'service="test-http"} 1.0'
    ) in text
    for name in (
        "relais_message_handling_seconds",
        "relais_outbox_published_total",
        "relais_outbox_publish_failures_total",
        "relais_outbox_pending",
    ):
        assert f"# TYPE {name}" in text


# -- errors -----------------------------------------------------------------------------------


class Child(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_name: str = Field(min_length=1, max_length=50)
    birth_date: date
    school_level: Literal["CP", "CE1", "CE2"]
    age: int = Field(ge=2, le=16)
    postcode: str = Field(pattern=r"^\d{5}$")

    @field_validator("birth_date")
    @classmethod
    def not_in_future(cls, value: date) -> date:
        if value > date.today():
            raise PydanticCustomError("date_in_future", "La date ne peut pas être dans le futur.")
        return value


class Referral(BaseModel):
    child: Child
    reasons: list[str] = Field(min_length=1)


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/referrals")
    async def submit(referral: Referral) -> dict[str, str]:
        return {"status": "received"}

    @app.get("/situations")
    async def situations(limit: Annotated[int, Query(ge=1, le=100)] = 20) -> list[str]:
        return []

    @app.post("/situations/{situation_id}/close")
    async def close(situation_id: str) -> None:
        raise DomainError("consent_required", "Le consentement de la famille est requis.", 409)

    @app.get("/situations/{situation_id}")
    async def situation(situation_id: str) -> None:
        raise HTTPException(status_code=404, detail="Situation introuvable.")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("lea.martinez@example.fr broke it")

    async with client_for(app) as http:
        yield http


def by_field(body: dict[str, object]) -> dict[str, dict[str, str]]:
    errors = body["errors"]
    assert isinstance(errors, list)
    return {e["field"]: e for e in errors}


async def test_validation_errors_are_listed_by_dotted_field_in_french(
    api: httpx.AsyncClient,
) -> None:
    response = await api.post(
        "/referrals",
        json={
            "child": {
                "first_name": "",
                "birth_date": "2999-01-01",
                "school_level": "6e",
                "age": 40,
                "postcode": "7654",
                "nickname": "Lou",
            },
            "reasons": [],
        },
    )

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["message"] == "La requête contient des erreurs."
    errors = by_field(body)
    assert errors["child.birth_date"] == {
        "field": "child.birth_date",
        "code": "date_in_future",
        "message": "La date ne peut pas être dans le futur.",
    }
    assert errors["child.first_name"]["code"] == "string_too_short"
    assert errors["child.first_name"]["message"] == "Ce champ ne peut pas être vide."
    assert errors["child.school_level"]["code"] == "literal_error"
    assert errors["child.school_level"]["message"] == (
        "Valeur non autorisée. Valeurs possibles : 'CP', 'CE1' ou 'CE2'."
    )
    assert errors["child.age"] == {
        "field": "child.age",
        "code": "less_than_equal",
        "message": "La valeur doit être inférieure ou égale à 16.",
    }
    assert errors["child.postcode"]["code"] == "string_pattern_mismatch"
    assert errors["child.nickname"]["code"] == "extra_forbidden"
    assert errors["child.nickname"]["message"] == "Ce champ n'est pas autorisé."
    assert errors["reasons"]["code"] == "too_short"
    assert "Lou" not in response.text  # submitted values are never echoed


async def test_missing_fields_and_bad_types_get_french_messages(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/referrals",
        json={"child": {"birth_date": "04/03/2015", "age": "douze"}, "reasons": ["school"]},
    )

    errors = by_field(response.json())
    assert errors["child.first_name"] == {
        "field": "child.first_name",
        "code": "missing",
        "message": "Ce champ est obligatoire.",
    }
    assert errors["child.birth_date"]["code"] in {"date_from_datetime_parsing", "date_parsing"}
    assert errors["child.birth_date"]["message"] == "Date invalide (format attendu : AAAA-MM-JJ)."
    assert errors["child.age"]["code"] == "int_parsing"
    assert errors["child.age"]["message"] == "Ce champ doit être un nombre entier."


async def test_malformed_json_is_a_400_that_says_where_the_syntax_breaks(
    api: httpx.AsyncClient,
) -> None:
    response = await api.post(
        "/referrals", content=b'{"child": ', headers={"content-type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json() == {
        "code": "json_invalid",
        "message": "Le corps de la requête n'est pas un JSON valide : une valeur est attendue "
        "(ligne 1, colonne 11).",
    }


async def test_query_parameters_keep_their_location_in_the_field_path(
    api: httpx.AsyncClient,
) -> None:
    response = await api.get("/situations", params={"limit": 0})

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "query.limit",
            "code": "greater_than_equal",
            "message": "La valeur doit être supérieure ou égale à 1.",
        }
    ]


async def test_domain_error_is_rendered_with_its_code_and_status(api: httpx.AsyncClient) -> None:
    response = await api.post("/situations/s-1/close")

    assert response.status_code == 409
    assert response.json() == {
        "code": "consent_required",
        "message": "Le consentement de la famille est requis.",
    }


async def test_http_exceptions_use_the_same_shape(api: httpx.AsyncClient) -> None:
    explicit = await api.get("/situations/s-1")
    unknown_route = await api.get("/nowhere")
    wrong_method = await api.delete("/situations")

    assert explicit.status_code == 404
    assert explicit.json() == {"code": "not_found", "message": "Situation introuvable."}
    assert unknown_route.json() == {"code": "not_found", "message": "Ressource introuvable."}
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "method_not_allowed"
    assert "allow" in wrong_method.headers


async def test_unexpected_errors_become_a_generic_500_without_details(
    api: httpx.AsyncClient,
) -> None:
    response = await api.get("/boom")

    assert response.status_code == 500
    assert response.json() == {
        "code": "internal_error",
        "message": "Une erreur interne est survenue.",
    }
