"""The access log in parcours (issue 15): who read or changed a child's file, shown to the
family, and no identity served when the line cannot be written."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from relais_runtime import audit

from .checks import CMPP, Harness
from .test_family_space import family_in_parcours, letter, session

pytestmark = pytest.mark.integration


async def log_of(h: Harness, situation_id: str) -> list[dict[str, Any]]:
    async with h.db() as conn:
        rows = await conn.fetch(
            "SELECT * FROM relais_access_log WHERE situation_id = $1 ORDER BY seq",
            uuid.UUID(situation_id),
        )
    return [dict(r) for r in rows]


async def test_reading_a_situation_records_who_what_and_why_without_any_value(
    parcours: Harness,
) -> None:
    h = parcours
    _, situation_id = await h.open_situation()

    r = await h.http.get(f"/v1/situations/{situation_id}", headers=h.auth("coordinator"))

    assert r.status_code == 200
    [line] = await log_of(h, situation_id)
    assert (line["action"], line["record_type"], line["actor_role"]) == (
        "read",
        "situation",
        "coordinator",
    )
    assert line["actor_org"] == "pre-76540-coordination"
    assert "identity.child" in line["field_groups"]
    assert line["purpose"] == "suivi de la situation par l'équipe du PRE"
    assert "Benaliouche" not in repr(line)
    assert "Lina" not in repr(line)


async def test_a_situation_is_not_served_when_its_read_cannot_be_recorded(
    parcours: Harness,
) -> None:
    h = parcours
    _, situation_id = await h.open_situation()
    async with h.db() as conn:
        await conn.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'log volume full'; END; $$"
        )
        await conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON relais_access_log "
            "FOR EACH ROW EXECUTE FUNCTION refuse()"
        )

    r = await h.http.get(f"/v1/situations/{situation_id}", headers=h.auth("coordinator"))

    assert r.status_code == 503
    assert r.json()["code"] == "access_log_unavailable"
    assert "Benaliouche" not in r.text


async def test_partner_sheet_reads_staff_reads_and_erasure_all_land_in_one_intact_chain(
    parcours: Harness,
) -> None:
    h = parcours
    s = await family_in_parcours(h)  # the CMPP has read its sheet once
    situation_id = s["situation_id"]
    await h.http.get(f"/v1/situations/{situation_id}", headers=h.auth("coordinator"))
    await h.http.get(f"/v1/situations/{situation_id}/disclosures", headers=h.auth("coordinator"))

    erased = await h.http.post(
        f"/v1/situations/{situation_id}/erasure",
        json={"reason": "data_subject_request"},
        headers=h.auth("coordinator"),
    )

    assert erased.status_code == 204, erased.text
    lines = await log_of(h, situation_id)
    assert [(x["action"], x["record_type"]) for x in lines] == [
        ("read", "handover_sheet"),
        ("read", "situation"),
        ("read", "disclosure_ledger"),
        ("erase", "situation"),
    ]
    assert lines[0]["actor_org"] == CMPP
    assert lines[0]["field_groups"] == ["category.health", "category.identity_and_contact"]
    assert lines[-1]["purpose"].endswith("data_subject_request")
    async with h.db() as conn:
        [report] = await audit.verify(conn, "pre-76540")
    assert report.broken is None


async def test_the_family_sees_the_staff_reads_of_its_file_but_not_its_own(
    parcours: Harness,
) -> None:
    h = parcours
    s = await family_in_parcours(h)
    await h.http.get(f"/v1/situations/{s['situation_id']}", headers=h.auth("coordinator"))
    guardian = await session(h, await letter(h, s["situation_id"]))
    await h.http.get("/v1/family/space", headers=guardian)

    space = (await h.http.get("/v1/family/space", headers=guardian)).json()

    assert [(r["organisation"], r["role"]) for r in space["staff_reads"]] == [
        ("pre-76540-coordination", "coordinator")
    ]
    assert "identity.child" in space["staff_reads"][0]["field_groups"]
    # the partner's read is in the ledger, once
    assert [line["partner_name"] for line in space["ledger"]] == [f"Partenaire {CMPP}"]
    guardian_lines = [
        x for x in await log_of(h, s["situation_id"]) if x["actor_role"] == "guardian"
    ]
    assert [x["record_type"] for x in guardian_lines] == ["family_space", "family_space"]
