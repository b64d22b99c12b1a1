"""Unit tests of the blind index: same child however typed, nothing guessable without the key."""

from __future__ import annotations

import os
from datetime import date

import pytest

from relais_referral.domain.identity import blind_index, normalise_name

KEY = os.urandom(32)
BIRTH = date(2017, 3, 14)


@pytest.mark.parametrize(
    ("typed", "normalised"),
    [
        ("Éloïse", "eloise"),
        ("  ELOISE ", "eloise"),
        ("Le Gall-Martin", "le gall martin"),
        ("le  gall – martin", "le gall martin"),
        ("N'Diaye", "n diaye"),
        ("N’DIAYE", "n diaye"),
        ("Çağla", "cagla"),
        ("Strauß", "strauss"),
        ("Cœur", "coeur"),
        ("Zoë-Chloé", "zoe chloe"),
    ],
)
def test_names_are_normalised_without_accents_case_or_separators(
    typed: str, normalised: str
) -> None:
    assert normalise_name(typed) == normalised


def test_the_same_child_typed_differently_gets_the_same_index() -> None:
    first = blind_index(KEY, "Éloïse", "Le Gall-Martin", BIRTH)
    assert blind_index(KEY, "ELOISE", "le gall martin", BIRTH) == first
    assert blind_index(KEY, " eloïse ", "LE GALL - MARTIN", BIRTH) == first


def test_another_birth_date_or_name_is_another_child() -> None:
    first = blind_index(KEY, "Eloise", "Le Gall", BIRTH)
    assert blind_index(KEY, "Eloise", "Le Gall", date(2017, 3, 15)) != first
    assert blind_index(KEY, "Elise", "Le Gall", BIRTH) != first
    # The separator keeps "ab c" and "a bc" apart.
    assert blind_index(KEY, "Ab", "C", BIRTH) != blind_index(KEY, "A", "Bc", BIRTH)


def test_the_index_depends_on_the_pre_key_and_holds_no_name() -> None:
    index = blind_index(KEY, "Eloise", "Le Gall", BIRTH)
    assert index != blind_index(os.urandom(32), "Eloise", "Le Gall", BIRTH)
    assert len(index) == 64
    assert "eloise" not in index


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="256 bits"):
        blind_index(b"short", "Eloise", "Le Gall", BIRTH)
