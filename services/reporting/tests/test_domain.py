"""Unit tests of the reporting rules (no I/O)."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from relais_contracts.catalogue import ALL_MESSAGES
from relais_contracts.envelope import CloudEvent
from relais_reporting import demo
from relais_reporting.domain import facts, indicators, labels
from relais_reporting.domain.access import readable_regions, readable_tenants
from relais_reporting.domain.periods import school_year_bounds, school_year_of
from relais_reporting.domain.privacy import NOT_KEPT, anonymous_data
from relais_reporting.domain.suppression import suppress, suppress_table
from relais_reporting.service.project import logged

PRE = "pre-76540"


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


def test_the_sealed_identity_and_free_text_are_never_kept() -> None:
    data = {"sealed": "x.y.z.a.b", "referral_id": "r", "nested": [{"redirected_to": "CMPP X"}]}
    assert anonymous_data(data) == {"referral_id": "r", "nested": [{}]}


def _free_text_fields(schema: dict, defs: dict, path: str = "") -> set[str]:  # type: ignore[type-arg]
    found: set[str] = set()
    if "$ref" in schema:
        return _free_text_fields(defs[schema["$ref"].split("/")[-1]], defs, path)
    for key in ("anyOf", "allOf", "oneOf"):
        for sub in schema.get(key, []):
            found |= _free_text_fields(sub, defs, path)
    if schema.get("type") == "object":
        for name, sub in schema.get("properties", {}).items():
            if name not in NOT_KEPT:
                found |= _free_text_fields(sub, defs, name)
    if schema.get("type") == "array":
        found |= _free_text_fields(schema.get("items", {}), defs, path)
    constrained = {"pattern", "format", "enum", "const"} & set(schema)
    if schema.get("type") == "string" and not constrained:
        found.add(path)
    return found


def test_no_free_text_field_of_any_event_whose_payload_is_kept_reaches_the_log() -> None:
    """Every string kept is a code, an id, a date or a slug; new free text fails here."""
    kept = [m for m in ALL_MESSAGES if m.ce_type() in facts.READ_TYPES]
    assert {m.ce_type() for m in kept} == facts.READ_TYPES  # no rule for a type that isn't
    for message in kept:
        schema = message.model_json_schema()
        assert _free_text_fields(schema, schema.get("$defs", {})) == set(), message.__name__


def _envelope(type_: str, data: dict[str, Any], subject: str = "cmd-1") -> CloudEvent[Any]:
    """An event as the consumer's catch-all handler receives it: ``data`` left a dict."""
    body = {
        "id": str(uuid.uuid4()),
        "source": "/relais/referral",
        "type": type_,
        "subject": subject,
        "time": "2026-10-05T08:30:02Z",
        "dataschema": "https://relais.example/schemas/x.json",
        "tenant": PRE,
        "correlationid": "c-1",
        "sequence": 1,
        "data": data,
    }
    return CloudEvent[dict[str, Any]].model_validate_json(json.dumps(body))


def test_a_type_reporting_does_not_read_is_logged_without_its_payload() -> None:
    rejected = _envelope(
        "fr.relais.referral.submit_rejected.v1",
        {"command_id": "cmd-1", "external_ref": "ENT-2026-0042", "fields": ["child.name:x"]},
    )
    entry = logged(rejected)
    assert (entry.type, entry.tenant, entry.subject, entry.data) == (
        "fr.relais.referral.submit_rejected.v1",
        PRE,
        "cmd-1",
        {},
    )
    assert facts.target_of(entry) is None


def test_a_new_major_version_of_a_folded_type_is_not_folded_with_the_v1_rules() -> None:
    v2 = logged(_envelope("fr.relais.referral.submitted.v2", {"referral_id": "r", "x": 1}, "r"))
    assert v2.data == {}
    assert facts.target_of(v2) is None
    assert facts.fold_all([v2]) == {}


def test_suppression_protects_a_small_cell_from_being_recomputed_from_the_total() -> None:
    cells = {"a": 12, "b": 3, "c": 7, "_total": 22}
    hidden = suppress_table(cells, [("_total", ["a", "b", "c"])], 5)
    assert hidden == {"b", "c"}


