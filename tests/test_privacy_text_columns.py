"""docs/privacy/text-columns.md lists every text column of parcours with its verdict, and
stays true to the migrations (issue 15: no free text about a child in clear).

A migration that adds a ``text``, ``varchar`` or ``jsonb`` column fails here until the
column is listed with what it holds; a column said to rest under the child's key must have
its sealed twin (``<column>_enc``) and be moved by ``child_texts.seal_clear_texts``.
"""

from __future__ import annotations

import re
from pathlib import Path

from relais_parcours.service import child_texts

REPO = Path(__file__).resolve().parents[1]
MIGRATIONS = REPO / "services" / "parcours" / "migrations"
REGISTER = REPO / "docs" / "privacy" / "text-columns.md"
TEXT_TYPES = {"text", "varchar", "jsonb"}
NOT_COLUMNS = {"PRIMARY", "UNIQUE", "CONSTRAINT", "CHECK", "FOREIGN"}


def columns() -> set[tuple[str, str, str]]:
    """(table, column, type) of every column the migrations create or add."""
    found = set()
    for path in sorted(MIGRATIONS.glob("*.sql")):
        sql = re.sub(r"--[^\n]*", "", path.read_text())
        for statement in sql.split(";"):
            table = re.match(
                r"\s*CREATE TABLE (?:IF NOT EXISTS )?(\w+)\s*\((.*)\)\s*$", statement, re.S
            )
            if table:
                for line in table.group(2).split(","):
                    column = re.match(r"\s*(\w+)\s+(\w+)", line)
                    if column and column.group(1).upper() not in NOT_COLUMNS:
                        found.add((table.group(1), column.group(1), column.group(2).lower()))
                continue
            altered = re.match(r"\s*ALTER TABLE (\w+)\s", statement)
            if altered:
                for column in re.finditer(
                    r"ADD COLUMN (?:IF NOT EXISTS )?(\w+)\s+(\w+)", statement
                ):
                    found.add((altered.group(1), column.group(1), column.group(2).lower()))
    return found


def verdicts() -> dict[str, str]:
    """``table.column`` -> verdict, from the register's table."""
    rows = re.findall(r"^\| `(\w+\.\w+)` \| ([^|]+?) \|", REGISTER.read_text(), re.M)
    return dict(rows)


def test_the_parser_sees_the_columns_it_must() -> None:
    found = columns()
    assert ("situations", "exit_reason_text", "text") in found  # ALTER TABLE … ADD COLUMN
    assert ("consents", "guardians", "jsonb") in found  # CREATE TABLE
    assert ("family_requests", "answer_enc", "bytea") in found  # several ADD COLUMN at once


def test_every_text_column_of_parcours_is_in_the_register_with_a_verdict() -> None:
    listed = verdicts()
    missing = sorted(f"{table}.{column}" for table, column, kind in columns() if kind in TEXT_TYPES)
    missing = [name for name in missing if name not in listed]
    assert missing == [], f"add them to {REGISTER.relative_to(REPO)}"
    allowed = {"code", "label", "child's key", "sealed", "not about a child"}
    assert set(listed.values()) <= allowed


def test_every_text_under_the_childs_key_has_a_sealed_twin_the_scheduler_fills() -> None:
    found = columns()
    moved = {(table, clear) for table, clear, _, _ in child_texts._CLEAR_COLUMNS}
    under_key = [name for name, verdict in verdicts().items() if verdict == "child's key"]
    assert len(under_key) >= 10
    for name in under_key:
        table, column = name.split(".")
        assert (table, f"{column}_enc", "bytea") in found, name
        assert (table, column) in moved, name
