"""Compatibility of two versions of a JSON Schema (pydantic output, draft 2020-12).

A change to a published ``v1`` schema is *compatible* when every message valid under the
old schema stays valid under the new one and no field a consumer may read disappears:

- incompatible: a field removed; a field's type changed (nullable added included); a field
  made required, or a new required field; an enum (or const) value removed, or an enum
  added where there was none; a constraint added or tightened (minimum, maximum, lengths,
  item counts, ``multipleOf``, ``pattern``, ``format``, ``uniqueItems``); extra properties
  closed.
- compatible: a new optional field, a new enum value, a constraint loosened or dropped, a
  field made optional, any change of title, description, examples or default.

A changed ``pattern`` counts as tightened: whether one regular expression accepts all that
another does cannot be decided in general, so a looser pattern also needs a new major.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Schema = Mapping[str, Any]

# Lower bounds are tightened when raised, upper bounds when lowered; both when added.
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
# Any addition or change of these restricts the values accepted.
_EXACT_CONSTRAINTS = ("pattern", "format", "multipleOf")


@dataclass(frozen=True)
class Incompatibility:
    """One incompatible difference, located by a dotted path (``data.facts.age_years``)."""

    path: str
    rule: str  # field_removed, type_changed, made_required, enum_value_removed, ...
    detail: str

    def __str__(self) -> str:
        return f"{self.path or '(root)'}: {self.detail}"


def find_incompatibilities(old: Schema, new: Schema) -> list[Incompatibility]:
    """Every incompatible change from ``old`` to ``new``; empty when ``new`` is compatible."""
    walker = _Walker(old, new)
    walker.compare(old, new, "", frozenset())
    return walker.found


def is_compatible(old: Schema, new: Schema) -> bool:
    return not find_incompatibilities(old, new)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _describe(types: frozenset[str]) -> str:
    return " | ".join(sorted(types)) or "nothing"


class _Walker:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self.old_root = old_root
        self.new_root = new_root
        self.found: list[Incompatibility] = []

    def report(self, path: str, rule: str, detail: str) -> None:
        self.found.append(Incompatibility(path, rule, detail))

    # --- reading schemas ------------------------------------------------------------------

    @staticmethod
    def resolve(node: Schema, root: Schema) -> tuple[Schema, tuple[str, ...]]:
        """Follow local ``$ref`` (and one-element ``allOf``) to the schema they name.

        Sibling keywords of a ``$ref`` (pydantic puts ``description`` there) are kept.
        Returns the schema and the refs followed, to detect recursion.
        """
        refs: list[str] = []
        while True:
            if "$ref" in node:
                ref = str(node["$ref"])
                if ref in refs:
                    break
                refs.append(ref)
                siblings = {k: v for k, v in node.items() if k != "$ref"}
                node = {**_pointer(root, ref), **siblings}
            elif isinstance(node.get("allOf"), list) and len(node["allOf"]) == 1:
                siblings = {k: v for k, v in node.items() if k != "allOf"}
                node = {**node["allOf"][0], **siblings}
            else:
                return node, tuple(refs)
        return node, tuple(refs)

    def types(self, node: Schema, root: Schema) -> frozenset[str]:
        """The JSON types a schema admits (``any`` when unconstrained)."""
        node, _ = self.resolve(node, root)
        branches = _branches(node)
        if branches is not None:
            return frozenset().union(*(self.types(b, root) for b in branches))
        declared = node.get("type")
        if isinstance(declared, str):
            return frozenset({declared})
        if isinstance(declared, list):
            return frozenset(str(t) for t in declared)
        values = _allowed_values(node)
        if values is not None:
            return frozenset(_json_type(v) for v in values)
        if "properties" in node:
            return frozenset({"object"})
        if "items" in node:
            return frozenset({"array"})
        return frozenset({"any"})

    # --- comparing ------------------------------------------------------------------------

    def compare(self, old: Schema, new: Schema, path: str, seen: frozenset[Any]) -> None:
        old, old_refs = self.resolve(old, self.old_root)
        new, new_refs = self.resolve(new, self.new_root)
        if old_refs or new_refs:
            key = (old_refs, new_refs)
            if key in seen:  # a recursive model: this pair is already being compared
                return
            seen = seen | {key}

        old_types = self.types(old, self.old_root)
        new_types = self.types(new, self.new_root)
        if old_types != new_types:
            self.report(
                path,
                "type_changed",
                f"type changed from {_describe(old_types)} to {_describe(new_types)}",
            )
            return

        old_branches = _branches(old)
        new_branches = _branches(new)
        if old_branches is not None or new_branches is not None:
            self.compare_unions(old_branches or [old], new_branches or [new], path, seen)
            return

        self.compare_values(old, new, path)
        self.compare_bounds(old, new, path)
        if "object" in old_types:
            self.compare_objects(old, new, path, seen)
        if "array" in old_types:
            self.compare_arrays(old, new, path, seen)

    def compare_unions(
        self, old: Sequence[Schema], new: Sequence[Schema], path: str, seen: frozenset[Any]
    ) -> None:
        # Pair each old branch with the new branch admitting the same types, in order
        # (``X | None`` pairs X with X and null with null).
        unused = list(new)
        for branch in old:
            signature = self.types(branch, self.old_root)
            match = next((b for b in unused if self.types(b, self.new_root) == signature), None)
            if match is None:
                self.report(path, "type_changed", f"no longer accepts {_describe(signature)}")
                continue
            unused.remove(match)
            self.compare(branch, match, path, seen)

    def compare_values(self, old: Schema, new: Schema, path: str) -> None:
        old_values = _allowed_values(old)
        new_values = _allowed_values(new)
        if new_values is None:
            return
        if old_values is None:
            self.report(path, "enum_added", f"values restricted to {new_values!r}")
            return
        for value in old_values:
            if value not in new_values:
                self.report(path, "enum_value_removed", f"value {value!r} removed")

    def compare_bounds(self, old: Schema, new: Schema, path: str) -> None:
        for keyword in _LOWER_BOUNDS:
            if keyword in new and (keyword not in old or new[keyword] > old[keyword]):
                self.report(
                    path, "constraint_tightened", _bound_detail(keyword, old.get(keyword), new)
                )
        for keyword in _UPPER_BOUNDS:
            if keyword in new and (keyword not in old or new[keyword] < old[keyword]):
                self.report(
                    path, "constraint_tightened", _bound_detail(keyword, old.get(keyword), new)
                )
        for keyword in _EXACT_CONSTRAINTS:
            if keyword in new and old.get(keyword) != new[keyword]:
                self.report(
                    path, "constraint_tightened", _bound_detail(keyword, old.get(keyword), new)
                )
        if new.get("uniqueItems") and not old.get("uniqueItems"):
            self.report(path, "constraint_tightened", "items must now be unique")

    def compare_objects(self, old: Schema, new: Schema, path: str, seen: frozenset[Any]) -> None:
        old_props: Mapping[str, Schema] = old.get("properties", {})
        new_props: Mapping[str, Schema] = new.get("properties", {})
        for name, old_prop in old_props.items():
            where = _join(path, name)
            if name not in new_props:
                self.report(where, "field_removed", f"field {name!r} removed")
            else:
                self.compare(old_prop, new_props[name], where, seen)

        old_required = set(old.get("required", ()))
        for name in sorted(set(new.get("required", ())) - old_required):
            if name in old_props:
                self.report(_join(path, name), "made_required", f"field {name!r} made required")
            else:
                self.report(_join(path, name), "new_required_field", f"new required field {name!r}")

        old_extra = old.get("additionalProperties", True)
        new_extra = new.get("additionalProperties", True)
        if new_extra is False and old_extra is not False:
            self.report(path, "constraint_tightened", "additional properties no longer allowed")
        elif isinstance(old_extra, Mapping) and isinstance(new_extra, Mapping):
            self.compare(old_extra, new_extra, _join(path, "*"), seen)

    def compare_arrays(self, old: Schema, new: Schema, path: str, seen: frozenset[Any]) -> None:
        old_items = old.get("items")
        new_items = new.get("items")
        if isinstance(new_items, Mapping):
            if isinstance(old_items, Mapping):
                self.compare(old_items, new_items, f"{path}[]", seen)
            else:
                self.report(path, "constraint_tightened", "items now constrained")
        old_prefix = old.get("prefixItems", ())
        new_prefix = new.get("prefixItems", ())
        for i, (o, n) in enumerate(zip(old_prefix, new_prefix, strict=False)):
            self.compare(o, n, f"{path}[{i}]", seen)


def _branches(node: Schema) -> list[Schema] | None:
    for keyword in ("anyOf", "oneOf"):
        if isinstance(node.get(keyword), list):
            return list(node[keyword])
    return None


def _allowed_values(node: Schema) -> list[Any] | None:
    if "const" in node:
        return [node["const"]]
    if isinstance(node.get("enum"), list):
        return list(node["enum"])
    return None


def _bound_detail(keyword: str, old: object, new: Schema) -> str:
    if old is None:
        return f"{keyword} {new[keyword]!r} added"
    return f"{keyword} changed from {old!r} to {new[keyword]!r}"


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _pointer(root: Schema, ref: str) -> Schema:
    if not ref.startswith("#"):
        raise ValueError(f"only local $ref are supported, got {ref!r}")
    node: Any = root
    for part in _pointer_parts(ref[1:]):
        node = node[part]
    if not isinstance(node, Mapping):
        raise ValueError(f"$ref {ref!r} does not name a schema")
    return node


def _pointer_parts(pointer: str) -> Iterator[str]:
    for part in pointer.split("/")[1:]:
        yield part.replace("~1", "/").replace("~0", "~")
