"""Every message model: examples, strictness, enums, naming, and the envelope round trip."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from relais_contracts import types as contract_types
from relais_contracts.base import Message, Strict
from relais_contracts.catalogue import ALL_MESSAGES, PRODUCER, source_of
from relais_contracts.envelope import envelope_model, new_event
from relais_contracts.types import DeadlineKind, ReviewDecision
from relais_contracts.v1.parcours import (
    ConsentGiven,
    DeadlineOverdue,
    PlanUpdated,
    ReviewDecided,
    SituationOpened,
)
from relais_contracts.v1.referral import SubmitReferral

MESSAGES = [pytest.param(m, id=m.message_type) for m in ALL_MESSAGES]


def examples_of(message: type[BaseModel]) -> list[dict[str, Any]]:
    examples: list[dict[str, Any]] = message.model_json_schema().get("examples", [])
    return examples


def first_example(message: type[Message]) -> Message:
    return message.model_validate(examples_of(message)[0])


def enum_fields(model: type[BaseModel]) -> list[tuple[str, type[StrEnum]]]:
    """Fields typed with an enum (directly, optional, or as list items)."""
    found = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        for candidate in candidates:
            if isinstance(candidate, type) and issubclass(candidate, StrEnum):
                found.append((name, candidate))
                break
    return found


@pytest.mark.parametrize("message", MESSAGES)
def test_every_message_has_an_example_that_validates(message: type[Message]) -> None:
    examples = examples_of(message)
    assert examples, f"{message.__name__} needs a json_schema_extra example"
    for example in examples:
        parsed = message.model_validate(example)
        # The example is complete: dumping it back gives the same values.
        assert message.model_validate(parsed.model_dump(mode="json")) == parsed


@pytest.mark.parametrize("message", MESSAGES)
def test_unknown_fields_are_rejected(message: type[Message]) -> None:
    example = examples_of(message)[0]
    with pytest.raises(ValidationError, match=r"extra_forbidden|Extra inputs"):
        message.model_validate({**example, "child_first_name": "Lina"})


def test_unknown_fields_are_rejected_in_nested_parts_too() -> None:
    example = examples_of(PlanUpdated)[0]
    example["axes"][0]["objectives"]["comment"] = "free text"
    with pytest.raises(ValidationError):
        PlanUpdated.model_validate(example)


@pytest.mark.parametrize("message", MESSAGES)
def test_enums_reject_unknown_values(message: type[Message]) -> None:
    example = examples_of(message)[0]
    for name, _enum in enum_fields(message):
        if name not in example:
            continue
        bad: object = ["not_a_code"] if isinstance(example[name], list) else "not_a_code"
        with pytest.raises(ValidationError, match=r"enum|literal_error|Input should be"):
            message.model_validate({**example, name: bad})


@pytest.mark.parametrize("message", MESSAGES)
def test_messages_are_immutable(message: type[Message]) -> None:
    parsed = first_example(message)
    field = next(iter(message.model_fields))
    with pytest.raises(ValidationError):
        setattr(parsed, field, None)


@pytest.mark.parametrize("message", MESSAGES)
def test_type_routing_key_and_schema_id_derive_from_the_message_type(
    message: type[Message],
) -> None:
    domain, name = message.message_type.split(".")
    assert message.version == 1
    assert message.ce_type() == f"fr.relais.{domain}.{name}.v1"
    assert message.routing_key("pre-76540") == f"{domain}.{name}.v1.pre-76540"
    assert message.schema_id().endswith(f"/schemas/{domain}.{name}.v1.json")
    # Routing-key words are separated by dots: no dot may hide inside one.
    assert len(message.routing_key("pre-76540").split(".")) == 4


def test_known_routing_keys_and_types() -> None:
    assert SituationOpened.routing_key("pre-76540") == "situation.opened.v1.pre-76540"
    assert ReviewDecided.ce_type() == "fr.relais.review.decided.v1"
    assert SubmitReferral.kind == "command"
    assert SubmitReferral.routing_key("ecole-jules-ferry") == "referral.submit.v1.ecole-jules-ferry"
    assert all(m.kind == "event" for m in ALL_MESSAGES if m is not SubmitReferral)


@pytest.mark.parametrize("message", MESSAGES)
def test_subject_field_names_an_id_of_the_message(message: type[Message]) -> None:
    if message.subject_field is None:
        assert message.kind == "command"
        return
    assert message.subject_field in message.model_fields
    assert first_example(message).ce_subject()


@pytest.mark.parametrize("message", MESSAGES)
def test_a_message_round_trips_through_its_envelope_as_json(message: type[Message]) -> None:
    data = first_example(message)
    institution = getattr(data, "institution_id", None)
    event = new_event(
        data,
        source=source_of(message, institution),
        subject=data.ce_subject() or "ENT-2026-0042",
        tenant="pre-76540",
        sequence=3,
        causationid=str(uuid.uuid4()),
    )
    wire = event.model_dump_json()
    parsed = envelope_model(message).model_validate_json(wire)
    assert parsed.data == data
    assert isinstance(parsed.data, message)
    assert parsed.type == message.ce_type()
    assert parsed.dataschema == message.schema_id()
    assert parsed.routing_key().startswith(message.routing_prefix() + ".")
    assert parsed.model_dump_json() == wire


def test_envelope_routing_key_ends_with_pre_for_events_and_institution_for_commands() -> None:
    event = new_event(
        first_example(SituationOpened), source="/relais/parcours", tenant="pre-76540", sequence=1
    )
    assert event.routing_key() == "situation.opened.v1.pre-76540"
    command = first_example(SubmitReferral)
    envelope = new_event(
        command,
        source=source_of(SubmitReferral, "ecole-jules-ferry"),
        subject="ENT-2026-0042",
        tenant="pre-76540",
        sequence=1,
    )
    assert envelope.routing_key() == "referral.submit.v1.ecole-jules-ferry"


def test_new_event_takes_the_subject_from_the_aggregate_id() -> None:
    data = first_example(SituationOpened)
    event = new_event(data, source="/relais/parcours", tenant="pre-76540", sequence=1)
    assert event.subject == str(data.situation_id)  # type: ignore[attr-defined]


def test_new_event_needs_a_subject_when_the_message_names_no_aggregate() -> None:
    with pytest.raises(ValueError, match="subject"):
        new_event(
            first_example(SubmitReferral), source="/institutions/x", tenant="pre-76540", sequence=1
        )


def test_the_envelope_rejects_data_of_another_type() -> None:
    event = new_event(
        first_example(SituationOpened), source="/relais/parcours", tenant="pre-76540", sequence=1
    )
    with pytest.raises(ValidationError):
        envelope_model(ReviewDecided).model_validate_json(event.model_dump_json())


def test_times_must_carry_a_time_zone() -> None:
    example = examples_of(SituationOpened)[0]
    with pytest.raises(ValidationError):
        SituationOpened.model_validate({**example, "opened_at": "2026-10-05T08:31:00"})


def test_envelope_time_is_stored_in_utc() -> None:
    event = new_event(
        first_example(SituationOpened),
        source="/relais/parcours",
        tenant="pre-76540",
        sequence=1,
        time=datetime.fromisoformat("2026-10-05T10:31:00+02:00"),
    )
    assert event.time == datetime(2026, 10, 5, 8, 31, tzinfo=UTC)
    assert event.time.utcoffset() is not None
    assert not event.time.utcoffset()


def test_partner_ids_must_be_slugs() -> None:
    example = examples_of(ConsentGiven)[0]
    example["scope"][0]["partner_id"] = "CMPP Rouen"
    with pytest.raises(ValidationError):
        ConsentGiven.model_validate(example)


def test_a_decline_needs_its_reason_and_only_a_decline_has_one() -> None:
    base = {k: v for k, v in examples_of(ReviewDecided)[2].items() if k != "decline_reason"}
    with pytest.raises(ValidationError, match="decline_reason"):
        ReviewDecided.model_validate(base)
    take_up = examples_of(ReviewDecided)[0]
    with pytest.raises(ValidationError, match="decline_reason"):
        ReviewDecided.model_validate({**take_up, "decline_reason": "outside_territory"})


def test_a_redirect_names_the_service_and_its_category() -> None:
    redirect = examples_of(ReviewDecided)[1]
    assert ReviewDecided.model_validate(redirect).decision is ReviewDecision.REDIRECT
    for missing in ("redirected_to", "redirect_category"):
        partial = {k: v for k, v in redirect.items() if k != missing}
        with pytest.raises(ValidationError, match="redirected_to"):
            ReviewDecided.model_validate(partial)
    decline = examples_of(ReviewDecided)[2]
    with pytest.raises(ValidationError, match="redirected_to"):
        ReviewDecided.model_validate({**decline, "redirected_to": "CMP"})


def test_only_a_take_up_lists_axes() -> None:
    decline = examples_of(ReviewDecided)[2]
    with pytest.raises(ValidationError, match="axes"):
        ReviewDecided.model_validate({**decline, "axes": ["health"]})


def test_review_decided_carries_the_referrals_concerned() -> None:
    example = examples_of(ReviewDecided)[0]
    with pytest.raises(ValidationError):
        ReviewDecided.model_validate({**example, "referral_ids": []})


def test_a_handover_deadline_names_the_handover_and_partner() -> None:
    handover, review = examples_of(DeadlineOverdue)
    assert DeadlineOverdue.model_validate(handover).deadline_kind is DeadlineKind.HANDOVER_RESPONSE
    with pytest.raises(ValidationError, match="handover_id"):
        DeadlineOverdue.model_validate({**handover, "handover_id": None})
    with pytest.raises(ValidationError, match="partner_id"):
        DeadlineOverdue.model_validate({**review, "partner_id": "cmp-rouen"})


def test_a_plan_lists_each_axis_once() -> None:
    example = examples_of(PlanUpdated)[0]
    example["axes"][1]["axis"] = "schooling"
    with pytest.raises(ValidationError, match="axes"):
        PlanUpdated.model_validate(example)


def test_plan_counts_are_not_negative() -> None:
    example = examples_of(PlanUpdated)[0]
    example["axes"][0]["actions"]["done"] = -1
    with pytest.raises(ValidationError):
        PlanUpdated.model_validate(example)


def test_consent_scope_names_each_partner_once() -> None:
    example = examples_of(ConsentGiven)[0]
    example["scope"][1]["partner_id"] = example["scope"][0]["partner_id"]
    with pytest.raises(ValidationError, match="partner_id"):
        ConsentGiven.model_validate(example)


def test_calendar_dates_are_dates() -> None:
    opened = first_example(SituationOpened)
    assert isinstance(opened.review_due_on, date)  # type: ignore[attr-defined]


def test_shared_enums_use_snake_case_codes() -> None:
    for value in vars(contract_types).values():
        if isinstance(value, type) and issubclass(value, StrEnum) and value is not StrEnum:
            for member in value:
                assert member.value == member.value.lower(), (value, member)
                assert " " not in member.value
                assert "." not in member.value


def test_every_part_of_a_message_is_strict() -> None:
    def parts(model: type[BaseModel]) -> set[type[BaseModel]]:
        found = {model}
        for field in model.model_fields.values():
            for arg in [field.annotation, *getattr(field.annotation, "__args__", ())]:
                for inner in [arg, *getattr(arg, "__args__", ())]:
                    if isinstance(inner, type) and issubclass(inner, BaseModel):
                        found |= parts(inner)
        return found

    for message in ALL_MESSAGES:
        for part in parts(message):
            assert issubclass(part, Strict), part
            assert part.model_config.get("extra") == "forbid", part
            assert part.model_config.get("frozen") is True, part


def test_every_message_has_a_producer() -> None:
    assert set(PRODUCER) == set(ALL_MESSAGES)
