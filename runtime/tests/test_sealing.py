"""Sealed identities: only the PRE's private keys open them, across key rotations."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from joserfc.errors import JoseError

from relais_runtime.sealing import KeyNotFoundError, PreKeys, generate_pre_key, seal, unseal

IDENTITY = {"child": {"first_name": "Lina", "last_name": "Martin"}, "description": "note"}


def test_identity_sealed_to_a_pre_opens_only_with_that_pre_key(tmp_path: Path) -> None:
    generate_pre_key(tmp_path, "pre-76540")
    generate_pre_key(tmp_path, "pre-14118")
    keys = PreKeys(tmp_path)
    token = seal(IDENTITY, keys.public_key("pre-76540"))
    assert "Lina" not in token
    assert len(token.split(".")) == 5
    assert unseal(token, keys.private_keys("pre-76540")) == IDENTITY
    with pytest.raises(JoseError):
        unseal(token, keys.private_keys("pre-14118"))


def test_rotation_keeps_what_was_sealed_before_readable(tmp_path: Path) -> None:
    generate_pre_key(tmp_path, "pre-76540")
    keys = PreKeys(tmp_path)
    before = seal(IDENTITY, keys.public_key("pre-76540"))
    generate_pre_key(tmp_path, "pre-76540")
    after = seal(IDENTITY, keys.public_key("pre-76540"))
    assert json.loads((tmp_path / "pre-76540.public.jwk.json").read_text())["kid"] in str(
        [k.kid for k in keys.private_keys("pre-76540").keys]
    )
    assert unseal(before, keys.private_keys("pre-76540")) == IDENTITY
    assert unseal(after, keys.private_keys("pre-76540")) == IDENTITY


def test_private_keys_can_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = generate_pre_key(tmp_path / "elsewhere", "pre-76540")
    generate_pre_key(tmp_path, "pre-76540")  # a different public key on disk is not used
    monkeypatch.setenv("RELAIS_PRE_KEY_PRE_76540", json.dumps(key.as_dict(private=True)))
    token = seal(IDENTITY, key)
    assert unseal(token, PreKeys(tmp_path).private_keys("pre-76540")) == IDENTITY


def test_a_pre_without_keys_is_reported(tmp_path: Path) -> None:
    with pytest.raises(KeyNotFoundError):
        PreKeys(tmp_path).public_key("pre-00000")
    with pytest.raises(KeyNotFoundError):
        PreKeys(tmp_path).private_keys("pre-00000")


def test_a_rotated_public_key_seals_at_once_for_a_reader_that_used_the_old_one(
    tmp_path: Path,
) -> None:
    generate_pre_key(tmp_path, "pre-76540")
    keys = PreKeys(tmp_path)
    old_kid = keys.public_key("pre-76540").kid
    new_kid = generate_pre_key(tmp_path, "pre-76540").kid
    assert old_kid != new_kid
    assert keys.public_key("pre-76540").kid == new_kid


def test_private_keys_are_read_again_only_when_their_files_change(tmp_path: Path) -> None:
    generate_pre_key(tmp_path, "pre-76540")
    keys = PreKeys(tmp_path)
    first = keys.private_keys("pre-76540")
    assert keys.private_keys("pre-76540") is first  # parsed once while unchanged
    # Another process puts a new key in place of the current one (rename into place).
    generate_pre_key(tmp_path / "elsewhere", "pre-76540")
    os.replace(
        tmp_path / "elsewhere" / "pre-76540.private.jwk.json",
        tmp_path / "pre-76540.private.jwk.json",
    )
    os.replace(
        tmp_path / "elsewhere" / "pre-76540.public.jwk.json",
        tmp_path / "pre-76540.public.jwk.json",
    )
    token = seal(IDENTITY, keys.public_key("pre-76540"))
    assert unseal(token, keys.private_keys("pre-76540")) == IDENTITY
