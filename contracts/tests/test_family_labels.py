"""The family's words for the contract's codes: one per code, shared by parcours and web."""

from __future__ import annotations

from relais_contracts import family_labels
from relais_contracts.types import Axis, DataCategory


def test_every_axis_and_data_category_has_a_word_for_the_family() -> None:
    assert list(family_labels.AXES) == [str(a) for a in Axis]
    assert list(family_labels.CATEGORIES) == [str(c) for c in DataCategory]
    assert "fr" in family_labels.LANGUAGES
    assert set(family_labels.LANGUAGES) >= family_labels.RTL_LANGUAGES
