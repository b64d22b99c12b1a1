"""Unit tests of the exports and the dashboard page (no I/O)."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from html import unescape

from relais_reporting import demo
from relais_reporting.domain import facts, indicators
from relais_reporting.entrypoints.dashboard import render_dashboard, scope_links
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


def test_the_dashboard_shows_every_indicator_with_its_definition_and_charts() -> None:
    r = report(12)
    page = render_dashboard(r, PRE, {"school_year": "2025-2026", "known_on": "2026-11-23"})
    for figure in r.figures:
        assert figure.label.replace("'", "&#x27;") in page
    assert "<svg" in page
    assert "secret statistique" in page
    assert "separator=%3B&amp;bom=true" in page


def test_a_network_analyst_gets_links_to_each_pre_and_region_it_may_read() -> None:
    links = scope_links("2025-2026", ["pre-14118", "pre-76540"], ["normandie"], "pre-76540")
    assert "<strong>pre-76540</strong>" in links
    assert "pre_id=pre-14118" in links
    assert "region=normandie" in links
    assert scope_links("2025-2026", ["pre-76540"], [], "pre-76540") == ""


def test_the_dashboard_filters_keep_the_region_or_pre_being_read() -> None:
    query = {"school_year": "2025-2026", "region": "normandie", "known_on": "2026-11-23"}
    page = render_dashboard(report(12), "normandie", query)
    form = page.split('<form class="filters"')[1].split("</form>")[0]
    assert '<input type="hidden" name="region" value="normandie">' in form
    page = render_dashboard(report(12), "pre-14118", {**query, "region": "", "pre_id": "pre-14118"})
    form = page.split('<form class="filters"')[1].split("</form>")[0]
    assert '<input type="hidden" name="pre_id" value="pre-14118">' in form
    assert 'name="region"' not in form


def _section(page: str, key: str) -> str:
    return page.split(f'<section id="{key}">')[1].split("</section>")[0]


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_a_share_is_written_with_its_percent_sign_once() -> None:
    r = report(40)
    page = render_dashboard(r, PRE, {"school_year": "2025-2026", "known_on": "2026-11-23"})
    qpv = next(f for f in r.figures if f.key == "qpv_share")
    assert qpv.value is not None
    assert not qpv.suppressed
    headline = _section(page, "qpv_share").split('<div class="big">')[1].split("</div>")[0]
    assert _text(headline) == f"{qpv.value:.1f}".replace(".", ",").removesuffix(",0") + " %"
    assert "% %" not in _text(page)
    assert f"sur {qpv.count} enfants" in _text(_section(page, "qpv_share"))


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


def test_overlapping_breakdowns_show_no_empty_headline_and_a_median_over_no_case_says_so() -> None:
    r = report(40)
    page = render_dashboard(r, PRE, {"school_year": "2025-2026", "known_on": "2026-11-23"})
    for key in ("referral_reasons", "axes_worked"):
        assert 'class="big"' not in _section(page, key)
        assert "—" not in _section(page, key)
    empty = IndicatorReport(
        [PRE],
        "2025-2026",
        None,
        date(2026, 11, 23),
        5,
        indicators.compute_all({}, indicators.Period("2025-2026"), 5),
    )
    page = render_dashboard(empty, PRE, {"school_year": "2025-2026"})
    assert "Aucun cas dans la période." in _section(page, "delay_referral_review")
    assert "—" not in _text(page.split('<div class="grid">')[1])


def test_the_dashboard_states_the_last_day_its_figures_count() -> None:
    page = render_dashboard(report(12), PRE, {"school_year": "2025-2026"})
    assert "chiffres arrêtés au 31/08/2026 · connus au 23/11/2026" in _text(page)


def test_long_category_labels_are_drawn_on_two_lines_in_the_bar_charts() -> None:
    page = render_dashboard(report(40), PRE, {"school_year": "2025-2026"})
    exits = _section(page, "exit_reasons")
    assert '<tspan x="0" dy="0">Relais vers le</tspan><tspan x="0" dy="14">droit commun' in exits


def test_a_hidden_share_still_says_how_many_cases_it_is_taken_over() -> None:
    r = report(40)
    followups = next(f for f in r.figures if f.key == "followups_done")
    followups.value, followups.suppressed, followups.count = None, True, 11
    page = render_dashboard(r, PRE, {"school_year": "2025-2026"})
    assert "secret statistique sur 11 suivis" in _text(_section(page, "followups_done"))


def test_each_chart_reads_out_its_values_to_a_screen_reader() -> None:
    r = report(40)
    page = render_dashboard(r, PRE, {"school_year": "2025-2026", "known_on": "2026-11-23"})
    charts = [f for f in r.figures if f.cells and all("|" not in c.key for c in f.cells)]
    assert any(c.suppressed for f in charts for c in f.cells)
    for figure in charts:
        svg = _section(page, figure.key).split("<svg")[1].split(">")[0]
        assert 'role="img"' in svg
        said = unescape(svg.split('aria-label="')[1].split('"')[0])
        assert said.startswith(figure.label + ". ")
        for c in figure.cells:
            if c.suppressed:
                assert f"{c.label} : secret statistique" in said
            else:
                value = f"{c.value:.1f}".replace(".", ",").removesuffix(",0")
                assert f"{c.label} : {value}" in said
    sources = next(f for f in charts if f.key == "referral_sources")
    school = next(c for c in sources.cells if c.key == "school")
    said = unescape(_section(page, "referral_sources").split('aria-label="')[1].split('"')[0])
    assert f"Établissement scolaire : {school.value:.0f} ;" in said
