"""The SQL migrations runner, against the real PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import asyncpg
import pytest
from typer.testing import CliRunner

from relais_runtime import testing
from relais_runtime.cli import app as cli_app
from relais_runtime.migrations import MigrationError, ensure_database, migrate

LOCK = "relais:test-migrations"


@pytest.fixture
def dsn(database_dsn: str) -> str:
    return database_dsn


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql)
    return directory


BASIC = {
    "0001_situations.sql": "CREATE TABLE situations (id uuid PRIMARY KEY, pre_id text NOT NULL);",
    "0002_index.sql": "CREATE INDEX situations_pre ON situations (pre_id);",
    "0003_status.sql": "ALTER TABLE situations ADD COLUMN status text NOT NULL DEFAULT 'open';",
}


async def fetch(dsn: str, query: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(query)
    finally:
        await conn.close()


async def test_pending_files_are_applied_in_numeric_order_and_recorded(
    dsn: str, tmp_path: Path
) -> None:
    directory = write(tmp_path / "parcours" / "migrations", BASIC)

    applied = await migrate(dsn, directory, lock_key=LOCK)

    assert applied == ["0001_situations.sql", "0002_index.sql", "0003_status.sql"]
    rows = await fetch(dsn, "SELECT * FROM schema_migrations ORDER BY version")
    assert [(r["scope"], r["version"], r["name"]) for r in rows] == [
        ("parcours", 1, "0001_situations.sql"),
        ("parcours", 2, "0002_index.sql"),
        ("parcours", 3, "0003_status.sql"),
    ]
    expected = hashlib.sha256(BASIC["0001_situations.sql"].encode()).hexdigest()
    assert rows[0]["checksum"] == expected
    assert all(r["applied_at"] is not None for r in rows)


async def test_a_second_run_applies_only_new_files(dsn: str, tmp_path: Path) -> None:
    directory = write(tmp_path / "m", dict(list(BASIC.items())[:2]))
    assert len(await migrate(dsn, directory, lock_key=LOCK)) == 2

    assert await migrate(dsn, directory, lock_key=LOCK) == []
    write(directory, {"0003_status.sql": BASIC["0003_status.sql"]})
    assert await migrate(dsn, directory, lock_key=LOCK) == ["0003_status.sql"]


async def test_a_failing_file_is_rolled_back_and_named(dsn: str, tmp_path: Path) -> None:
    directory = write(
        tmp_path / "m",
        {
            "0001_ok.sql": "CREATE TABLE a (id int);",
            "0002_broken.sql": "CREATE TABLE b (id int); INSERT INTO missing_table VALUES (1);",
        },
    )

    with pytest.raises(MigrationError, match=r"0002_broken\.sql"):
        await migrate(dsn, directory, lock_key=LOCK)

    rows = await fetch(dsn, "SELECT name FROM schema_migrations")
    assert [r["name"] for r in rows] == ["0001_ok.sql"]
    tables = await fetch(dsn, "SELECT tablename FROM pg_tables WHERE tablename IN ('a', 'b')")
    assert [r["tablename"] for r in tables] == ["a"]  # b's CREATE was rolled back too


async def test_an_applied_file_that_changed_is_refused(dsn: str, tmp_path: Path) -> None:
    directory = write(tmp_path / "m", BASIC)
    await migrate(dsn, directory, lock_key=LOCK)

    (directory / "0002_index.sql").write_text("CREATE INDEX other ON situations (id);")

    with pytest.raises(MigrationError, match=r"0002_index\.sql.*checksum"):
        await migrate(dsn, directory, lock_key=LOCK)


async def test_line_endings_do_not_count_as_a_change(dsn: str, tmp_path: Path) -> None:
    directory = write(tmp_path / "m", {"0001_a.sql": "CREATE TABLE a (id int);\n"})
    await migrate(dsn, directory, lock_key=LOCK)

    (directory / "0001_a.sql").write_bytes(b"CREATE TABLE a (id int);\r\n")

    assert await migrate(dsn, directory, lock_key=LOCK) == []


async def test_a_renamed_applied_file_is_refused(dsn: str, tmp_path: Path) -> None:
    directory = write(tmp_path / "m", BASIC)
    await migrate(dsn, directory, lock_key=LOCK)

    (directory / "0002_index.sql").rename(directory / "0002_better_name.sql")

    with pytest.raises(MigrationError, match=r"0002_better_name\.sql.*applied as 0002_index"):
        await migrate(dsn, directory, lock_key=LOCK)


async def test_an_applied_file_missing_from_the_directory_is_refused(
    dsn: str, tmp_path: Path
) -> None:
    directory = write(tmp_path / "m", BASIC)
    await migrate(dsn, directory, lock_key=LOCK)

    (directory / "0003_status.sql").unlink()

    with pytest.raises(MigrationError, match=r"0003_status\.sql.*missing"):
        await migrate(dsn, directory, lock_key=LOCK)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"0001_a.sql": "", "0003_c.sql": ""}, r"0003_c\.sql.*gap.*0002"),
        ({"0002_b.sql": ""}, r"0002_b\.sql.*gap.*0001"),
        ({"0001_a.sql": "", "0001_b.sql": ""}, r"0001_b\.sql.*also used by 0001_a\.sql"),
        ({"0001_a.sql": "", "2_b.sql": ""}, r"2_b\.sql.*NNNN_name\.sql"),
        ({"0001_a.sql": "", "0002_Bad-Name.sql": ""}, r"0002_Bad-Name\.sql"),
    ],
)
async def test_bad_numbering_or_names_are_refused_before_touching_the_database(
    dsn: str, tmp_path: Path, files: dict[str, str], message: str
) -> None:
    directory = write(tmp_path / "m", files)

    with pytest.raises(MigrationError, match=message):
        await migrate(dsn, directory, lock_key=LOCK)

    tables = await fetch(dsn, "SELECT 1 FROM pg_tables WHERE tablename = 'schema_migrations'")
    assert tables == []


async def test_files_other_than_sql_are_ignored(dsn: str, tmp_path: Path) -> None:
    directory = write(tmp_path / "m", {"0001_a.sql": "SELECT 1;", "README.md": "notes"})

    assert await migrate(dsn, directory, lock_key=LOCK) == ["0001_a.sql"]


async def test_two_replicas_starting_together_apply_each_file_exactly_once(
    dsn: str, tmp_path: Path
) -> None:
    directory = write(
        tmp_path / "parcours" / "migrations",
        {
            # Not idempotent on purpose: a second application would fail or double count.
            "0001_counter.sql": "CREATE TABLE runs (n int); SELECT pg_sleep(0.3);",
            "0002_insert.sql": "INSERT INTO runs VALUES (1); SELECT pg_sleep(0.3);",
            "0003_more.sql": "INSERT INTO runs VALUES (2);",
        },
    )

    first, second = await asyncio.gather(
        migrate(dsn, directory, lock_key=LOCK), migrate(dsn, directory, lock_key=LOCK)
    )

    assert sorted(first + second) == ["0001_counter.sql", "0002_insert.sql", "0003_more.sql"]
    assert [] in (first, second)  # the replica that waited found nothing left to do
    rows = await fetch(dsn, "SELECT n FROM runs ORDER BY n")
    assert [r["n"] for r in rows] == [1, 2]


async def test_separate_scopes_share_one_database(dsn: str, tmp_path: Path) -> None:
    runtime_dir = write(tmp_path / "schema", {"0001_outbox.sql": "CREATE TABLE outbox (id int);"})
    service_dir = write(
        tmp_path / "parcours" / "migrations", {"0001_init.sql": "CREATE TABLE s (id int);"}
    )

    assert await migrate(dsn, runtime_dir, lock_key=LOCK, scope="runtime") == ["0001_outbox.sql"]
    assert await migrate(dsn, service_dir, lock_key=LOCK) == ["0001_init.sql"]

    rows = await fetch(dsn, "SELECT scope, name FROM schema_migrations ORDER BY scope")
    assert [(r["scope"], r["name"]) for r in rows] == [
        ("parcours", "0001_init.sql"),
        ("runtime", "0001_outbox.sql"),
    ]


@pytest.mark.integration  # the admin connection, no fixture to tell
async def test_ensure_database_creates_a_missing_database_once() -> None:
    name = testing.unique_name("relais_ensure")
    target = testing.dsn_for(name)
    try:
        assert await ensure_database(target) is True
        assert await ensure_database(target) is False
        assert [r["one"] for r in await fetch(target, "SELECT 1 AS one")] == [1]
    finally:
        await testing.drop_database(name)


def test_migrate_command_prints_what_it_applied(
    dsn: str, tmp_path: Path, restore_logging: None
) -> None:
    directory = write(tmp_path / "parcours" / "migrations", BASIC)
    runner = CliRunner()

    first = runner.invoke(cli_app, ["migrate", "--dsn", dsn, "--dir", str(directory)])
    again = runner.invoke(cli_app, ["migrate", "--dsn", dsn, "--dir", str(directory)])

    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == [
        "[parcours] applied 0001_situations.sql",
        "[parcours] applied 0002_index.sql",
        "[parcours] applied 0003_status.sql",
    ]
    assert again.exit_code == 0
    assert "Aucune migration" in again.stdout


def test_migrate_command_exits_non_zero_on_a_refused_history(
    dsn: str, tmp_path: Path, restore_logging: None
) -> None:
    directory = write(tmp_path / "m", {"0002_only.sql": "SELECT 1;"})

    result = CliRunner().invoke(cli_app, ["migrate", "--dsn", dsn, "--dir", str(directory)])

    assert result.exit_code == 1
    assert "0002_only.sql" in result.stderr
