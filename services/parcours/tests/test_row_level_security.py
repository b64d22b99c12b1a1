"""Row-level security (ADR 0018): whatever a query says, a transaction scoped to one PRE
sees and changes none of another PRE's rows, and one scoped to none sees nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest

from relais_parcours.adapters import directory, family_repository, plans_repo, situations_repo
from relais_runtime import db

from .checks import Harness
from .conftest import PRE
from .test_family_space import family_in_parcours, letter, session

#: Tables of parcours whose rows belong to a PRE (the runtime's relais_* tables aside).
TENANT_TABLES = (
    "SELECT c.table_name FROM information_schema.columns c "
    "JOIN information_schema.tables t "
    "ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
    "WHERE c.table_schema = 'public' AND c.column_name = 'pre_id' "
    "AND t.table_type = 'BASE TABLE' AND c.table_name NOT LIKE 'relais\\_%' "
    "ORDER BY c.table_name"
)

#: What one PRE's ordinary work fills (so that "sees nothing" is about rows that exist).
MUST_BE_FILLED = {
    "situations",
    "situation_referrals",
    "subject_keys",
    "partners",
    "review_meetings",
    "review_agenda",
    "review_decisions",
    "referents",
    "referent_assignments",
    "consents",
    "plan_objectives",
    "plan_actions",
    "handovers",
    "disclosures",
    "deadlines",
    "family_letters",
    "family_requests",
    "family_notices",
    "pre_settings",
}


async def snapshot(h: Harness) -> dict[str, list[dict[str, Any]]]:
    """Every tenant table's rows, read as the tables' owner (no policy applies)."""
    async with h.db() as conn:
        tables = [r["table_name"] for r in await conn.fetch(TENANT_TABLES)]
        return {
            t: [dict(r) for r in await conn.fetch(f"SELECT * FROM {t} ORDER BY 1, 2")]
            for t in tables
        }


async def one_pre_at_work(h: Harness) -> dict[str, str]:
    """PRE's review, référent, consent, plan, handover read by its partner, family letter
    and request: rows in every tenant table."""
    s = await family_in_parcours(h)
    issued = await letter(h, s["situation_id"])
    guardian = await session(h, issued)
    r = await h.http.post(
        "/v1/family/requests",
        json={"kind": "correction", "details": "Le prénom est mal écrit."},
        headers=guardian,
    )
    assert r.status_code == 201, r.text
    return s


async def test_every_tenant_table_is_under_row_level_security(parcours: Harness) -> None:
    async with parcours.db() as conn:
        tables = {r["table_name"] for r in await conn.fetch(TENANT_TABLES)}
        guarded = {
            r["tablename"]
            for r in await conn.fetch(
                "SELECT p.tablename FROM pg_policies p JOIN pg_class c ON c.relname = p.tablename "
                "WHERE p.schemaname = 'public' AND p.policyname = 'tenant_only' "
                "AND c.relrowsecurity"
            )
        }
        views = {
            r["relname"]: r["reloptions"]
            for r in await conn.fetch(
                "SELECT relname, reloptions FROM pg_class WHERE relkind = 'v' "
                "AND relnamespace = 'public'::regnamespace"
            )
        }
    assert tables >= MUST_BE_FILLED
    assert tables - guarded == set()
    # A view reads with its owner's rights unless security_invoker: past every policy.
    assert {
        name for name, options in views.items() if "security_invoker=true" not in (options or [])
    } == set()


async def test_the_service_runs_as_a_role_row_level_security_applies_to(parcours: Harness) -> None:
    runtime = parcours.app.state.runtime
    async with runtime.pool.acquire() as conn:
        role = await conn.fetchrow(
            "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
    assert dict(role) == {
        "rolname": "relais_parcours_app",
        "rolsuper": False,
        "rolbypassrls": False,
    }


async def test_another_pre_sees_none_of_the_rows_and_changes_none(parcours: Harness) -> None:
    h = parcours
    await one_pre_at_work(h)
    before = await snapshot(h)
    assert {t for t, rows in before.items() if rows} >= MUST_BE_FILLED
    pool = h.app.state.runtime.pool  # the service's own pool, as its role

    async with db.tenant_transaction(pool, PRE) as conn:
        for table, rows in before.items():
            mine = await conn.fetchval(f"SELECT count(*) FROM {table}")
            assert mine == len(rows), table  # the test could fail: PRE sees its own rows

    async with db.tenant_transaction(pool, h.other_tenant) as conn:
        for table in before:
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table
            # Every row of every table, asked for by no WHERE at all: none is touched.
            assert await conn.execute(f"UPDATE {table} SET pre_id = pre_id") == "UPDATE 0"
            assert await conn.execute(f"DELETE FROM {table}") == "DELETE 0"

    for table in ("pre_settings", "directory_settings"):
        async with db.tenant_transaction(pool, h.other_tenant) as conn:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(
                    f"INSERT INTO {table} (pre_id) VALUES ($1)",
                    PRE,
                )
    async with db.tenant_transaction(pool, PRE) as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):  # giving a row to another PRE
            await conn.execute("UPDATE situations SET pre_id = $1", h.other_tenant)

    async with pool.acquire() as conn, conn.transaction():  # a transaction scoped to no PRE
        for table in before:
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table
            assert await conn.execute(f"DELETE FROM {table}") == "DELETE 0"

    assert await snapshot(h) == before


async def test_a_sweep_across_pres_sees_every_row_under_its_own_role(parcours: Harness) -> None:
    h = parcours
    await one_pre_at_work(h)
    before = await snapshot(h)
    pool = h.app.state.runtime.pool
    async with db.role_transaction(pool, "relais_parcours_sweep") as conn:
        for table, rows in before.items():
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == len(rows), table
    async with pool.acquire() as conn:  # the sweep ended with its transaction
        assert await conn.fetchval("SELECT current_user") == "relais_parcours_app"


async def test_another_pres_staff_and_partner_read_none_of_a_situation(parcours: Harness) -> None:
    h = parcours
    s = await one_pre_at_work(h)
    sid = s["situation_id"]
    async with h.db() as conn:
        handover_id = await conn.fetchval("SELECT id FROM handovers")
        meeting_id = await conn.fetchval("SELECT id FROM review_meetings")
        referent_id = await conn.fetchval("SELECT id FROM referents")
    other = h.auth("coordinator", "pre-14118-coordination", tenant=h.other_tenant)
    for path in (
        f"/v1/situations/{sid}",
        f"/v1/situations/{sid}/plan",
        f"/v1/situations/{sid}/consents",
        f"/v1/situations/{sid}/disclosures",
        f"/v1/situations/{sid}/referents",
        f"/v1/situations/{sid}/family-letters",
        f"/v1/handovers/{handover_id}",
        f"/v1/reviews/{meeting_id}",
        f"/v1/referents/{referent_id}",
    ):
        r = await h.http.get(path, headers=other)
        assert r.status_code in (404, 405), (path, r.status_code, r.text)
    for path in ("/v1/situations", "/v1/handovers", "/v1/family-requests?status=open"):
        r = await h.http.get(path, headers=other)
        assert r.status_code == 200, (path, r.text)
        body = r.json()
        assert (body["items"] if isinstance(body, dict) else body) == [], path
    partner_elsewhere = h.auth("partner", "cmpp-rouen", tenant=h.other_tenant)
    sheet = await h.http.get(f"/v1/handovers/{handover_id}/sheet", headers=partner_elsewhere)
    assert sheet.status_code == 404


async def test_each_scoped_query_names_its_pre_even_where_no_policy_would_stop_it(
    parcours: Harness,
) -> None:
    """As the tables' owner, past every policy: given another PRE's id beside this PRE's
    row ids, each of these queries finds nothing and changes nothing (its own WHERE)."""
    h = parcours
    s = await one_pre_at_work(h)
    situation_id = uuid.UUID(s["situation_id"])
    other = h.other_tenant
    now = datetime.now(UTC)

    def preferences(tenant: str) -> dict[str, Any]:
        return {
            "situation_id": situation_id,
            "guardian_index": 0,
            "pre_id": tenant,
            "language": "fr" if tenant == PRE else "ar",
            "channel": None,
            "updated_at": now,
        }

    async with h.db() as conn:
        await family_repository.upsert_preferences(conn, preferences(PRE))  # a row to meet
        change_id = uuid.uuid4()
        await directory.add_change(
            conn,
            {
                "id": change_id,
                "pre_id": PRE,
                "partner_id": "cmpp-rouen",
                "proposed": {},
                "parts": ["name"],
                "base_version": 1,
                "proposed_by": "cmpp-rouen-user",
                "proposed_at": now,
            },
        )
        letter = await conn.fetchrow("SELECT id, link_hash FROM family_letters")
        request_id = await conn.fetchval("SELECT id FROM family_requests")
        notice_id = await conn.fetchval("SELECT id FROM family_notices LIMIT 1")
        situation = await conn.fetchrow("SELECT * FROM situations")
    before = await snapshot(h)
    assert before["family_preferences"]  # the test could fail: the upsert meets a row
    assert before["directory_changes"]

    async with h.db() as conn:
        for tenant, found in ((PRE, True), (other, False)):  # the right PRE finds each
            reads = (
                await family_repository.letter_by_link(conn, tenant, letter["link_hash"]),
                await family_repository.preferences(conn, tenant, situation_id, 0),
                await family_repository.requests_of(conn, tenant, situation_id, 0),
                await family_repository.notices_of(conn, tenant, situation_id, 0),
                await family_repository.active_consent_read(conn, tenant, situation_id),
            )
            assert [bool(read) for read in reads] == [found] * len(reads), tenant
        assert await family_repository.count_failed_attempt(conn, other, letter["id"]) is None
        await family_repository.revoke_letter(conn, other, letter["id"], now, "other")
        await family_repository.revoke_guardian_letters(conn, other, situation_id, 0, now, "o")
        await family_repository.mark_letter_used(conn, other, letter["id"], now)
        await family_repository.upsert_preferences(conn, preferences(other))
        await family_repository.answer_request(conn, other, request_id, b"Non.", "other", now)
        await family_repository.notice_mailed(conn, other, notice_id, now)
        await family_repository.notice_mail_failed(conn, other, notice_id, "bounced", 9, None)
        await family_repository.erase_family_texts(conn, other, situation_id, now)
        await situations_repo.erase_subject(
            conn, other, situation["subject_id"], situation_id, now, "other"
        )
        await directory.decide_change(conn, other, change_id, "rejected", "other", now, "Non.")
        plan = await plans_repo.load(conn, other, situation, date.today())
        assert (plan.objectives, plan.actions) == ({}, {})
        mine = await plans_repo.load(conn, PRE, situation, date.today())
        assert (bool(mine.objectives), bool(mine.actions)) == (True, True)

    assert await snapshot(h) == before
