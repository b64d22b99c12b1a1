"""The Jinja2 environment of every page (autoescaped; French dates and labels)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi.templating import Jinja2Templates

from relais_web import labels
from relais_web.forms.values import many
from relais_web.nav import nav_for
from relais_web.security import CSRF_FIELD

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

_PARIS = ZoneInfo("Europe/Paris")
_MONTHS = (
    *("janvier", "février", "mars", "avril", "mai", "juin"),
    *("juillet", "août", "septembre", "octobre", "novembre", "décembre"),
)


def french_date(value: str | date | datetime | None) -> str:
    """``2026-12-03`` or a timestamp as « 3 décembre 2026 »."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return str(value)
    day = value.date() if isinstance(value, datetime) else value
    return f"{day.day}{'er' if day.day == 1 else ''} {_MONTHS[day.month - 1]} {day.year}"


def french_datetime(value: str | datetime | None) -> str:
    """A timestamp as « 3 décembre 2026 à 14:05 », Paris time."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return str(value)
    local = value.astimezone(_PARIS) if value.tzinfo else value
    return f"{french_date(local)} à {local:%H:%M}"


def french_number(value: float | None) -> str:
    """``1234.5`` as « 1 234,5 » (a narrow no-break space between thousands)."""
    if value is None:
        return "—"
    return f"{value:,.1f}".replace(",", "\u202f").replace(".", ",").removesuffix(",0")


def pairs(values: list[str]) -> list[tuple[str, str]]:
    return [(v, v) for v in values]


templates.env.filters["date_fr"] = french_date
templates.env.filters["datetime_fr"] = french_datetime
templates.env.filters["number_fr"] = french_number
templates.env.filters["zip_pairs"] = pairs
templates.env.globals["CSRF_FIELD"] = CSRF_FIELD
templates.env.globals["nav_for"] = nav_for
templates.env.globals["L"] = labels
templates.env.globals["label"] = labels.label

templates.env.globals["many"] = many
templates.env.globals["uuid"] = lambda: str(uuid.uuid4())
