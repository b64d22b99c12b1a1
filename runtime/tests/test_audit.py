"""The access log against the real PostgreSQL: hash chains per PRE, tampering detected,
writers serialised, a line that cannot be written refuses the access, CLI verify/export."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from typer.testing import CliRunner

from relais_runtime import audit
from relais_runtime.auth import Principal
from relais_runtime.cli import app as cli_app
from relais_runtime.migrations import migrate
from relais_runtime.runtime import RUNTIME_SCHEMA_DIR

pytestmark = pytest.mark.integration

PRE, OTHER = "pre-76540", "pre-14118"
COORDINATOR = Principal("sub-coord", "pre-76540-coordination", PRE, frozenset({"coordinator"}))


@pytest.fixture
async def dsn(database_dsn: str) -> str:
    await migrate(database_dsn, RUNTIME_SCHEMA_DIR, lock_key="relais:test-audit", scope="runtime")
    return database_dsn


def reading(situation: uuid.UUID, who: Principal = COORDINATOR) -> audit.Access:
    return audit.Access.by(
        who,
        "read",
        "situation",
        situation,
        situation_id=situation,
        field_groups=("identity.child", "identity.guardians"),
        purpose="suivi de la situation",
    )


async def write(dsn: str, *accesses: audit.Access, **kwargs: object) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await audit.record(conn, *accesses, **kwargs)  # type: ignore[arg-type]
    finally:
        await conn.close()


async def tamper(dsn: str, sql: str) -> None:
    """What someone with the database's owner rights could do behind the services."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("ALTER TABLE relais_access_log DISABLE TRIGGER USER")
        await conn.execute(sql)
        await conn.execute("ALTER TABLE relais_access_log ENABLE TRIGGER USER")
    finally:
        await conn.close()


async def reports(dsn: str) -> dict[str, audit.ChainReport]:
    conn = await asyncpg.connect(dsn)
    try:
        return {r.tenant: r for r in await audit.verify(conn)}
    finally:
        await conn.close()


async def test_each_pre_has_its_own_intact_chain_ending_at_its_head(dsn: str) -> None:
    other = Principal("sub-x", "pre-14118-coordination", OTHER, frozenset({"coordinator"}))
    for _ in range(3):
        await write(dsn, reading(uuid.uuid4()))
    await write(dsn, reading(uuid.uuid4(), other))

    found = await reports(dsn)

    assert {p: (r.lines, r.broken) for p, r in found.items()} == {
        PRE: (3, None),
        OTHER: (1, None),
    }
    conn = await asyncpg.connect(dsn)
    try:
        last = await conn.fetchrow(
            "SELECT seq, hash FROM relais_access_log WHERE pre_id = $1 ORDER BY seq DESC", PRE
        )
    finally:
        await conn.close()
    assert last is not None
    assert found[PRE].head_hash == bytes(last["hash"]).hex()


async def test_a_line_records_who_when_what_and_why_but_no_value(dsn: str) -> None:
    situation = uuid.uuid4()
    at = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
    await write(dsn, reading(situation), now=lambda: at)

    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow("SELECT * FROM relais_access_log")
    finally:
        await conn.close()
    assert row is not None
    assert (row["actor_sub"], row["actor_org"], row["actor_role"]) == (
        "sub-coord",
        "pre-76540-coordination",
        "coordinator",
    )
    assert (row["at"], row["action"], row["record_type"], row["situation_id"]) == (
        at,
        "read",
        "situation",
        situation,
    )
    assert row["field_groups"] == ["identity.child", "identity.guardians"]
    assert row["purpose"] == "suivi de la situation"


async def test_an_altered_line_is_found_at_its_place(dsn: str) -> None:
    for _ in range(4):
        await write(dsn, reading(uuid.uuid4()))
    await tamper(dsn, "UPDATE relais_access_log SET actor_sub = 'someone-else' WHERE seq = 2")

    broken = (await reports(dsn))[PRE].broken

    assert broken == audit.ChainBreak(PRE, 2, "altered")


async def test_a_deleted_line_is_found_at_its_place(dsn: str) -> None:
    for _ in range(4):
        await write(dsn, reading(uuid.uuid4()))
    await tamper(dsn, "DELETE FROM relais_access_log WHERE seq = 3")

    assert (await reports(dsn))[PRE].broken == audit.ChainBreak(PRE, 3, "missing")


