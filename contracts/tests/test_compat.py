"""The compatibility checker, rule by rule, on hand-made before/after schema pairs."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from relais_contracts.compat import find_incompatibilities, is_compatible


def schema(**properties: Any) -> dict[str, Any]:
    """An object schema shaped like pydantic's output; every field required by default."""
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "required": sorted(properties),
    }


def optional(prop: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [prop, {"type": "null"}], "default": None}


STATUS = {"type": "string", "enum": ["open", "closed"], "title": "Status"}
BEFORE: dict[str, Any] = {
    **schema(
        id={"type": "string", "format": "uuid"},
        age={"type": "integer", "minimum": 2, "maximum": 16},
        code={"type": "string", "pattern": "^[a-z]+$", "maxLength": 20},
        status={"$ref": "#/$defs/Status"},
        tags={"type": "array", "items": {"type": "string"}, "maxItems": 5},
        facts={"$ref": "#/$defs/Facts"},
    ),
    "$defs": {
        "Status": STATUS,
        "Facts": schema(level={"type": "string", "enum": ["cp", "ce1"]}),
    },
}


def after(change: Any) -> dict[str, Any]:
    new = copy.deepcopy(BEFORE)
    change(new)
    return new


def rules(new: dict[str, Any]) -> list[str]:
    return [i.rule for i in find_incompatibilities(BEFORE, new)]


def test_an_identical_schema_is_compatible() -> None:
    assert find_incompatibilities(BEFORE, copy.deepcopy(BEFORE)) == []


def test_removing_a_field_is_incompatible() -> None:
    found = find_incompatibilities(BEFORE, after(lambda s: s["properties"].pop("age")))
    assert [i.rule for i in found] == ["field_removed"]
    assert found[0].path == "age"
    assert "age" in str(found[0])


def test_removing_a_field_of_a_nested_model_is_incompatible() -> None:
    found = find_incompatibilities(
        BEFORE, after(lambda s: s["$defs"]["Facts"]["properties"].pop("level"))
    )
    assert [(i.rule, i.path) for i in found] == [("field_removed", "facts.level")]


def test_changing_a_field_type_is_incompatible() -> None:
    def change(s: dict[str, Any]) -> None:
        s["properties"]["age"] = {"type": "string"}

    assert rules(after(change)) == ["type_changed"]


def test_making_a_field_nullable_is_a_type_change() -> None:
    def change(s: dict[str, Any]) -> None:
        s["properties"]["age"] = optional(s["properties"]["age"])

    assert rules(after(change)) == ["type_changed"]


def test_replacing_an_enum_by_a_model_is_a_type_change() -> None:
    def change(s: dict[str, Any]) -> None:
        s["$defs"]["Status"] = schema(value={"type": "string"})

    assert rules(after(change)) == ["type_changed"]


def test_making_an_optional_field_required_is_incompatible() -> None:
    before = schema(a={"type": "string"}, b=optional({"type": "string"}))
    before["required"] = ["a"]
    new = copy.deepcopy(before)
    new["required"] = ["a", "b"]
    assert [i.rule for i in find_incompatibilities(before, new)] == ["made_required"]


def test_adding_a_required_field_is_incompatible() -> None:
    def change(s: dict[str, Any]) -> None:
        s["properties"]["sex"] = {"type": "string"}
        s["required"].append("sex")

    assert rules(after(change)) == ["new_required_field"]


def test_removing_an_enum_value_is_incompatible() -> None:
    found = find_incompatibilities(
        BEFORE, after(lambda s: s["$defs"]["Status"]["enum"].remove("closed"))
    )
    assert [(i.rule, i.path) for i in found] == [("enum_value_removed", "status")]
    assert "'closed'" in found[0].detail


def test_restricting_a_free_value_to_an_enum_is_incompatible() -> None:
    def change(s: dict[str, Any]) -> None:
        s["properties"]["code"]["enum"] = ["a", "b"]

    assert rules(after(change)) == ["enum_added"]


def test_changing_a_const_is_incompatible() -> None:
    before = schema(v={"type": "string", "const": "1.0"})
    new = schema(v={"type": "string", "const": "2.0"})
    assert [i.rule for i in find_incompatibilities(before, new)] == ["enum_value_removed"]


