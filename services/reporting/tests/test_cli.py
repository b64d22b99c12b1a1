"""The operator commands against a real PostgreSQL: demo data, then a rebuild."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from typer.testing import CliRunner

from relais_reporting.cli import app

pytestmark = pytest.mark.integration


async def counts(dsn: str) -> tuple[int, int]:
    conn = await asyncpg.connect(dsn)
    try:
        events = await conn.fetchval("SELECT count(*) FROM event_log")
        documents = await conn.fetchval("SELECT count(*) FROM fact")
    finally:
        await conn.close()
    return events, documents


def test_demo_data_loads_once_and_a_rebuild_reads_it_all(database_dsn: str) -> None:
    """Synchronous: the commands run their own event loop, as from a shell."""
    runner = CliRunner()
    loaded = runner.invoke(app, ["demo", "--children", "60", "--dsn", database_dsn])
    assert loaded.exit_code == 0, loaded.output
    again = runner.invoke(app, ["demo", "--children", "60", "--dsn", database_dsn])
    assert again.exit_code == 0, again.output
    events, documents = asyncio.run(counts(database_dsn))
    assert f"{events} événements de démonstration" in loaded.output
    assert documents > 60
    rebuilt = runner.invoke(app, ["rebuild", "--quiet", "--dsn", database_dsn])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert f"{events} événements relus, {documents} fiches" in rebuilt.output
