"""The French labels of contract codes: one per code, in the codes' order."""

from __future__ import annotations

from enum import StrEnum

import pytest

from relais_contracts import labels, types
from relais_contracts.types import (
    Axis,
    DeclineReason,
    ExitReason,
    HandoverCancelReason,
    PartnerCategory,
    ReasonCategory,
    SourceCategory,
)


@pytest.mark.parametrize(
    ("table", "codes"),
    [
        (labels.AXIS, Axis),
        (labels.SOURCE_CATEGORY, SourceCategory),
        (labels.REASON_CATEGORY, ReasonCategory),
        (labels.PARTNER_CATEGORY, PartnerCategory),
        (labels.DECLINE_REASON, DeclineReason),
        (labels.EXIT_REASON, ExitReason),
        (labels.HANDOVER_CANCEL_REASON, HandoverCancelReason),
    ],
)
def test_every_code_of_the_contract_has_a_label_in_the_contracts_order(
    table: labels.Labels, codes: type[StrEnum]
) -> None:
    assert list(table) == [c.value for c in codes]
    assert all(text.strip() for text in table.values())


def test_an_unknown_code_shows_as_itself_and_none_as_nothing() -> None:
    assert labels.label(labels.AXIS, "health") == "Santé"
    assert labels.label(labels.AXIS, "arts_and_crafts") == "arts and crafts"
    assert labels.label(labels.AXIS, None) == ""


def test_inside_a_sentence_a_label_loses_its_capital_but_not_an_acronym() -> None:
    assert labels.in_sentence("Santé") == "santé"
    assert labels.in_sentence("CMPP") == "CMPP"
    assert labels.in_sentence("Épanouissement") == "épanouissement"
    assert labels.in_sentence_table(labels.DECLINE_REASON)["outside_territory"] == (
        "hors du territoire du PRE"
    )


def test_every_code_type_of_the_contract_is_described_in_french() -> None:
    code_types = {
        value
        for value in vars(types).values()
        if isinstance(value, type) and issubclass(value, StrEnum) and value is not StrEnum
    }
    assert set(labels.TYPE_DESCRIPTIONS) == code_types
    for code_type, text in labels.TYPE_DESCRIPTIONS.items():
        assert text.endswith("."), code_type.__name__
        assert text != code_type.__doc__, code_type.__name__
