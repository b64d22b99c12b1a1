"""HTTP tests of the query parameters: French errors naming the field (no database)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI

from relais_reporting.config import ReportingSettings
from relais_reporting.entrypoints.http import reader, router
from relais_runtime.app import get_runtime
from relais_runtime.auth import JWTVerifier, Principal, generate_signing_key, install_auth
from relais_runtime.errors import install_error_handlers

ANALYST = Principal(sub="a", org="reseau", tenant="pre-76540", roles=frozenset({"analyst"}))


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """The routes with a signed-in analyst and no database: a bad parameter must be
    refused before anything is read."""
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    app.dependency_overrides[reader] = lambda: ANALYST
    app.dependency_overrides[get_runtime] = lambda: SimpleNamespace(settings=ReportingSettings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as c:
        yield c


@pytest.mark.parametrize("path", ["/v1/indicators", "/v1/indicators.csv"])
async def test_a_school_year_that_does_not_exist_is_refused_in_french_naming_the_field(
    client: httpx.AsyncClient, path: str
) -> None:
    r = await client.get(path, params={"school_year": "2025-2027"})
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {
            "field": "query.school_year",
            "code": "invalid_school_year",
            "message": "Année scolaire invalide : attendu par exemple 2026-2027.",
        }
    ]


@pytest.mark.parametrize("path", ["/v1/indicators", "/v1/indicators.csv"])
async def test_a_school_year_in_other_digits_than_ascii_is_refused_naming_the_field(
    client: httpx.AsyncClient, path: str
) -> None:
    # Arabic-Indic digits passed the pattern's \d, then broke the CSV's filename header: a 500.
    r = await client.get(
        path, params={"school_year": "\u0662\u0660\u0662\u0666-\u0662\u0660\u0662\u0667"}
    )
    assert r.status_code == 422, r.text
    assert [(e["field"], e["code"]) for e in r.json()["errors"]] == [
        ("query.school_year", "string_pattern_mismatch")
    ]


async def test_figures_known_on_a_day_to_come_are_refused_since_they_would_still_change(
    client: httpx.AsyncClient,
) -> None:
    later = (date.today() + timedelta(days=2)).isoformat()
    r = await client.get("/v1/indicators", params={"school_year": "2025-2026", "known_on": later})
    assert r.status_code == 422
    (error,) = r.json()["errors"]
    assert (error["field"], error["code"]) == ("query.known_on", "known_on_in_future")
    assert error["message"].startswith("Date à venir")


NETWORK = ReportingSettings(
    regions={"normandie": ["pre-76540", "pre-14118"], "bretagne": ["pre-35238"]},
    analyst_regions={"reseau": ["normandie"]},
)


@asynccontextmanager
async def signed_in(who: Principal) -> AsyncIterator[httpx.AsyncClient]:
    """The routes with ``who`` signed in, regions configured, and no database."""
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    app.dependency_overrides[reader] = lambda: who
    app.dependency_overrides[get_runtime] = lambda: SimpleNamespace(settings=NETWORK)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as c:
        yield c


@pytest.fixture
async def network_client() -> AsyncIterator[httpx.AsyncClient]:
    """An analyst of a network that reads the region normandie and its two PRE."""
    async with signed_in(ANALYST) as c:
        yield c


async def test_a_network_analyst_is_told_every_pre_and_region_it_may_read(
    network_client: httpx.AsyncClient,
) -> None:
    r = await network_client.get("/v1/indicator-scopes")
    assert r.json() == {"pre_ids": ["pre-14118", "pre-76540"], "regions": ["normandie"]}


async def test_a_coordinator_may_read_its_own_pre_only() -> None:
    coordinator = Principal(
        sub="c", org="pre", tenant="pre-14118", roles=frozenset({"coordinator"})
    )
    async with signed_in(coordinator) as client:
        r = await client.get("/v1/indicator-scopes")
    assert r.json() == {"pre_ids": ["pre-14118"], "regions": []}


async def test_the_pasted_token_dashboard_is_gone_and_a_cookie_opens_nothing(
    tmp_path: Path,
) -> None:
    """One sign-in for everyone: the web pages draw the dashboard (relais_web.pages.analyst)."""
    generate_signing_key(tmp_path)
    app = FastAPI()
    install_error_handlers(app)
    verifier = JWTVerifier.from_jwks_file(tmp_path / "jwks.json", issuer="i", audience="a")
    install_auth(app, verifier)
    app.include_router(router)
    app.dependency_overrides[get_runtime] = lambda: SimpleNamespace(settings=NETWORK)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as c:
        assert (await c.get("/tableau-de-bord")).status_code == 404
        assert (await c.post("/tableau-de-bord/connexion")).status_code == 404
        c.cookies.set("relais_reporting_token", "a-token")
        r = await c.get("/v1/indicators", params={"school_year": "2025-2026"})
    assert r.status_code == 401


@pytest.mark.parametrize(
    ("path", "params", "code"),
    [
        ("/v1/indicators", {"pre_id": "pre-35238"}, "forbidden_pre"),
        ("/v1/indicators.csv", {"pre_id": "pre-35238"}, "forbidden_pre"),
        ("/v1/regions/bretagne/indicators", {}, "forbidden_region"),
    ],
)
async def test_the_api_still_refuses_in_json(
    network_client: httpx.AsyncClient, path: str, params: dict[str, str], code: str
) -> None:
    r = await network_client.get(path, params={"school_year": "2025-2026", **params})
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["code"] == code
