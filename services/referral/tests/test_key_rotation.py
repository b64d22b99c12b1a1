"""Key rotation in referral (issue 15, item 4): a PRE's store key and blind-index key
change while the service runs; new data uses the new key at once, what was stored
before is re-encrypted, the old key is destroyed, and duplicate children are still found."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from relais_referral import cli
from relais_referral.adapters.keys import generate_pre_secrets, rotate_index_key
from relais_referral.service import key_rotation
from relais_runtime.vault import IdentityUnreadableError

from .conftest import PRE, SCHOOL, App, running_app

pytestmark = pytest.mark.integration


@pytest.fixture
async def own_secrets_app(
    database_dsn: str, amqp_url: str, keys_dir: Path, tmp_path: Path
) -> AsyncIterator[tuple[App, Path]]:
    """The app with secrets of this test's own (the session's are shared)."""
    secrets = tmp_path / "referral"
    generate_pre_secrets(secrets, PRE)
    async with running_app(database_dsn, amqp_url, keys_dir, secrets_dir=secrets) as app:
        yield app, secrets


def secrets_file(secrets: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((secrets / f"{PRE}.referral.json").read_text())
    return data


async def submit(app: App, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    r = await app.http.post(
        "/v1/referrals", json=body, headers=app.auth("institution", SCHOOL) | headers
    )
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


async def test_a_store_key_rotation_rewraps_every_child_key_and_destroys_the_old_key(
    own_secrets_app: tuple[App, Path], fiche: Any
) -> None:
    app, secrets = own_secrets_app
    await app.register(SCHOOL)
    other = fiche()
    other["child"] |= {"first_name": "Zoé", "birth_date": "2015-01-09"}
    sent = [await submit(app, fiche()), await submit(app, other)]
    old_kid = secrets_file(secrets)["store"][0]["kid"]
    async with app.runtime.pool.acquire() as conn:
        before = await conn.fetch("SELECT subject_id, wrapped_key, master_kid FROM subject_keys")
    lines: list[str] = []

    report = await key_rotation.rotate(
        app.runtime.pool,
        app.keys,
        secrets,
        PRE,
        store=True,
        index=False,
        grace_s=0,
        say=lines.append,
    )

    assert report.destroyed == [old_kid]
    assert report.moved == 2
    assert "clés d'enfant / child keys: 2/2" in lines
    [new] = secrets_file(secrets)["store"]
    async with app.runtime.pool.acquire() as conn:
        kids = await conn.fetchval("SELECT array_agg(DISTINCT master_kid) FROM subject_keys")
    assert kids == [new["kid"]]
    school = app.auth("institution", SCHOOL)
    for referral in sent:
        view = (await app.http.get(f"/v1/referrals/{referral['id']}", headers=school)).json()
        assert view["referral"] == referral["referral"]
    # The wrapping made with the destroyed key opens nothing any more.
    vault = app.keys.vault(PRE)
    for row in before:
        assert row["master_kid"] == old_kid
        with pytest.raises(IdentityUnreadableError):
            vault.decrypt(row["wrapped_key"], row["subject_id"], b"x" * 40, master_kid=old_kid)
    # A child referred after the rotation gets a key under the new store key.
    third = fiche()
    third["child"] |= {"first_name": "Inès", "birth_date": "2014-06-30"}
    await submit(app, third)
    async with app.runtime.pool.acquire() as conn:
        kids = await conn.fetchval("SELECT array_agg(DISTINCT master_kid) FROM subject_keys")
    assert kids == [new["kid"]]


async def test_duplicate_children_are_found_before_during_and_after_a_blind_index_rotation(
    own_secrets_app: tuple[App, Path], fiche: Any
) -> None:
    app, secrets = own_secrets_app
    await app.register(SCHOOL)
    first = await submit(app, fiche(), **{"Idempotency-Key": "avant-rotation"})
    other = fiche()
    other["child"] |= {"first_name": "Zoé", "birth_date": "2015-01-09"}
    await submit(app, other)
    old_index = secrets_file(secrets)["index"]["kid"]

    # The new key is in place, nothing recomputed yet: the child is found under the old
    # index (and moved to the new one), and a retry from before the rotation replays.
    rotate_index_key(secrets, PRE)
    during = fiche()
    during["child"] |= {"first_name": "ELOISE", "last_name": "le gall martin"}
    second = await submit(app, during)
    assert await app.known_subject(second["id"]) is True
    retry = await app.http.post(
        "/v1/referrals",
        json=fiche(),
        headers=app.auth("institution", SCHOOL) | {"Idempotency-Key": "avant-rotation"},
    )
    assert retry.status_code == 200, retry.text
    assert retry.json()["id"] == first["id"]

    lines: list[str] = []
    report = await key_rotation.rotate(
        app.runtime.pool,
        app.keys,
        secrets,
        PRE,
        store=False,
        index=True,
        new_key=False,
        grace_s=0,
        say=lines.append,
    )

    assert report.destroyed == [old_index]
    assert "index / blind indexes: 1/1" in lines  # Zoé's; Éloïse's moved on submission
    assert "index_previous" not in secrets_file(secrets)
    async with app.runtime.pool.acquire() as conn:
        subjects = await conn.fetch("SELECT subject_id, index_kid FROM subjects")
    assert len(subjects) == 2
    assert {s["index_kid"] for s in subjects} == {secrets_file(secrets)["index"]["kid"]}
    # After the old key is gone, both children are still recognised.
    for body in (fiche(), other):
        again = await submit(app, body)
        assert await app.known_subject(again["id"]) is True


async def test_the_rotate_command_prints_its_progress_and_the_keys_it_destroyed(
    own_secrets_app: tuple[App, Path], fiche: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, secrets = own_secrets_app
    await app.register(SCHOOL)
    await submit(app, fiche())
    before = secrets_file(secrets)
    monkeypatch.setenv("REFERRAL_DATABASE_URL", app.runtime.settings.database_url)
    command = ["keys", "rotate", PRE, "--store", "--index", "--grace", "0", "--dir", str(secrets)]

    result = await asyncio.to_thread(CliRunner().invoke, cli.app, command)

    assert result.exit_code == 0, result.output
    assert "clés d'enfant / child keys: 1/1" in result.output
    assert "index / blind indexes: 1/1" in result.output
    old = f"{before['store'][0]['kid']}, {before['index']['kid']}"
    assert f"anciennes clés détruites / old keys destroyed: {old}" in result.output
    after = secrets_file(secrets)
    assert len(after["store"]) == 1
    assert after["store"][0]["kid"] != before["store"][0]["kid"]
    assert after["index"]["kid"] != before["index"]["kid"]
    view = await app.http.get("/v1/referrals", headers=app.auth("institution", SCHOOL))
    assert view.json()["items"][0]["child_first_name"] == "Éloïse"
