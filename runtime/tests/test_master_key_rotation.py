"""``relais keys rotate-master parcours``: a new master key, then every child's data key
re-wrapped by it and the old key destroyed, what the keys encrypted still readable."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import asyncpg
import pytest
from typer.testing import CliRunner

from relais_runtime.cli import app
from relais_runtime.vault import (
    IdentityUnreadableError,
    SubjectVault,
    load_master_key,
    load_previous_master_keys,
)

pytestmark = pytest.mark.integration

FILE = "parcours-master.key"


def vault_at(keys_dir: Path) -> SubjectVault:
    """As a parcours replica loads it at start (``adapters/vault.load_vault``)."""
    current = load_master_key(keys_dir, None, create=False, filename=FILE)
    return SubjectVault(current, previous=load_previous_master_keys(keys_dir, FILE))


async def test_a_master_key_rotation_rewraps_every_data_key_then_destroys_the_old_key(
    database_dsn: str, tmp_path: Path
) -> None:
    load_master_key(tmp_path, None, create=True, filename=FILE)
    before = vault_at(tmp_path)
    conn = await asyncpg.connect(database_dsn)
    await conn.execute(
        "CREATE TABLE subject_keys (subject_id uuid PRIMARY KEY, pre_id text NOT NULL, "
        "wrapped_key bytea NOT NULL, master_kid text NOT NULL)"
    )
    blobs = {}
    for i in range(7):
        subject = uuid.uuid4()
        wrapped = before.new_data_key(subject)
        blobs[subject] = before.encrypt(wrapped, subject, {"n": i})
        await conn.execute(
            "INSERT INTO subject_keys VALUES ($1, 'pre-76540', $2, $3)",
            subject,
            wrapped,
            before.master_kid,
        )
    command = ["keys", "rotate-master", "parcours", "--dir", str(tmp_path), "--batch", "3"]

    first = CliRunner().invoke(app, command)

    assert first.exit_code == 0, first.output
    assert "new master key" in first.output
    assert "restart" in first.output
    restarted = vault_at(tmp_path)
    assert restarted.master_kid != before.master_kid
    assert restarted.previous_kids == [before.master_kid]
    # A replica restarted: old rows still open (without naming the key), new ones use the new.
    row = await conn.fetchrow("SELECT subject_id, wrapped_key FROM subject_keys LIMIT 1")
    assert restarted.decrypt(row["wrapped_key"], row["subject_id"], blobs[row["subject_id"]])
    env = {"PARCOURS_DATABASE_URL": database_dsn}

    second = await asyncio.to_thread(CliRunner(env=env).invoke, app, command)

    assert second.exit_code == 0, second.output
    assert "clés d'enfant / child keys: 3/7" in second.output
    assert "clés d'enfant / child keys: 7/7" in second.output
    assert f"old keys destroyed: {before.master_kid}" in second.output
    assert sorted(os.listdir(tmp_path)) == [FILE]
    after = vault_at(tmp_path)
    rows = await conn.fetch("SELECT subject_id, wrapped_key, master_kid FROM subject_keys")
    await conn.close()
    assert {r["master_kid"] for r in rows} == {after.master_kid}
    for r in rows:
        assert after.decrypt(r["wrapped_key"], r["subject_id"], blobs[r["subject_id"]])
    # The old master is gone: a data key it wrapped (a backup's copy) no longer opens.
    old_wrapped = before.new_data_key(rows[0]["subject_id"])
    with pytest.raises(IdentityUnreadableError):
        after.decrypt(old_wrapped, rows[0]["subject_id"], blobs[rows[0]["subject_id"]])
