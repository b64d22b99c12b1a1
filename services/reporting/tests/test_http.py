"""HTTP tests of the query parameters: French errors naming the field (no database)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from relais_reporting.config import ReportingSettings
from relais_reporting.entrypoints import dashboard
from relais_reporting.entrypoints.http import reader, router
from relais_runtime.app import get_runtime
from relais_runtime.auth import Principal
from relais_runtime.errors import install_error_handlers

ANALYST = Principal(sub="a", org="reseau", pre="pre-76540", roles=frozenset({"analyst"}))


@pytest.fixture
def client() -> Iterator[TestClient]:
    """The routes with a signed-in analyst and no database: a bad parameter must be
    refused before anything is read."""
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    app.include_router(dashboard.router)
    app.dependency_overrides[reader] = lambda: ANALYST
    app.dependency_overrides[dashboard._maybe_reader] = lambda: ANALYST
    app.dependency_overrides[get_runtime] = lambda: SimpleNamespace(settings=ReportingSettings())
    with TestClient(app) as c:
        yield c


@pytest.mark.parametrize("path", ["/v1/indicators", "/v1/indicators.csv", "/tableau-de-bord"])
def test_a_school_year_that_does_not_exist_is_refused_in_french_naming_the_field(
    client: TestClient, path: str
) -> None:
    r = client.get(path, params={"school_year": "2025-2027"})
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {
            "field": "query.school_year",
            "code": "invalid_school_year",
            "message": "Année scolaire invalide : attendu par exemple 2026-2027.",
        }
    ]


def test_figures_known_on_a_day_to_come_are_refused_since_they_would_still_change(
    client: TestClient,
) -> None:
    later = (date.today() + timedelta(days=2)).isoformat()
    r = client.get("/v1/indicators", params={"school_year": "2025-2026", "known_on": later})
    assert r.status_code == 422
    (error,) = r.json()["errors"]
    assert (error["field"], error["code"]) == ("query.known_on", "known_on_in_future")
    assert error["message"].startswith("Date à venir")
