"""Frozen schemas: the current v1 models stay compatible with the schemas published in
``docs/schemas/``, and the committed files are exactly what ``relais-contracts export``
writes.

When this fails on a change you meant: an optional field or a new enum value is fine
(re-export and commit); anything else needs a v2 message beside v1 (see
docs/decisions/0002-contracts-versioning.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from relais_contracts.base import Message
from relais_contracts.catalogue import ALL_MESSAGES
from relais_contracts.compat import find_incompatibilities
from relais_contracts.export import check, main, message_schema, schema_path

DOCS = Path(__file__).resolve().parents[2] / "docs"
V1 = [pytest.param(m, id=m.message_type) for m in ALL_MESSAGES if m.version == 1]


@pytest.mark.parametrize("message", V1)
def test_v1_schema_is_compatible_with_the_published_one(message: type[Message]) -> None:
    published_file = DOCS / schema_path(message)
    assert published_file.exists(), (
        f"{published_file} is missing: run `uv run relais-contracts export` and commit it"
    )
    published = json.loads(published_file.read_text(encoding="utf-8"))
    problems = find_incompatibilities(published, message_schema(message))
    assert not problems, f"{message.message_type} v1 changed incompatibly:\n" + "\n".join(
        f"  {p}" for p in problems
    )


def test_committed_files_are_up_to_date() -> None:
    assert check(DOCS) == []


def test_the_check_command_passes_on_the_committed_files(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check", "--out", str(DOCS)]) == 0
    assert "up to date" in capsys.readouterr().out
