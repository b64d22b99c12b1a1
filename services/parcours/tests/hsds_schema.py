"""Validation against Open Referral HSDS 3's own schemas (``standards/hsds-3/``, no network).

``problems(doc, "organization")`` lists every error as ``path: message`` (formats checked:
uuid, uri, email, date-time), so a failing test shows all of them at once.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

STANDARD = Path(__file__).resolve().parents[3] / "standards" / "hsds-3"


@cache
def load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((STANDARD / f"{name}.json").read_text())
    return loaded


@cache
def schema(name: str) -> dict[str, Any]:
    """A compiled schema, or the part of one the OpenAPI document names but is not copied."""
    if name == "service_list":
        # The one-to-one fields of a service: service.json without what it nests.
        full = load("service")
        one_to_one = {
            k: v
            for k, v in full["properties"].items()
            if v.get("type") != "array" and k != "organization"
        }
        return {**full, "properties": one_to_one}
    if name in ("taxonomy", "taxonomy_term"):
        term = load("organization")["properties"]["attributes"]["items"]["properties"][
            "taxonomy_term"
        ]
        return term if name == "taxonomy_term" else term["properties"]["taxonomy_detail"]
    if name == "service_at_location_list":
        return load("service")["properties"]["service_at_locations"]["items"]  # type: ignore[no-any-return]
    return load(name)


@cache
def validator(name: str) -> Draft202012Validator:
    """One per schema: building it (and its reference resolution) cost as much as validating."""
    return Draft202012Validator(schema(name), format_checker=FormatChecker())


def problems(doc: Any, name: str) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(racine)'}: {e.message}"
        for e in sorted(
            validator(name).iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))
        )
    ]


def page_problems(body: Any, item: str) -> list[str]:
    """An HSDS paginated response: the ``Page`` envelope of openapi.json, items of ``item``."""
    page = load("openapi")["components"]["schemas"]["Page"]
    envelope = {
        **page,
        "required": [*page["properties"], "contents"],
        "properties": {**page["properties"], "contents": {"type": "array"}},
    }
    found = [
        f"{'/'.join(map(str, e.absolute_path)) or '(racine)'}: {e.message}"
        for e in Draft202012Validator(envelope).iter_errors(body)
    ]
    for n, content in enumerate(body.get("contents", []) if isinstance(body, dict) else []):
        found += [f"contents/{n}/{p}" for p in problems(content, item)]
    return found