def test_suppression_in_a_two_way_table_covers_rows_and_columns() -> None:
    cells = {
        "r1|x": 3, "r1|y": 10, "r1|t": 13,
        "r2|x": 8, "r2|y": 9, "r2|t": 17,
        "t|x": 11, "t|y": 19, "_total": 30,
    }  # fmt: skip
    constraints = [
        ("r1|t", ["r1|x", "r1|y"]),
        ("r2|t", ["r2|x", "r2|y"]),
        ("t|x", ["r1|x", "r2|x"]),
        ("t|y", ["r1|y", "r2|y"]),
        ("_total", ["r1|t", "r2|t"]),
        ("_total", ["t|x", "t|y"]),
    ]
    hidden = suppress_table(cells, constraints, 5)
    assert hidden == {"r1|x", "r1|y", "r2|x", "r2|y"}
    for total, members in constraints:
        assert sum(k in hidden for k in [total, *members]) != 1


def test_a_total_below_the_threshold_hides_every_cell() -> None:
    hidden = suppress_table({"a": 3, "b": 0, "_total": 3}, [("_total", ["a", "b"])], 5)
    assert hidden == {"a", "_total"}


def _logged_year(children: int = 120, seed: int = 3) -> list[facts.LoggedEvent]:
    return [logged(e) for e in demo.school_year(PRE, 2025, children, seed=seed)]


def test_folding_in_any_order_and_with_duplicates_gives_the_same_documents() -> None:
    events = _logged_year()
    expected = facts.fold_all(events)
    shuffled = events + random.Random(1).sample(events, 200)
    random.Random(2).shuffle(shuffled)
    assert facts.fold_all(shuffled) == expected


def test_a_later_review_decision_wins_whatever_the_arrival_order() -> None:
    base = dict(type="fr.relais.review.decided.v1", tenant=PRE, subject="s")
    at = datetime(2026, 10, 1, tzinfo=UTC)
    common = {
        "situation_id": "s",
        "subject_id": "c",
        "referral_ids": ["r"],
        "decided_at": at.isoformat(),
    }
    first = facts.LoggedEvent(
        **base,
        sequence=2,
        occurred_at=at,
        data={**common, "decision": "decline", "decline_reason": "other"},
    )  # type: ignore[arg-type]
    second = facts.LoggedEvent(
        **base, sequence=3, occurred_at=at, data={**common, "decision": "take_up"}
    )  # type: ignore[arg-type]
    for order in ([first, second], [second, first]):
        doc = facts.fold_all(order)[("situation", "s")]
        assert doc["decision"] == "take_up"


def test_indicators_of_a_demo_year_are_consistent_and_protected() -> None:
    docs = facts.fold_all(_logged_year(300, seed=5))
    figures = {f.key: f for f in indicators.compute_all(docs, indicators.Period("2025-2026"), 5)}
    assert [i.key for i in indicators.INDICATORS] == list(figures)
    assert figures["new_referrals"].value == 300
    sources = figures["referral_sources"]
    assert sources.value == 300
    shown = [c.value for c in sources.cells if not c.suppressed]
    assert all(v is not None and v >= 5 for v in shown)
    followed = figures["children_followed"].value
    assert followed is not None
    assert followed > 150
    age_sex = figures["age_sex"]
    assert age_sex.value == figures["children_followed"].value
    for figure in figures.values():
        assert figure.label
        assert figure.definition
        for cell in figure.cells:
            assert (
                cell.suppressed
                or cell.value is None
                or figure.unit in {"jours", "%"}
                or cell.value == 0
                or cell.value >= 5
            )


def test_as_of_cuts_the_period_at_the_end_of_that_day() -> None:
    docs = facts.fold_all(_logged_year(300, seed=5))
    whole = indicators.Period("2025-2026")
    december = indicators.Period("2025-2026", as_of=date(2025, 12, 31))
    full = {f.key: f.value for f in indicators.compute_all(docs, whole, 1)}
    cut = {f.key: f.value for f in indicators.compute_all(docs, december, 1)}
    assert cut["new_referrals"] < full["new_referrals"]  # type: ignore[operator]
    assert december.end == "2025-12-31T23:00:00+00:00"


def test_an_analyst_reads_its_pre_and_the_regions_of_its_organisation() -> None:
    regions = {"normandie": ["pre-76540", "pre-14118"]}
    mapping = {"reseau-normandie": ["normandie", "unknown-region"]}
    analyst = frozenset({"analyst"})
    assert readable_tenants(analyst, "pre-27000", "reseau-normandie", regions, mapping) == {
        "pre-27000", "pre-76540", "pre-14118",
    }  # fmt: skip
    assert readable_regions(analyst, "reseau-normandie", regions, mapping) == ["normandie"]
    coordinator = frozenset({"coordinator"})
    assert readable_tenants(coordinator, "pre-76540", "reseau-normandie", regions, mapping) == {
        "pre-76540"
    }
    assert readable_regions(coordinator, "reseau-normandie", regions, mapping) == []
    assert readable_tenants(frozenset({"referent"}), "pre-76540", "x", regions, mapping) == set()