@pytest.mark.parametrize(
    ("field", "keyword", "value"),
    [
        ("age", "minimum", 3),
        ("age", "maximum", 15),
        ("age", "exclusiveMaximum", 16),
        ("age", "multipleOf", 2),
        ("code", "maxLength", 10),
        ("code", "minLength", 1),
        ("code", "pattern", "^[a-z]{2,}$"),
        ("id", "format", "email"),
        ("tags", "maxItems", 4),
        ("tags", "minItems", 1),
        ("tags", "uniqueItems", True),
    ],
)
def test_tightening_a_constraint_is_incompatible(field: str, keyword: str, value: Any) -> None:
    def change(s: dict[str, Any]) -> None:
        s["properties"][field][keyword] = value

    found = find_incompatibilities(BEFORE, after(change))
    assert [(i.rule, i.path) for i in found] == [("constraint_tightened", field)]


def test_tightening_a_constraint_on_list_items_is_incompatible() -> None:
    def change(s: dict[str, Any]) -> None:
        s["properties"]["tags"]["items"]["maxLength"] = 3

    found = find_incompatibilities(BEFORE, after(change))
    assert [(i.rule, i.path) for i in found] == [("constraint_tightened", "tags[]")]


def test_closing_an_open_object_is_incompatible() -> None:
    before = {"type": "object", "properties": {"a": {"type": "string"}}}
    new = {**before, "additionalProperties": False}
    assert [i.rule for i in find_incompatibilities(before, new)] == ["constraint_tightened"]


def test_adding_an_optional_field_is_compatible() -> None:
    def change(s: dict[str, Any]) -> None:
        s["properties"]["sex"] = optional({"type": "string", "enum": ["female", "male"]})

    assert is_compatible(BEFORE, after(change))


def test_adding_an_enum_value_is_compatible() -> None:
    assert is_compatible(BEFORE, after(lambda s: s["$defs"]["Status"]["enum"].append("paused")))


@pytest.mark.parametrize(
    ("field", "keyword", "value"),
    [
        ("age", "minimum", 0),
        ("age", "maximum", 18),
        ("code", "maxLength", 40),
        ("tags", "maxItems", 10),
    ],
)
def test_loosening_a_constraint_is_compatible(field: str, keyword: str, value: Any) -> None:
    def change(s: dict[str, Any]) -> None:
        s["properties"][field][keyword] = value

    assert is_compatible(BEFORE, after(change))


def test_dropping_a_constraint_is_compatible() -> None:
    def change(s: dict[str, Any]) -> None:
        del s["properties"]["code"]["pattern"]
        del s["properties"]["age"]["maximum"]

    assert is_compatible(BEFORE, after(change))


def test_making_a_required_field_optional_is_compatible() -> None:
    assert is_compatible(BEFORE, after(lambda s: s["required"].remove("tags")))


def test_documentation_changes_are_compatible() -> None:
    def change(s: dict[str, Any]) -> None:
        s["properties"]["age"]["description"] = "Age in years."
        s["properties"]["age"]["examples"] = [8]
        s["$defs"]["Status"]["title"] = "State"
        s["title"] = "Renamed"

    assert is_compatible(BEFORE, after(change))


def test_moving_a_definition_behind_a_ref_is_compatible() -> None:
    def change(s: dict[str, Any]) -> None:
        s["$defs"]["Age"] = s["properties"]["age"]
        s["properties"]["age"] = {"$ref": "#/$defs/Age", "description": "Age."}

    assert is_compatible(BEFORE, after(change))


def test_an_optional_enum_keeps_its_rules_inside_the_union() -> None:
    before = schema(s=optional({"$ref": "#/$defs/Status"}))
    before["$defs"] = {"Status": copy.deepcopy(STATUS)}
    grown = copy.deepcopy(before)
    grown["$defs"]["Status"]["enum"].append("paused")
    assert is_compatible(before, grown)
    shrunk = copy.deepcopy(before)
    shrunk["$defs"]["Status"]["enum"].remove("open")
    assert [i.rule for i in find_incompatibilities(before, shrunk)] == ["enum_value_removed"]


def test_several_problems_are_all_reported() -> None:
    def change(s: dict[str, Any]) -> None:
        s["properties"].pop("id")
        s["properties"]["age"]["maximum"] = 12
        s["$defs"]["Status"]["enum"] = ["open"]

    assert sorted(rules(after(change))) == [
        "constraint_tightened",
        "enum_value_removed",
        "field_removed",
    ]


def test_recursive_models_are_compared_without_looping() -> None:
    tree = {
        "$ref": "#/$defs/Node",
        "$defs": {"Node": schema(children={"type": "array", "items": {"$ref": "#/$defs/Node"}})},
    }
    assert is_compatible(tree, copy.deepcopy(tree))
