"""The analyst's dashboard drawn by the web from reporting's JSON (reporting serves no page
of its own any more): headlines, bar charts read out to screen readers, the table by age
and sex, a network analyst's PREs and regions, errors by their field, the CSV relay."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape
from typing import Any

import httpx
from fastapi.testclient import TestClient

from relais_web.devidp.users import DemoUser

from .helpers import FakeApis


def figure(key: str, label: str, unit: str, value: float | None, **more: Any) -> dict[str, Any]:
    return {
        "key": key,
        "label": label,
        "definition": f"Définition de {label}.",
        "unit": unit,
        "value": value,
        "suppressed": False,
        "count": None,
        "cells": [],
        "note": None,
        "cell_unit": None,
        **more,
    }


def cell(key: str, label: str, value: float | None, **more: Any) -> dict[str, Any]:
    return {"key": key, "label": label, "value": value, "suppressed": False, **more}


INDICATORS = [
    figure(
        "children",
        "Enfants suivis",
        "enfants",
        1234.0,
        cells=[cell("f", "Filles", None, suppressed=True), cell("m", "Garçons", 640.0)],
    ),
    figure(
        "qpv_share", "Enfants des quartiers prioritaires", "%", 57.4, count=284, cell_unit="enfants"
    ),
    figure("delay_referral_review", "Délai avant examen", "jours", None, count=0),
    figure(
        "referral_reasons",
        "Motifs d'orientation",
        "orientations",
        None,
        cells=[cell("learning", "Apprentissages", 12.0)],
    ),
    figure(
        "exit_reasons",
        "Fins de parcours",
        "parcours",
        8.0,
        cells=[cell("relay", "Relais vers le droit commun", 8.0)],
    ),
    figure(
        "followups_done",
        "Suivis à six mois faits",
        "%",
        None,
        suppressed=True,
        count=11,
        cell_unit="suivis",
    ),
    figure(
        "age_sex",
        "Enfants par âge et sexe",
        "enfants",
        30.0,
        cells=[
            cell("6-10|female", "6-10 ans · Filles", 14.0),
            cell("6-10|male", "6-10 ans · Garçons", None, suppressed=True),
            cell("6-10|total", "6-10 ans · Ensemble", 30.0),
            cell("total|female", "Tous âges · Filles", 14.0),
            cell("total|male", "Tous âges · Garçons", 16.0),
        ],
    ),
]


def indicator_set(scope: str = "pre-76540", **more: Any) -> dict[str, Any]:
    return {
        "scope": scope,
        "pre_id": scope,
        "pre_ids": [scope],
        "school_year": "2026-2027",
        "as_of": None,
        "known_on": "2026-12-03",
        "small_cell_threshold": 5,
        "indicators": INDICATORS,
        **more,
    }


def reporting(
    scopes: dict[str, list[str]] | None = None,
) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/indicator-scopes":
            return httpx.Response(200, json=scopes or {"pre_ids": ["pre-76540"], "regions": []})
        if request.url.path.startswith("/v1/regions/"):
            return httpx.Response(200, json=indicator_set("normandie"))
        return httpx.Response(200, json=indicator_set())

    return answer


def section(page: str, key: str) -> str:
    return page.split(f'id="{key}"')[1].split("</section>")[0]


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_every_figure_is_shown_with_its_definition_and_a_share_with_its_sign_once(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("analyst")
    apis.handler = reporting()
    page = client.get("/tableau-de-bord?annee=2026-2027").text
    for f in INDICATORS:
        assert f"Définition de {f['label']}." in unescape(page)
    assert "1\u202f234 enfants" in page
    assert "57,4 %" in text(section(page, "qpv_share"))
    assert "% %" not in text(page)
    assert "sur 284 enfants" in text(section(page, "qpv_share"))
    assert "Aucun cas dans la période." in text(section(page, "delay_referral_review"))
    assert 'class="fr-h3' not in section(page, "referral_reasons")  # overlapping: no total
    assert "secret statistique sur 11 suivis" in text(section(page, "followups_done"))
    assert apis.calls[0].url.params["school_year"] == "2026-2027"
    assert 'href="/tableau-de-bord/indicateurs.csv?annee=2026-2027"' in page


def test_each_bar_chart_reads_its_values_out_and_long_labels_take_two_lines(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("coordinator")
    apis.handler = reporting()
    page = client.get("/tableau-de-bord").text
    svg = section(page, "children").split("<svg")[1].split(">")[0]
    assert 'role="img"' in svg
    said = unescape(svg.split('aria-label="')[1].split('"')[0])
    assert said == "Enfants suivis. Filles : secret statistique ; Garçons : 640."
    exits = section(page, "exit_reasons")
    assert '<tspan x="0" dy="0">Relais vers le</tspan><tspan x="0" dy="14">droit commun' in exits
    assert " style=" not in page  # the CSP forbids inline styles


def test_ages_and_sexes_are_a_table_with_its_secret_cells(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("analyst")
    apis.handler = reporting()
    table = section(client.get("/tableau-de-bord").text, "age_sex")
    assert '<th scope="col">Filles</th>' in table
    assert '<th scope="row">6-10 ans</th><td>14</td><td>secret statistique</td><td>30</td>' in table


def test_a_network_analyst_reads_a_region_and_links_to_each_pre_and_region_it_may_read(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("analyst")
    apis.handler = reporting({"pre_ids": ["pre-14118", "pre-76540"], "regions": ["normandie"]})
    page = client.get("/tableau-de-bord?annee=2026-2027&region=normandie").text
    assert apis.calls[0].url.path == "/v1/regions/normandie/indicators"
    assert "Tableau de bord de la région normandie" in page
    assert '<strong aria-current="page">région normandie</strong>' in page
    assert 'href="/tableau-de-bord?annee=2026-2027&amp;pre=pre-14118"' in page
    assert '<input type="hidden" name="region" value="normandie">' in page
    client.get("/tableau-de-bord?annee=2026-2027&pre=pre-14118&arrete=2026-12-01")
    params = apis.calls[-2].url.params
    assert (params["pre_id"], params["as_of"]) == ("pre-14118", "2026-12-01")


def test_a_wrong_day_is_explained_beside_its_field(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("analyst")

    def refuse(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/indicators":
            return httpx.Response(
                422,
                json={
                    "code": "validation_error",
                    "message": "La requête contient des erreurs.",
                    "errors": [
                        {
                            "field": "query.as_of",
                            "code": "date_from_datetime_parsing",
                            "message": "Date invalide.",
                        }
                    ],
                },
            )
        return reporting()(request)

    apis.handler = refuse
    response = client.get("/tableau-de-bord?arrete=31-12-2026")
    assert response.status_code == 422
    assert 'id="arrete-erreur"' in response.text
    assert "Date invalide." in response.text


def test_a_pre_the_reader_may_not_see_is_a_french_403_with_the_apis_reason(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("coordinator")

    def refuse(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/indicators":
            return httpx.Response(
                403, json={"code": "forbidden_pre", "message": "Ce PRE ne vous est pas ouvert."}
            )
        return reporting()(request)

    apis.handler = refuse
    response = client.get("/tableau-de-bord?pre=pre-14118")
    assert response.status_code == 403
    assert "Ce PRE ne vous est pas ouvert." in response.text


def test_the_csv_is_relayed_for_a_spreadsheet_with_the_same_scope_and_day(
    client: TestClient, sign_in: Callable[[str], DemoUser], apis: FakeApis
) -> None:
    sign_in("analyst")
    apis.handler = lambda request: httpx.Response(200, content=b"\xef\xbb\xbfperimetre;annee\n")
    response = client.get(
        "/tableau-de-bord/indicateurs.csv?annee=2026-2027&region=normandie&arrete=2026-12-01"
    )
    assert response.status_code == 200
    assert response.headers["content-disposition"] == (
        'attachment; filename="indicateurs-normandie-2026-2027.csv"'
    )
    upstream = apis.calls[0]
    assert upstream.url.path == "/v1/regions/normandie/indicators.csv"
    assert dict(upstream.url.params) == {
        "school_year": "2026-2027",
        "separator": ";",
        "bom": "true",
        "as_of": "2026-12-01",
    }
    assert upstream.headers["Authorization"] == "Bearer token-of-analyste-demo"