def test_a_region_hides_what_would_give_back_one_pre_s_hidden_cell() -> None:
    """Region minus the other PRE's shown figures must not reveal a PRE's secret."""
    small = facts.fold_all(_logged_year(3, seed=21))  # 3 referrals: hidden in its PRE
    big = facts.fold_all(
        logged(e) for e in demo.school_year("pre-14118", 2025, 40, seed=22)
    )  # shown
    both = {**small, **big}
    period = indicators.Period("2025-2026")
    own = {f.key: f for f in indicators.compute_all(small, period, 5)}
    assert own["new_referrals"].suppressed
    region = {f.key: f for f in indicators.compute_all(both, period, 5, [PRE, "pre-14118"])}
    assert region["new_referrals"].suppressed
    naive = {f.key: f for f in indicators.compute_all(both, period, 5)}
    assert naive["new_referrals"].value == 43  # what the region alone would have shown
    # Within each table the protection still holds: no lone hidden cell in a constraint.
    sources = region["referral_sources"]
    assert sources.suppressed


def test_handovers_still_waiting_count_their_wait_so_far() -> None:
    asked = datetime(2025, 10, 1, tzinfo=UTC)
    events = []
    for n in range(6):
        h = {"situation_id": "s", "subject_id": "c", "partner_id": "x", "handover_id": f"h{n}"}
        requested = {**h, "partner_category": "cmpp", "axis": "health"}
        requested["requested_at"] = asked.isoformat()
        waitlisted = {**h, "waitlisted_at": asked.isoformat()}
        for seq, (kind, data) in enumerate([("requested", requested), ("waitlisted", waitlisted)]):
            events.append(
                facts.LoggedEvent(
                    f"fr.relais.handover.{kind}.v1", PRE, f"h{n}", seq + 1, asked, data
                )
            )
    docs = facts.fold_all(events)
    period = indicators.Period("2025-2026", as_of=date(2025, 12, 31))
    figure = next(f for f in indicators.compute_all(docs, period, 5) if f.key == "waitlist_pending")
    assert figure.count == 6
    assert figure.value == 92.0  # 1 October to the end of 31 December (Paris)


def test_a_category_code_without_a_label_cannot_be_recovered_from_the_total() -> None:
    """A code added to the contract after this release (here a source ``pmi`` and a partner
    ``crèche``) is counted under "Autre", so complementary suppression protects it."""
    docs: facts.Projections = {}
    for i in range(32):
        at = datetime(2025, 10, 1, 9, i, tzinfo=UTC).isoformat()
        source = "pmi" if i < 2 else "school"
        docs[("referral", f"r{i}")] = {"pre_id": PRE, "submitted_at": at, "source_category": source}
        docs[("handover", f"h{i}")] = {
            "pre_id": PRE,
            "partner_category": "creche" if i < 2 else "cmpp",
            "requested_at": at,
            "answered_at": datetime(2025, 10, 3, 9, i, tzinfo=UTC).isoformat(),
        }
    figures = {f.key: f for f in indicators.compute_all(docs, indicators.Period("2025-2026"), 5)}
    for key in ("referral_sources", "delay_handover_answer"):
        figure = figures[key]
        shown = sum(c.count or c.value or 0 for c in figure.cells if not c.suppressed)
        hidden = sum(c.suppressed for c in figure.cells)
        total = figure.count if figure.unit == "jours" else figure.value
        assert figure.suppressed or total == shown or hidden >= 2, key


def test_every_code_of_the_contract_has_a_french_label() -> None:
    from relais_contracts import types

    for enum, names in [
        (types.SourceCategory, labels.SOURCE),
        (types.ReasonCategory, labels.REASON),
        (types.Axis, labels.AXIS),
        (types.Sex, labels.SEX),
        (types.TriState, labels.QPV),
        (types.PartnerCategory, labels.PARTNER),
        (types.ExitReason, labels.EXIT),
    ]:
        assert {e.value for e in enum} <= set(names), enum.__name__
