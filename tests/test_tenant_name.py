"""The PRE has one name in Python code, ``tenant`` (docs/decisions/0022-tenant-name.md).

``pre_id`` stays where it is not Python: the wire (JSON fields, query parameters, the
``pre`` claim, CLI options) and storage (SQL columns, stored JSON), as strings and aliases.
A Python name ``pre_id`` or ``pre`` fails here; ``scripts/codemods/tenant_name.py`` renames
them (and keeps the wire's names).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("contracts", "runtime", "services", "benchmarks", "tests", "scripts")
OLD_NAMES = {"pre_id", "pre"}
#: A file without either word anywhere cannot name them: parsing only the others keeps this
#: test to a fraction of a second (it parsed ~900 files in 3 s).
MENTIONS = re.compile(r"\bpre(?:_id)?\b")
#: Calls whose keyword names are output keys (log fields, metric labels), not Python names.
LOG_CALLS = {"debug", "info", "warning", "warn", "error", "exception", "critical", "msg", "bind"}
OUTPUT_KEYWORD_CALLS = LOG_CALLS | {"bind_contextvars", "labels"}
#: Calls whose keyword names are SQL column names (the adapter builds its INSERT from them).
COLUMN_KEYWORD_CALLS = {"subscriptions.add_subscription", "deliveries.add"}


def python_files() -> Iterator[Path]:
    for root in SOURCES:
        for path in sorted((REPO / root).rglob("*.py")):
            if not {".venv", "node_modules", "codemods"} & set(path.parts):
                yield path


def callee(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


COLUMN_CALLEES = {name.rsplit(".", 1)[-1] for name in COLUMN_KEYWORD_CALLS}


def kept(call: ast.Call) -> bool:
    """Its keyword names are output keys or column names, not Python names."""
    name = callee(call)
    return name in OUTPUT_KEYWORD_CALLS or (
        name in COLUMN_CALLEES and ast.unparse(call.func) in COLUMN_KEYWORD_CALLS
    )


def old_names(tree: ast.AST) -> Iterator[tuple[int, str]]:
    # ast.walk visits a call before its keywords, so one pass can set them aside.
    output: set[int] = set()
    for node in ast.walk(tree):
        name: str | None = None
        if isinstance(node, ast.Call):
            if node.keywords and kept(node):
                output.update(id(k) for k in node.keywords)
        elif isinstance(node, ast.Name):
            name = node.id
        elif isinstance(node, ast.Attribute):
            name = node.attr
        elif isinstance(node, ast.arg | ast.keyword) and id(node) not in output:
            name = node.arg
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = node.name
        elif isinstance(node, ast.alias):
            name = node.asname or node.name.split(".")[-1]
        if name in OLD_NAMES:
            yield getattr(node, "lineno", 0), name


def test_the_pre_is_named_tenant_in_python_code() -> None:
    found = [
        f"{path.relative_to(REPO)}:{line}: {name}"
        for path in python_files()
        if MENTIONS.search(text := path.read_text())
        for line, name in old_names(ast.parse(text, str(path)))
    ]
    assert not found, (
        "The PRE is `tenant` in Python code (docs/decisions/0022-tenant-name.md): rename, "
        "keeping `pre_id` on the wire and in SQL as strings or aliases "
        "(`uv run --with libcst python scripts/codemods/tenant_name.py` does it):\n"
        + "\n".join(found)
    )


def test_the_rule_finds_the_old_names_wherever_python_names_them() -> None:
    source = (
        "def f(pre_id: str) -> None:\n"
        "    who.pre\n"
        "    g(pre=1)\n"
        "    log.info('x', pre_id=1)\n"  # a log field: output, allowed
        "    deliveries.add(conn, pre_id=1)\n"  # a column name: allowed
        "    sql = 'WHERE pre_id = $1'\n"  # a string: allowed
    )
    assert sorted(old_names(ast.parse(source))) == [(1, "pre_id"), (2, "pre"), (3, "pre")]
