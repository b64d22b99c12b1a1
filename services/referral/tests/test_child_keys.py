"""Per-child keys in referral (issue 15): each child's fiches rest under a key of its own,
deleting that key erases them, and fiches stored before (under the PRE's store key) are
moved under their child's key by the start-up job."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from relais_referral.adapters import fiches, repository
from relais_referral.adapters.fiches import FICHE_COLUMNS, FICHE_JOIN
from relais_runtime.vault import IdentityUnreadableError

pytestmark = pytest.mark.integration

PRE = "pre-76540"
SCHOOL = "ecole-jules-ferry-rouen"


async def submit(app: Any, body: dict[str, Any]) -> dict[str, Any]:
    r = await app.http.post("/v1/referrals", json=body, headers=app.auth("institution", SCHOOL))
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


async def rows(app: Any) -> dict[str, Any]:
    async with app.runtime.pool.acquire() as conn:
        found = await conn.fetch(f"SELECT {FICHE_COLUMNS} FROM referrals r {FICHE_JOIN}")
    return {str(r["id"]): dict(r) for r in found}


async def test_two_children_have_two_keys_and_erasing_one_leaves_its_fiches_unreadable(
    app: Any, fiche: Any
) -> None:
    await app.register(SCHOOL)
    first = await submit(app, fiche())
    again = await submit(app, fiche())  # the same child: the same key
    other_body = fiche()
    other_body["child"] |= {"first_name": "Zoé", "birth_date": "2015-01-09"}
    other = await submit(app, other_body)
    before = await rows(app)
    assert before[first["id"]]["wrapped_key"] == before[again["id"]]["wrapped_key"]
    assert before[first["id"]]["wrapped_key"] != before[other["id"]]["wrapped_key"]
    subject_id = before[first["id"]]["subject_id"]

    async with app.runtime.pool.acquire() as conn, conn.transaction():
        await repository.erase_identity(conn, PRE, subject_id)

    after = await rows(app)
    assert after[first["id"]]["fiche"] is None
    assert after[first["id"]]["wrapped_key"] is None
    assert fiches.open_fiche(app.keys, PRE, after[other["id"]]) is not None
    # A copy of the fiches taken before the erasure: no key left in the database opens them.
    vault = app.keys.vault(PRE)
    async with app.runtime.pool.acquire() as conn:
        remaining = await conn.fetch("SELECT subject_id, wrapped_key, master_kid FROM subject_keys")
    assert [k["subject_id"] for k in remaining] == [before[other["id"]]["subject_id"]]
    for copy in (before[first["id"]]["fiche"], before[again["id"]]["fiche"]):
        for key in remaining:
            for bound_to in (subject_id, key["subject_id"]):
                with pytest.raises(IdentityUnreadableError):
                    vault.decrypt(key["wrapped_key"], bound_to, copy, master_kid=key["master_kid"])


async def test_a_fiche_stored_under_the_pre_key_is_moved_under_its_childs_key_once(
    app: Any, fiche: Any
) -> None:
    await app.register(SCHOOL)
    referral = await submit(app, fiche())
    referral_id = uuid.UUID(referral["id"])
    # As stored before migration 0005: a JWE under the PRE's store key, no child key.
    legacy = app.keys.encrypt(PRE, {"referral_id": referral["id"], "content": referral["referral"]})
    async with app.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE referrals SET identity = $2, fiche = NULL WHERE id = $1", referral_id, legacy
        )
        await conn.execute("DELETE FROM subject_keys")
    school = app.auth("institution", SCHOOL)
    read_before = (await app.http.get(f"/v1/referrals/{referral_id}", headers=school)).json()

    moved = await fiches.move_under_child_keys(app.runtime.pool, app.keys)
    moved_again = await fiches.move_under_child_keys(app.runtime.pool, app.keys)

    assert (moved, moved_again) == (1, 0)
    row = (await rows(app))[referral["id"]]
    assert row["identity"] is None
    assert row["wrapped_key"] is not None
    assert fiches.open_fiche(app.keys, PRE, row) == referral["referral"]
    read_after = (await app.http.get(f"/v1/referrals/{referral_id}", headers=school)).json()
    assert read_before["referral"] == read_after["referral"] == referral["referral"]


async def test_a_fiche_moved_onto_another_referral_is_not_shown(app: Any, fiche: Any) -> None:
    await app.register(SCHOOL)
    first = await submit(app, fiche())
    second = await submit(app, fiche())  # same child, same key: only the referral id differs
    async with app.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE referrals SET fiche = (SELECT fiche FROM referrals WHERE id = $1) "
            "WHERE id = $2",
            uuid.UUID(first["id"]),
            uuid.UUID(second["id"]),
        )
    school = app.auth("institution", SCHOOL)
    view = (await app.http.get(f"/v1/referrals/{second['id']}", headers=school)).json()
    assert view["referral"] is None
