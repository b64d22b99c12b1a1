"""The ``relais-referral keys`` commands create keys once and rotate only when asked."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from relais_referral.cli import app

runner = CliRunner()


def test_keys_are_created_once_and_the_store_key_rotates_on_request(tmp_path: Path) -> None:
    result = runner.invoke(app, ["keys", "init-pre", "pre-76540", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    path = tmp_path / "pre-76540.referral.json"
    first = json.loads(path.read_text())
    again = runner.invoke(app, ["keys", "init-pre", "pre-76540", "--dir", str(tmp_path)])
    assert again.exit_code == 0
    assert json.loads(path.read_text()) == first
    rotated = runner.invoke(
        app, ["keys", "init-pre", "pre-76540", "--dir", str(tmp_path), "--rotate-store"]
    )
    assert rotated.exit_code == 0
    after = json.loads(path.read_text())
    assert len(after["store"]) == 2
    assert after["store"][1] == first["store"][0]
    assert after["index"] == first["index"]


def test_a_bad_pre_id_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["keys", "init-pre", "Rouen", "--dir", str(tmp_path)])
    assert result.exit_code != 0
    assert not list(tmp_path.iterdir())


def test_the_intake_key_is_created_then_rotated(tmp_path: Path) -> None:
    assert runner.invoke(app, ["keys", "init-intake", "--dir", str(tmp_path)]).exit_code == 0
    assert (tmp_path / "intake.private.jwk.json").exists()
    assert (
        runner.invoke(app, ["keys", "init-intake", "--dir", str(tmp_path), "--rotate"]).exit_code
        == 0
    )
    assert len(list(tmp_path.glob("intake.private.*.jwk.json"))) == 1
