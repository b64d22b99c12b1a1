"""A small, deterministic YAML writer for JSON-like data (dicts, lists, scalars).

The exporter writes the AsyncAPI document with it so that ``relais-contracts`` needs
nothing but pydantic: a partner installing the contracts alone can still regenerate and
check the documents. Output is block style, keys in the order given; every string that
is not obviously plain is written as a JSON string, which is also a valid YAML
double-quoted scalar.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_ ,.()/'-]*$")
# Words YAML 1.1 or 1.2 would read as booleans or null.
_RESERVED = frozenset({"true", "false", "null", "yes", "no", "on", "off", "y", "n"})
# Characters JSON leaves raw that YAML does not allow raw (C1 controls, line separators, BOM).
_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff]")


def dump(data: object) -> str:
    """YAML text of ``data``, ending with a newline."""
    lines: list[str] = []
    if isinstance(data, Mapping) and data:
        _mapping(data, 0, lines)
    elif isinstance(data, list | tuple) and data:
        _sequence(data, 0, lines)
    else:
        lines.append(_inline(data, 0))
    return "\n".join(lines) + "\n"


def _is_block(value: object) -> bool:
    return isinstance(value, Mapping | list | tuple) and len(value) > 0


def _mapping(mapping: Mapping[object, object], indent: int, lines: list[str]) -> None:
    pad = " " * indent
    for key, value in mapping.items():
        head = f"{pad}{_string(str(key))}:"
        if isinstance(value, Mapping) and value:
            lines.append(head)
            _mapping(value, indent + 2, lines)
        elif isinstance(value, list | tuple) and value:
            lines.append(head)
            _sequence(value, indent + 2, lines)
        else:
            lines.append(f"{head} {_inline(value, indent + 2)}")


def _sequence(items: Sequence[object], indent: int, lines: list[str]) -> None:
    pad = " " * indent
    for item in items:
        if _is_block(item):
            nested: list[str] = []
            if isinstance(item, Mapping):
                _mapping(item, indent + 2, nested)
            else:
                assert isinstance(item, list | tuple)
                _sequence(item, indent + 2, nested)
            # The first line of the nested block goes on the dash's line.
            nested[0] = f"{pad}- {nested[0][indent + 2 :]}"
            lines.extend(nested)
        else:
            lines.append(f"{pad}- {_inline(item, indent + 2)}")


def _inline(value: object, indent: int) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return _literal(value, indent) if _fits_literal(value) else _string(value)
    if isinstance(value, Mapping):
        return "{}"  # only empty mappings reach here
    if isinstance(value, list | tuple):
        return "[]"
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def _string(value: str) -> str:
    if _PLAIN.match(value) and value == value.strip() and value.lower() not in _RESERVED:
        return value
    quoted = json.dumps(value, ensure_ascii=False)
    return _YAML_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)


def _fits_literal(value: str) -> bool:
    """Multi-line text reads best as a ``|-`` block, when it round-trips exactly."""
    if "\n" not in value or value.endswith("\n") or value.startswith((" ", "\n")):
        return False
    if _YAML_UNSAFE.search(value) or any(c < " " and c != "\n" for c in value):
        return False
    return all(line == line.rstrip() for line in value.split("\n"))


def _literal(value: str, indent: int) -> str:
    pad = " " * indent
    body = "\n".join(f"{pad}{line}" if line else "" for line in value.split("\n"))
    return f"|-\n{body}"
