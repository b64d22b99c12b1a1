"""The access log in parcours (issue 15): who read or changed a child's file, shown to the
family, and no identity served when the line cannot be written."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from relais_parcours.service.consent import expire_consents
from relais_runtime import audit

from .checks import CMPP, Harness
from .test_family_space import CLAS, family_in_parcours, letter, session

pytestmark = pytest.mark.integration


async def log_of(h: Harness, situation_id: str) -> list[dict[str, Any]]:
    async with h.db() as conn:
        rows = await conn.fetch(
            "SELECT * FROM relais_access_log WHERE situation_id = $1 ORDER BY seq",
            uuid.UUID(situation_id),
        )
    return [dict(r) for r in rows]


async def chain_intact(h: Harness) -> bool:
    async with h.db() as conn:
        [report] = await audit.verify(conn, "pre-76540")
    return report.broken is None


async def refuse_log_writes(h: Harness) -> None:
    """The access log cannot be written any more (a full volume, as PostgreSQL says it)."""
    async with h.db() as conn:
        await conn.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'log volume full'; END; $$"
        )
        await conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON relais_access_log "
            "FOR EACH ROW EXECUTE FUNCTION refuse()"
        )


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
    await refuse_log_writes(h)

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
    lines = [x for x in await log_of(h, situation_id) if x["action"] != "change"]
    assert [(x["action"], x["record_type"]) for x in lines] == [
        ("read", "handover_sheet"),
        ("read", "situation"),
        ("read", "disclosure_ledger"),
        ("erase", "situation"),
    ]
    assert lines[0]["actor_org"] == CMPP
    assert lines[0]["field_groups"] == ["category.health", "category.identity_and_contact"]
    assert lines[-1]["purpose"].endswith("data_subject_request")
    assert await chain_intact(h)


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


def changes(lines: list[dict[str, Any]], *record_types: str) -> list[tuple[str, str, list[str]]]:
    """The change lines (of these record types, if given): who, what record, which groups."""
    return [
        (x["actor_role"], x["record_type"], x["field_groups"])
        for x in lines
        if x["action"] == "change" and (not record_types or x["record_type"] in record_types)
    ]


async def test_consent_and_handover_changes_are_recorded_with_their_field_groups_only(
    parcours: Harness,
) -> None:
    h = parcours

    s = await family_in_parcours(h)  # consent given, handover requested with a message, accepted

    lines = await log_of(h, s["situation_id"])
    assert changes(lines, "consent", "consent_scope", "handover") == [
        (
            "referent",
            "consent",
            ["consent.form", "consent.guardians", "consent.scope", "consent.validity"],
        ),
        ("referent", "consent_scope", ["category.schooling"]),
        ("referent", "consent_scope", ["category.health", "category.identity_and_contact"]),
        (
            "referent",
            "handover",
            [
                "handover.partner",
                "handover.action",
                "handover.data_categories",
                "handover.message",
            ],
        ),
        ("partner", "handover", ["handover.status", "handover.dates"]),
    ]
    scope_lines = [x for x in lines if x["record_type"] == "consent_scope"]
    assert sorted(x["record_id"].split("/")[1] for x in scope_lines) == sorted([CMPP, CLAS])
    assert {x["purpose"] for x in lines if x["record_type"] == "consent"} == {
        "recueil du consentement de la famille au partage (CASF L.121-6-2)"
    }
    assert "NOTE-INTERNE" not in repr(lines)
    assert "Haddad" not in repr(lines)


async def test_a_withdrawal_records_the_consent_each_partner_cut_off_and_each_cancelled_handover(
    parcours: Harness,
) -> None:
    h = parcours
    s = await family_in_parcours(h)
    guardian = await session(h, await letter(h, s["situation_id"]))
    before = len(await log_of(h, s["situation_id"]))

    r = await h.http.post("/v1/family/consent/withdrawal", json={}, headers=guardian)

    assert r.status_code == 200, r.text
    lines = (await log_of(h, s["situation_id"]))[before:]
    assert changes(lines) == [
        ("guardian", "consent", ["consent.status", "consent.withdrawn_by"]),
        ("guardian", "consent_scope", ["category.schooling"]),
        ("guardian", "consent_scope", ["category.health", "category.identity_and_contact"]),
        ("guardian", "handover", ["handover.status", "handover.cancel_reason"]),
    ]
    assert lines[-1]["record_id"] == s["sheet"].split("/")[3]
    assert await chain_intact(h)


async def test_a_handover_is_not_requested_when_its_change_cannot_be_recorded(
    parcours: Harness,
) -> None:
    h = parcours
    s = await h.ready_to_hand_over()
    await refuse_log_writes(h)

    r = await h.hand_over(s)

    assert r.status_code == 503
    assert r.json()["code"] == "access_log_unavailable"
    async with h.db() as conn:
        held = await conn.fetchval("SELECT count(*) FROM handovers")
    assert held == 0


async def test_plan_changes_are_recorded_with_their_field_groups_only(
    parcours: Harness,
) -> None:
    h = parcours
    s = await family_in_parcours(h)  # an objective and an action added, the CMPP accepted
    base = f"/v1/situations/{s['situation_id']}/plan"
    coordinator = h.auth("coordinator")
    plan = (await h.http.get(base, headers=coordinator)).json()
    [objective] = plan["objectives"]
    [action] = objective["actions"]

    renamed = await h.http.patch(
        f"{base}/objectives/{objective['id']}",
        json={"title": "Bilan orthophonique complet"},
        headers=coordinator,
    )
    moved = await h.http.patch(
        f"{base}/actions/{action['id']}",
        json={"title": "Séances au CMPP", "ends_on": "2027-06-30"},
        headers=coordinator,
    )

    assert renamed.status_code == 200, renamed.text
    assert moved.status_code == 200, moved.text
    assert renamed.json()["objectives"][0]["title"] == "Bilan orthophonique complet"
    lines = await log_of(h, s["situation_id"])
    assert changes(lines, "plan_objective", "plan_action") == [
        ("referent", "plan_objective", ["plan.axis", "plan.title"]),
        ("referent", "plan_action", ["plan.title"]),
        ("partner", "plan_action", ["plan.status"]),  # the acceptance put it under way
        ("coordinator", "plan_objective", ["plan.title"]),
        ("coordinator", "plan_action", ["plan.dates", "plan.title"]),
    ]
    assert {x["purpose"] for x in lines if x["actor_role"] == "coordinator"} >= {
        "suivi de la situation par l'équipe du PRE"
    }
    assert "orthophon" not in repr(lines)
    assert await chain_intact(h)


async def test_an_expired_consent_is_recorded_as_relais_own_change_with_each_partner_cut_off(
    parcours: Harness,
) -> None:
    h = parcours
    s = await h.ready_to_hand_over()  # consent for the CMPP: identity and health
    given = await h.give_consent(
        s["situation_id"],
        [{"partner_id": CMPP, "data_categories": ["health"]}],
        valid_until=str(date.today() + timedelta(days=10)),
    )
    assert given.status_code == 201, given.text
    handover = (await h.hand_over(s, categories=["health"])).json()
    before = len(await log_of(h, s["situation_id"]))

    later = datetime.now(UTC) + timedelta(days=12)
    assert (
        await expire_consents(h.app.state.parcours.units.sweep(), h.app.state.parcours, later) == 1
    )

    lines = (await log_of(h, s["situation_id"]))[before:]
    assert changes(lines) == [
        ("system", "consent", ["consent.status"]),
        ("system", "consent_scope", ["category.health"]),
        ("system", "handover", ["handover.status", "handover.cancel_reason"]),
    ]
    assert {x["actor_sub"] for x in lines} == {"system:parcours"}
    assert {x["purpose"] for x in lines} == {"fin de validité du consentement de la famille"}
    assert [lines[0]["record_id"], lines[-1]["record_id"]] == [given.json()["id"], handover["id"]]


async def test_a_closure_and_its_followup_are_recorded_with_their_field_groups_only(
    parcours: Harness,
) -> None:
    h = parcours
    s = await h.ready_to_hand_over()
    handover = (await h.hand_over(s)).json()
    url = f"/v1/situations/{s['situation_id']}"
    referent = h.auth("referent", sub="referente-1")
    before = len(await log_of(h, s["situation_id"]))

    closed = await h.http.post(
        f"{url}/closure",
        json={
            "exit_reason": "other",
            "exit_reason_text": "MOTIF-SORTIE déménagement à Lyon",
            "final_review_held": True,
        },
        headers=referent,
    )
    held_on = str(datetime.now(ZoneInfo("Europe/Paris")).date())
    followup = await h.http.post(
        f"{url}/followup", json={"outcome": "stable", "held_on": held_on}, headers=referent
    )

    assert closed.status_code == 200, closed.text
    assert followup.status_code == 201, followup.text
    lines = (await log_of(h, s["situation_id"]))[before:]
    assert changes(lines) == [
        ("referent", "handover", ["handover.status", "handover.cancel_reason"]),
        (
            "referent",
            "situation",
            [
                "situation.stage",
                "situation.exit_reason",
                "situation.final_review_held",
                "situation.followup_due_on",
                "situation.exit_reason_text",
            ],
        ),
        ("referent", "followup", ["followup.outcome", "followup.held_on"]),
    ]
    assert lines[0]["record_id"] == handover["id"]
    assert lines[-1]["record_id"] == followup.json()["id"]
    assert {x["purpose"] for x in lines} == {"suivi de la situation par l'équipe du PRE"}
    assert "MOTIF-SORTIE" not in repr(lines)
    assert "stable" not in repr(lines)
    assert await chain_intact(h)


async def test_a_parcours_is_not_closed_when_its_change_cannot_be_recorded(
    parcours: Harness,
) -> None:
    h = parcours
    _, situation_id, _ = await h.in_parcours()
    await refuse_log_writes(h)

    r = await h.http.post(
        f"/v1/situations/{situation_id}/closure",
        json={"exit_reason": "objectives_met", "final_review_held": True},
        headers=h.auth("referent", sub="referente-1"),
    )

    assert r.status_code == 503
    assert r.json()["code"] == "access_log_unavailable"
    async with h.db() as conn:
        stage = await conn.fetchval(
            "SELECT stage FROM situations WHERE id = $1", uuid.UUID(situation_id)
        )
    assert stage == "in_parcours"


async def test_a_family_request_its_reading_and_answer_are_recorded_and_the_family_sees_the_read(
    parcours: Harness,
) -> None:
    h = parcours
    s = await family_in_parcours(h)
    coordinator = h.auth("coordinator")
    guardian = await session(h, await letter(h, s["situation_id"]))
    before = len(await log_of(h, s["situation_id"]))

    made = await h.http.post(
        "/v1/family/requests",
        json={"kind": "correction", "details": "DEMANDE-X la date de naissance est fausse"},
        headers=guardian,
    )
    listed = await h.http.get("/v1/family-requests", headers=coordinator)
    answered = await h.http.post(
        f"/v1/family-requests/{made.json()['id']}/answer",
        json={"answer": "REPONSE-X corrigée"},
        headers=coordinator,
    )
    space = (await h.http.get("/v1/family/space", headers=guardian)).json()

    assert (made.status_code, listed.status_code, answered.status_code) == (201, 200, 204)
    lines = (await log_of(h, s["situation_id"]))[before:]
    assert [
        (x["action"], x["actor_role"], x["record_type"], x["field_groups"])
        for x in lines
        if x["record_type"] == "family_request"
    ] == [
        ("change", "guardian", "family_request", ["family_request.kind", "family_request.details"]),
        (
            "read",
            "coordinator",
            "family_request",
            ["family_request.kind", "family_request.details"],
        ),
        (
            "change",
            "coordinator",
            "family_request",
            ["family_request.status", "family_request.answer"],
        ),
    ]
    assert {x["record_id"] for x in lines if x["record_type"] == "family_request"} == {
        made.json()["id"]
    }
    assert "DEMANDE-X" not in repr(lines)
    assert "REPONSE-X" not in repr(lines)
    # The family sees that the coordination read its request (not its own writing).
    assert ["family_request.kind", "family_request.details"] in [
        r["field_groups"] for r in space["staff_reads"]
    ]
    assert await chain_intact(h)


async def test_the_consent_ledger_is_read_only_with_its_line_in_the_access_log(
    parcours: Harness,
) -> None:
    h = parcours
    s = await h.ready_to_hand_over()
    url = f"/v1/situations/{s['situation_id']}/consents"
    given = await h.give_consent(
        s["situation_id"],
        [{"partner_id": CMPP, "data_categories": ["health"]}],
        guardians=[{"label": "Mère", "relationship": "mother"}],
        sole_guardian_reason="SEUL-X père injoignable",
    )
    assert given.status_code == 201, given.text
    assert [x for x in await log_of(h, s["situation_id"]) if x["action"] == "read"] == []

    ledger = await h.http.get(url, headers=h.auth("coordinator"))

    assert ledger.status_code == 200
    [line] = [x for x in await log_of(h, s["situation_id"]) if x["action"] == "read"]
    assert (line["record_type"], line["field_groups"]) == (
        "consent_ledger",
        [
            "consent.form",
            "consent.guardians",
            "consent.scope",
            "consent.validity",
            "consent.sole_guardian_reason",
        ],
    )
    await refuse_log_writes(h)
    refused = await h.http.get(url, headers=h.auth("coordinator"))
    assert refused.status_code == 503
    assert refused.json()["code"] == "access_log_unavailable"
    assert "SEUL-X" not in refused.text
