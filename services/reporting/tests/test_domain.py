"""Unit tests of the reporting rules (no I/O)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from relais_reporting.domain.indicators import suppress
from relais_reporting.domain.periods import school_year_bounds, school_year_of
from relais_reporting.service.project import anonymous_data


def test_school_year_turns_on_the_first_of_september_in_paris() -> None:
    assert school_year_of(datetime(2026, 8, 31, 21, 59, tzinfo=UTC)) == "2025-2026"
    assert school_year_of(datetime(2026, 8, 31, 22, 0, tzinfo=UTC)) == "2026-2027"


def test_school_year_bounds_run_september_to_august() -> None:
    assert school_year_bounds("2026-2027") == (date(2026, 9, 1), date(2027, 8, 31))
    with pytest.raises(ValueError, match="school year"):
        school_year_bounds("2026-2028")


@pytest.mark.parametrize(("value", "shown"), [(0, 0), (1, None), (4, None), (5, 5), (70, 70)])
def test_small_counts_are_suppressed(value: int, shown: int | None) -> None:
    assert suppress(value, 5) == shown


def test_the_sealed_identity_is_never_kept() -> None:
    assert anonymous_data({"sealed": "x.y.z.a.b", "referral_id": "r"}) == {"referral_id": "r"}
