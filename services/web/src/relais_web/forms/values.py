"""Reading posted form values: text, lists of checkboxes, yes/no radios."""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from typing import Any

FormValues = Mapping[str, str | list[str]]


def text(form: FormValues, key: str) -> str:
    value = form.get(key, "")
    return (value[0] if value else "") if isinstance(value, list) else value.strip()


def many(form: FormValues, key: str) -> list[str]:
    """A checkbox group: one value comes as a string, several as a list."""
    value = form.get(key)
    if value is None or value == "":
        return []
    return [v for v in (value if isinstance(value, list) else [value]) if v]


def yes_no(form: FormValues, key: str) -> bool | None:
    return {"yes": True, "no": False}.get(text(form, key))


def words(form: FormValues, key: str) -> list[str]:
    """``fr, ar`` or ``fr ar`` → ``["fr", "ar"]``."""
    return [w.lower() for w in re.split(r"[,;\s]+", text(form, key)) if w]


def put(target: MutableMapping[str, Any], key: str, value: object) -> None:
    """Set ``key`` unless the field was left empty: the API then names what is missing."""
    if value not in (None, "", []):
        target[key] = value
