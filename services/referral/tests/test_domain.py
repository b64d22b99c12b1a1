"""Unit tests of the referral rules (no I/O)."""

from __future__ import annotations

from datetime import date

import pytest

from relais_contracts.types import ReferralStatus as S
from relais_referral.domain.referral import age_on
from relais_referral.domain.timeline import can_move


@pytest.mark.parametrize(
    ("birth", "day", "age"),
    [
        (date(2017, 3, 14), date(2026, 3, 13), 8),
        (date(2017, 3, 14), date(2026, 3, 14), 9),
        (date(2016, 2, 29), date(2026, 2, 28), 9),
        (date(2016, 2, 29), date(2026, 3, 1), 10),
    ],
)
def test_age_counts_whole_years_on_the_day(birth: date, day: date, age: int) -> None:
    assert age_on(birth, day) == age


def test_a_late_event_never_moves_a_referral_back() -> None:
    assert can_move(S.RECEIVED, S.UNDER_REVIEW)
    assert can_move(S.UNDER_REVIEW, S.TAKEN_UP)
    assert can_move(S.TAKEN_UP, S.CLOSED)
    assert not can_move(S.TAKEN_UP, S.UNDER_REVIEW)
    assert not can_move(S.UNDER_REVIEW, S.UNDER_REVIEW)


def test_a_referral_can_be_withdrawn_only_before_it_is_taken_up() -> None:
    assert can_move(S.RECEIVED, S.WITHDRAWN)
    assert can_move(S.UNDER_REVIEW, S.WITHDRAWN)
    assert not can_move(S.TAKEN_UP, S.WITHDRAWN)


@pytest.mark.parametrize("final", [S.DECLINED, S.REDIRECTED, S.CLOSED, S.WITHDRAWN])
def test_nothing_follows_a_final_status(final: S) -> None:
    assert all(not can_move(final, target) for target in S)
