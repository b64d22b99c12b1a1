"""HTTP tests of the query parameters: French errors naming the field (no database)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from html import escape
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI

from relais_reporting.config import ReportingSettings
from relais_reporting.entrypoints import dashboard
from relais_reporting.entrypoints.http import reader, router
from relais_runtime.app import get_runtime
from relais_runtime.auth import Principal
from relais_runtime.errors import install_error_handlers

ANALYST = Principal(sub="a", org="reseau", pre="pre-76540", roles=frozenset({"analyst"}))


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """The routes with a signed-in analyst and no database: a bad parameter must be
    refused before anything is read."""
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    app.include_router(dashboard.router)
    app.dependency_overrides[reader] = lambda: ANALYST
    app.dependency_overrides[dashboard._maybe_reader] = lambda: ANALYST
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


def _form(page: str) -> str:
    return page.split('<form class="filters"')[1].split("</form>")[0]


@pytest.mark.parametrize("school_year", ["2025-2027", "2025", "25-26"])
async def test_the_dashboard_in_a_browser_says_in_french_by_the_form_what_year_is_wrong(
    client: httpx.AsyncClient, school_year: str
) -> None:
    r = await client.get(
        "/tableau-de-bord", params={"school_year": school_year, "region": "", "pre_id": ""}
    )
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("text/html")
    assert '<html lang="fr">' in r.text
    form = _form(r.text)
    # The message sits by the field, says what is wrong and the format it takes.
    assert escape(dashboard.MSG_SCHOOL_YEAR) in form
    assert "AAAA-AAAA" in dashboard.MSG_SCHOOL_YEAR
    assert f'name="school_year" value="{school_year}"' in form  # kept, to correct it
    assert 'aria-invalid="true" aria-describedby="erreur-school_year"' in form
    assert "<button>Afficher</button>" in form  # still usable
    assert "Les chiffres ne peuvent pas être affichés" in r.text


@pytest.mark.parametrize("as_of", ["31/12/2026", "2026-13-45", "2026-W01-1", "demain"])
async def test_the_dashboard_says_in_french_by_the_form_what_day_is_wrong(
    client: httpx.AsyncClient, as_of: str
) -> None:
    r = await client.get("/tableau-de-bord", params={"school_year": "2025-2026", "as_of": as_of})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("text/html")
    form = _form(r.text)
    assert escape(dashboard.MSG_AS_OF) in form
    assert "AAAA-MM-JJ" in dashboard.MSG_AS_OF
    assert f'name="as_of" value="{as_of}" type="text"' in form
    assert 'name="school_year" value="2025-2026"' in form
    assert "erreur-school_year" not in form


async def test_the_dashboard_refuses_figures_known_on_a_day_to_come_in_french(
    client: httpx.AsyncClient,
) -> None:
    later = (date.today() + timedelta(days=2)).isoformat()
    r = await client.get(
        "/tableau-de-bord",
        params={"school_year": "2025-2026", "known_on": later, "region": "normandie"},
    )
    # The region is checked first: this analyst's network reads none.
    assert r.status_code == 403
    r = await client.get("/tableau-de-bord", params={"school_year": "2025-2026", "known_on": later})
    assert r.status_code == 422
    assert escape(dashboard.MSG_KNOWN_ON_FUTURE) in r.text
    assert "<button>Afficher</button>" in _form(r.text)


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
    app.include_router(dashboard.router)
    app.dependency_overrides[reader] = lambda: who
    app.dependency_overrides[dashboard._maybe_reader] = lambda: who
    app.dependency_overrides[get_runtime] = lambda: SimpleNamespace(settings=NETWORK)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as c:
        yield c


@pytest.fixture
async def network_client() -> AsyncIterator[httpx.AsyncClient]:
    """An analyst of a network that reads the region normandie and its two PRE."""
    async with signed_in(ANALYST) as c:
        yield c


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"pre_id": "pre-35238"}, dashboard.MSG_REFUSED_PRE.format("pre-35238")),
        ({"region": "bretagne"}, dashboard.MSG_REFUSED_REGION.format("bretagne")),
    ],
)
async def test_the_dashboard_refuses_a_pre_or_region_in_french_with_links_to_what_one_may_read(
    network_client: httpx.AsyncClient, params: dict[str, str], said: str
) -> None:
    r = await network_client.get("/tableau-de-bord", params={"school_year": "2025-2026", **params})
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("text/html")
    assert '<html lang="fr">' in r.text
    assert escape(said) in r.text
    for link in ("pre_id=pre-76540", "pre_id=pre-14118", "region=normandie"):
        assert f'href="/tableau-de-bord?school_year=2025-2026&amp;{link}"' in r.text
    assert "bretagne" not in r.text.split("Vous pouvez consulter")[1]
    assert "pre-35238" not in r.text.split("Vous pouvez consulter")[1]


async def test_a_coordinator_refused_another_pre_is_pointed_to_its_own() -> None:
    coordinator = Principal(sub="c", org="pre", pre="pre-14118", roles=frozenset({"coordinator"}))
    async with signed_in(coordinator) as client:
        r = await client.get(
            "/tableau-de-bord", params={"school_year": "2025-27", "pre_id": "pre-76540"}
        )
    assert r.status_code == 403
    # A year that does not exist is not carried into the links.
    assert "school_year=2025-27" not in r.text
    assert "pre_id=pre-14118" in r.text.split("Vous pouvez consulter")[1]
    assert "normandie" not in r.text


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
