"""Unit tests of the referral service's keys: at-rest encryption, rotation, intake."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from relais_referral.adapters import keys as keys_module
from relais_referral.adapters.keys import (
    ReferralKeys,
    UnreadableError,
    generate_intake_key,
    generate_pre_secrets,
)
from relais_runtime.sealing import KeyNotFoundError, seal

PRE = "pre-76540"


def kid_of(token: str) -> str:
    header = token.split(".")[0]
    kid: str = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]
    return kid


@pytest.fixture
def keys(tmp_path: Path) -> ReferralKeys:
    generate_pre_secrets(tmp_path / "referral", PRE)
    return ReferralKeys(tmp_path, tmp_path / "referral")


def test_the_fiche_is_encrypted_at_rest_and_read_back(keys: ReferralKeys) -> None:
    token = keys.encrypt(PRE, {"child": {"first_name": "Lina"}})
    assert "Lina" not in token
    assert token.count(".") == 4
    assert keys.decrypt(PRE, token) == {"child": {"first_name": "Lina"}}


def test_secret_files_are_private(tmp_path: Path, keys: ReferralKeys) -> None:
    path = tmp_path / "referral" / f"{PRE}.referral.json"
    assert path.stat().st_mode & 0o777 == 0o600


def test_after_rotation_old_fiches_stay_readable(tmp_path: Path, keys: ReferralKeys) -> None:
    old = keys.encrypt(PRE, {"n": 1})
    index_before = keys.index_key(PRE)
    assert generate_pre_secrets(tmp_path / "referral", PRE, rotate_store=True)
    new = keys.encrypt(PRE, {"n": 2})
    assert kid_of(new) != kid_of(old)
    assert keys.decrypt(PRE, old) == {"n": 1}
    assert keys.decrypt(PRE, new) == {"n": 2}
    assert keys.index_key(PRE) == index_before  # the blind index key never rotates in place


def test_creating_keys_twice_keeps_the_first(tmp_path: Path, keys: ReferralKeys) -> None:
    before = keys.index_key(PRE)
    assert not generate_pre_secrets(tmp_path / "referral", PRE)
    assert keys.index_key(PRE) == before


def test_another_pre_has_no_access(tmp_path: Path, keys: ReferralKeys) -> None:
    token = keys.encrypt(PRE, {"n": 1})
    generate_pre_secrets(tmp_path / "referral", "pre-14118")
    with pytest.raises(UnreadableError):
        keys.decrypt("pre-14118", token)
    with pytest.raises(KeyNotFoundError):
        keys.index_key("pre-00000")


def test_secrets_can_come_from_the_environment(
    tmp_path: Path, keys: ReferralKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (tmp_path / "referral" / f"{PRE}.referral.json").read_text()
    monkeypatch.setenv("REFERRAL_SECRETS_PRE_99999", text)
    assert keys.index_key("pre-99999") == keys.index_key(PRE)


def test_the_intake_key_opens_what_institutions_seal(tmp_path: Path, keys: ReferralKeys) -> None:
    assert keys.intake_public_jwks() == {"keys": []}
    generate_intake_key(tmp_path / "referral")
    [public] = keys.intake_public_jwks()["keys"]
    assert "d" not in public
    from joserfc.jwk import ECKey

    token = seal({"child": {"first_name": "Lina"}}, ECKey.import_key(public))
    assert keys.open_intake(token) == {"child": {"first_name": "Lina"}}
    # After rotation, what was sealed to the previous key still opens.
    generate_intake_key(tmp_path / "referral", rotate=True)
    assert len(keys.intake_public_jwks()["keys"]) == 2
    assert keys.open_intake(token) == {"child": {"first_name": "Lina"}}
    with pytest.raises(UnreadableError):
        keys.open_intake(token[:-4] + "AAAA")


def test_a_rotated_store_key_encrypts_at_once_for_a_reader_that_used_the_old_one(
    tmp_path: Path, keys: ReferralKeys
) -> None:
    first = kid_of(keys.encrypt(PRE, {"n": 1}))
    for _ in range(3):  # rotations closer together than the file system's mtime tick
        generate_pre_secrets(tmp_path / "referral", PRE, rotate_store=True)
        newest = json.loads((tmp_path / "referral" / f"{PRE}.referral.json").read_text())
        assert kid_of(keys.encrypt(PRE, {"n": 2})) == newest["store"][0]["kid"] != first


def test_secrets_from_the_environment_are_seen_when_the_value_changes(
    tmp_path: Path, keys: ReferralKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate_pre_secrets(tmp_path / "other", "pre-99999")
    text = (tmp_path / "other" / "pre-99999.referral.json").read_text()
    monkeypatch.setenv("REFERRAL_SECRETS_PRE_99999", text)
    before = keys.index_key("pre-99999")
    monkeypatch.setenv(
        "REFERRAL_SECRETS_PRE_99999", (tmp_path / "referral" / f"{PRE}.referral.json").read_text()
    )
    assert keys.index_key("pre-99999") == keys.index_key(PRE) != before


def test_a_secrets_file_another_process_replaced_is_seen_within_a_second(
    tmp_path: Path, keys: ReferralKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(keys_module.time, "monotonic", lambda: clock[0])
    generate_pre_secrets(tmp_path / "elsewhere", PRE)
    before = keys.index_key(PRE)
    # Another process (a replica's rotation) puts a new file in place: not through this
    # process's writer, so only the next look at the file tells.
    os.replace(
        tmp_path / "elsewhere" / f"{PRE}.referral.json",
        tmp_path / "referral" / f"{PRE}.referral.json",
    )
    clock[0] += keys_module.RECHECK_S / 2
    assert keys.index_key(PRE) == before  # not looked at again yet
    clock[0] += keys_module.RECHECK_S
    after = keys.index_key(PRE)
    assert after != before
    assert after == ReferralKeys(tmp_path, tmp_path / "referral").index_key(PRE)
