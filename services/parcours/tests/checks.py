"""Helpers shared by the rule tests: the PRE's day and the one field error of a 422."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from .conftest import Harness as Harness  # the tests import it from here too

CMPP = "cmpp-rouen"


def today() -> date:
    """Today as the PRE counts days (Europe/Paris, the service default)."""
    return datetime.now(ZoneInfo("Europe/Paris")).date()


def field_error(response: Any) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    return dict(error)