async def test_a_deleted_last_line_is_found_by_the_head(dsn: str) -> None:
    for _ in range(3):
        await write(dsn, reading(uuid.uuid4()))
    await tamper(dsn, "DELETE FROM relais_access_log WHERE seq = 3")

    assert (await reports(dsn))[PRE].broken == audit.ChainBreak(PRE, 2, "head_mismatch")


async def test_the_services_cannot_update_delete_or_truncate_a_line(dsn: str) -> None:
    await write(dsn, reading(uuid.uuid4()))
    conn = await asyncpg.connect(dsn)
    try:
        for sql in (
            "UPDATE relais_access_log SET purpose = 'x'",
            "DELETE FROM relais_access_log",
            "TRUNCATE relais_access_log",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await conn.execute(sql)
    finally:
        await conn.close()
    assert (await reports(dsn))[PRE].lines == 1


async def test_concurrent_writers_of_one_pre_take_turns_and_keep_one_chain(dsn: str) -> None:
    await asyncio.gather(*(write(dsn, reading(uuid.uuid4())) for _ in range(30)))

    report = (await reports(dsn))[PRE]

    assert (report.lines, report.broken) == (30, None)


async def test_a_line_that_cannot_be_written_refuses_the_access_and_undoes_its_work(
    dsn: str,
) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE TABLE work (id int)")
        await conn.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'disk full'; END; $$"
        )
        await conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON relais_access_log "
            "FOR EACH ROW EXECUTE FUNCTION refuse()"
        )

        async def work_then_log() -> None:
            async with conn.transaction():
                await conn.execute("INSERT INTO work VALUES (1)")
                await audit.record(conn, reading(uuid.uuid4()))

        with pytest.raises(audit.AccessLogUnavailableError) as refused:
            await work_then_log()
        assert await conn.fetchval("SELECT count(*) FROM work") == 0
    finally:
        await conn.close()
    assert (refused.value.status, refused.value.code) == (503, "access_log_unavailable")


async def test_recording_outside_a_transaction_is_refused(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        with pytest.raises(RuntimeError, match="transaction"):
            await audit.record(conn, reading(uuid.uuid4()))
    finally:
        await conn.close()


def test_audit_verify_exits_non_zero_and_names_the_broken_line(
    dsn: str, restore_logging: None
) -> None:
    for _ in range(3):
        asyncio.run(write(dsn, reading(uuid.uuid4())))
    runner = CliRunner()

    intact = runner.invoke(cli_app, ["audit", "verify", "--dsn", dsn])
    asyncio.run(tamper(dsn, "UPDATE relais_access_log SET purpose = 'x' WHERE seq = 2"))
    broken = runner.invoke(cli_app, ["audit", "verify", "--dsn", dsn])

    assert intact.exit_code == 0, intact.output
    assert f"{PRE} intacte, 3 lignes" in intact.stdout
    assert broken.exit_code == 1
    assert f"{PRE} ligne 2 : ligne modifiée" in broken.stderr


def test_audit_export_gives_one_childs_lines_or_a_periods_as_csv(
    dsn: str, restore_logging: None
) -> None:
    child, other_child = uuid.uuid4(), uuid.uuid4()
    day = datetime(2026, 11, 2, 10, tzinfo=UTC)
    asyncio.run(write(dsn, reading(child), now=lambda: day))
    asyncio.run(write(dsn, reading(other_child), now=lambda: day + timedelta(days=1)))
    asyncio.run(write(dsn, reading(child), now=lambda: day + timedelta(days=30)))
    runner = CliRunner()
    base = ["audit", "export", "--dsn", dsn, "--pre", PRE]

    by_child = runner.invoke(cli_app, [*base, "--situation", str(child)])
    by_period = runner.invoke(cli_app, [*base, "--since", "2026-11-02", "--until", "2026-11-04"])
    bad_day = runner.invoke(cli_app, [*base, "--since", "02/11/2026"])

    assert by_child.exit_code == 0, by_child.output
    rows = list(csv.DictReader(io.StringIO(by_child.stdout)))
    assert [r["situation_id"] for r in rows] == [str(child), str(child)]
    assert rows[0]["field_groups"] == "identity.child;identity.guardians"
    assert rows[0]["actor_org"] == "pre-76540-coordination"
    period = list(csv.DictReader(io.StringIO(by_period.stdout)))
    assert [r["situation_id"] for r in period] == [str(child), str(other_child)]
    assert bad_day.exit_code != 0
    assert "AAAA-MM-JJ" in bad_day.output
