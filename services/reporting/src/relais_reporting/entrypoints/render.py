"""Serialisations of an indicator report: JSON document and CSV (French spreadsheets)."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from typing import Any

from relais_reporting.service.report import IndicatorReport

CSV_COLUMNS = (
    "perimetre",
    "annee_scolaire",
    "arrete_au",
    "connu_au",
    "indicateur",
    "libelle",
    "categorie",
    "libelle_categorie",
    "valeur",
    "effectif",
    "secret_statistique",
    "unite",
    "definition",
)


def to_json(report: IndicatorReport, scope: str) -> dict[str, Any]:
    return {
        "scope": scope,
        "pre_ids": report.tenants,
        "pre_id": report.tenants[0] if len(report.tenants) == 1 else None,
        "school_year": report.school_year,
        "as_of": report.as_of.isoformat() if report.as_of else None,
        "known_on": report.known_on.isoformat(),
        "small_cell_threshold": report.threshold,
        "indicators": [asdict(f) for f in report.figures],
    }


def _number(value: float | None, decimal_comma: bool) -> str:
    if value is None:
        return ""
    text = str(int(value)) if float(value).is_integer() else f"{value}"
    return text.replace(".", ",") if decimal_comma else text


def to_csv(report: IndicatorReport, scope: str, *, separator: str = ",", bom: bool = False) -> str:
    """One row per figure and per category. With ``;`` decimals take a comma (French use)."""
    comma = separator == ";"
    out = io.StringIO()
    if bom:
        out.write("\ufeff")
    writer = csv.writer(out, delimiter=separator, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    head = [
        scope,
        report.school_year,
        report.as_of.isoformat() if report.as_of else "",
        report.known_on.isoformat(),
    ]
    for f in report.figures:
        writer.writerow(
            [
                *head,
                f.key,
                f.label,
                "",
                "Ensemble",
                _number(f.value, comma),
                "" if f.count is None else f.count,
                "oui" if f.suppressed else "non",
                f.unit,
                f.definition,
            ]
        )
        for c in f.cells:
            writer.writerow(
                [
                    *head,
                    f.key,
                    f.label,
                    c.key,
                    c.label,
                    _number(c.value, comma),
                    "" if c.count is None else c.count,
                    "oui" if c.suppressed else "non",
                    f.cell_unit or f.unit,
                    "",
                ]
            )
    return out.getvalue()
