"""The tolerant reader of the payloads reporting folds (no I/O)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from relais_reporting import demo
from relais_reporting.domain import facts
from relais_reporting.service.project import tolerant_data
from relais_runtime.consumer import PermanentError

PRE = "pre-76540"


def _received() -> list[dict[str, Any]]:
    """The demo's events as the consumer receives them: JSON, ``data`` a dict."""
    return [json.loads(e.model_dump_json()) for e in demo.school_year(PRE, 2025, 60, seed=23)]


def _first(type_suffix: str) -> dict[str, Any]:
    return next(b for b in _received() if b["type"].endswith(type_suffix))


def test_every_payload_a_producer_sends_today_is_read_as_it_is() -> None:
    bodies = [b for b in _received() if b["type"] in facts.READ_TYPES]
    assert len({b["type"] for b in bodies}) >= 10
    for body in bodies:
        assert tolerant_data(body["type"], body["data"]) == body["data"]


def test_a_missing_field_or_a_wrong_value_is_a_schema_violation_naming_fields_not_values() -> None:
    body = _first("referral.submitted.v1")
    data = {k: v for k, v in body["data"].items() if k != "subject_id"}
    data["facts"] = {**data["facts"], "age_years": "Jean Dupont, 8 ans"}
    with pytest.raises(PermanentError) as caught:
        tolerant_data(body["type"], data)
    assert caught.value.code == "schema_violation"
    assert caught.value.fields == ["data.subject_id:missing", "data.facts.age_years:int_parsing"]
    assert "Jean Dupont" not in str(caught.value)


def test_fields_a_minor_version_adds_are_read_past_and_not_kept() -> None:
    body = _first("plan.updated.v1")
    data = json.loads(json.dumps(body["data"]))
    data["visio"] = True
    data["axes"][0]["note"] = "texte libre"
    assert tolerant_data(body["type"], data) == body["data"]


def test_a_code_added_to_the_contract_later_is_read_not_parked() -> None:
    body = _first("referral.submitted.v1")
    # Counted under « Autre » by the indicators (docs/decisions/0005).
    data = {**body["data"], "facts": {**body["data"]["facts"], "source_category": "mairie"}}
    assert tolerant_data(body["type"], data) == data
