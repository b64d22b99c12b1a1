"""Migration 0022: the keys parcours claimed in its own table move to the runtime's store."""

from __future__ import annotations

import relais_parcours.main
from relais_runtime.app import migrations_dir

from .conftest import PRE, Harness

MIGRATIONS = migrations_dir(relais_parcours.main.__file__)


async def test_a_key_claimed_before_the_move_is_refused_rather_than_creating_twice(
    parcours: Harness,
) -> None:
    h = parcours
    _, situation_id, _ = await h.in_parcours()
    headers = h.auth("referent", sub="referente-1")
    url = f"/v1/situations/{situation_id}/plan/objectives"
    body = {"axis": "schooling", "title": "Lecture"}
    first = await h.http.post(url, json=body, headers=headers)
    assert first.status_code == 201
    # The database as it was before 0022: the key in parcours's own table.
    async with h.db() as conn:
        await conn.execute("DROP TABLE relais_idempotency")
        await conn.execute((MIGRATIONS / "0007_idempotency.sql").read_text())
        await conn.execute(
            "INSERT INTO idempotency_keys (pre_id, principal, key, scope, result_id) "
            "VALUES ($1, 'referente-1', 'avant-0022', 'objective', $2)",
            PRE,
            first.json()["id"],
        )
        await conn.execute((MIGRATIONS / "0022_relais_idempotency.sql").read_text())
        moved = await conn.fetch("SELECT caller, route, result_id::text FROM relais_idempotency")
        assert [tuple(r) for r in moved] == [
            ("referente-1", "parcours.plan.objectives.create", first.json()["id"])
        ]
        assert await conn.fetchval("SELECT to_regclass('idempotency_keys')") is None

    retry = await h.http.post(url, json=body, headers={**headers, "Idempotency-Key": "avant-0022"})
    assert retry.status_code == 409
    assert retry.json()["code"] == "idempotency_key_reused"
    plan = (await h.http.get(f"/v1/situations/{situation_id}/plan", headers=headers)).json()
    assert len(plan["objectives"]) == 1
