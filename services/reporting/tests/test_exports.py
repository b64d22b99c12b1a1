"""Unit tests of the exports (no I/O); the web pages draw the dashboard."""

from __future__ import annotations

import csv
import io
from datetime import date

from relais_reporting import demo
from relais_reporting.domain import facts, indicators
from relais_reporting.entrypoints.render import to_csv, to_json
from relais_reporting.service.project import logged
from relais_reporting.service.report import IndicatorReport

PRE = "pre-76540"


def report(children: int = 40, threshold: int = 5) -> IndicatorReport:
    docs = facts.fold_all(logged(e) for e in demo.school_year(PRE, 2025, children, seed=9))
    return IndicatorReport(
        [PRE],
        "2025-2026",
        None,
        date(2026, 11, 23),
        threshold,
        indicators.compute_all(docs, indicators.Period("2025-2026"), threshold),
    )


def test_csv_for_french_spreadsheets_has_a_bom_semicolons_and_decimal_commas() -> None:
    text = to_csv(report(), PRE, separator=";", bom=True)
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text[1:]), delimiter=";"))
    assert {r["indicateur"] for r in rows} == {i.key for i in indicators.INDICATORS}
    qpv = next(r for r in rows if r["indicateur"] == "qpv_share" and not r["categorie"])
    assert "," in qpv["valeur"] or qpv["valeur"] == ""
    for row in rows:
        if row["secret_statistique"] == "oui":
            assert row["valeur"] == ""


def test_plain_csv_uses_commas_and_points() -> None:
    text = to_csv(report(), PRE)
    assert not text.startswith("\ufeff")
    assert text.splitlines()[0].startswith("perimetre,annee_scolaire")


def test_json_names_the_scope_and_every_indicator_with_its_definition() -> None:
    body = to_json(report(), PRE)
    assert body["pre_id"] == PRE
    assert all(i["definition"] for i in body["indicators"])


def test_exports_carry_the_share_as_a_number_and_its_unit_apart() -> None:
    r = report(40)
    for row in csv.DictReader(io.StringIO(to_csv(r, PRE, separator=";")), delimiter=";"):
        assert "%" not in row["valeur"]
    rows = list(csv.DictReader(io.StringIO(to_csv(r, PRE))))
    qpv = [row for row in rows if row["indicateur"] == "qpv_share"]
    assert [row["unite"] for row in qpv] == ["%", "enfants", "enfants", "enfants"]
    assert float(qpv[0]["valeur"]) == next(f.value for f in r.figures if f.key == "qpv_share")
    body = to_json(r, PRE)
    share = next(i for i in body["indicators"] if i["key"] == "qpv_share")
    assert isinstance(share["value"], float)
    assert share["unit"] == "%"
