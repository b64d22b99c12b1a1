"""Retention (issue 15): a child is erased two years (per PRE) after the last contact with
the family, by the manual erasure's path, once; the clock is the test's."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from relais_parcours.service import retention
from relais_runtime.cli import app as cli_app

from .checks import Harness

pytestmark = pytest.mark.integration

YEAR = timedelta(days=365)


async def stage(h: Harness, situation_id: str) -> str:
    async with h.db() as conn:
        value: str = await conn.fetchval(
            "SELECT stage FROM situations WHERE id = $1", uuid.UUID(situation_id)
        )
    return value


async def move_back(h: Harness, situation_id: str, by: timedelta) -> None:
    """Make the situation's opening and referral older, as if received ``by`` ago."""
    async with h.db() as conn:
        await conn.execute(
            "UPDATE situations SET opened_at = opened_at - $2::interval WHERE id = $1",
            uuid.UUID(situation_id),
            by,
        )
        await conn.execute(
            "UPDATE situation_referrals SET received_at = received_at - $2::interval "
            "WHERE situation_id = $1",
            uuid.UUID(situation_id),
            by,
        )


async def test_a_child_is_erased_two_years_after_the_last_contact_once_and_not_before(
    parcours: Harness,
) -> None:
    h = parcours
    referral, situation_id = await h.open_situation()
    runtime, ctx = h.app.state.runtime, h.app.state.parcours
    now = datetime.now(UTC)

    before = await retention.erase_due(runtime, ctx, now + 2 * YEAR - timedelta(days=30))
    after = await retention.erase_due(runtime, ctx, now + 2 * YEAR + timedelta(days=30))
    again = await retention.erase_due(runtime, ctx, now + 3 * YEAR)

    assert (before, after, again) == (0, 1, 0)
    assert await stage(h, situation_id) == "erased"
    erased = await h.event("subject.erased", subject_id=str(referral.subject_id))
    assert erased["data"]["reason"] == "retention_period_ended"
    assert h.count("subject.erased") == 1
    async with runtime.pool.acquire() as conn:
        line = await conn.fetchrow(
            "SELECT actor_sub, action, purpose FROM relais_access_log WHERE situation_id = $1",
            uuid.UUID(situation_id),
        )
    assert line is not None
    assert (line["actor_sub"], line["action"]) == ("system:parcours-retention", "erase")
    assert line["purpose"].endswith("retention_period_ended")


async def test_the_last_contact_is_the_latest_event_with_the_family_even_a_decline(
    parcours: Harness,
) -> None:
    h = parcours
    _, situation_id = await h.open_situation()
    # Received a year and a half ago (due in six months if that were the last contact)…
    await move_back(h, situation_id, YEAR + YEAR // 2)
    declined = await h.decide(situation_id, decision="decline", decline_reason="family_refused")
    assert declined.status_code == 201, declined.text  # …declined today: the last contact
    runtime, ctx = h.app.state.runtime, h.app.state.parcours
    now = datetime.now(UTC)

    assert await retention.erase_due(runtime, ctx, now + YEAR) == 0
    assert await stage(h, situation_id) == "declined"
    assert await retention.erase_due(runtime, ctx, now + 2 * YEAR + timedelta(days=2)) == 1
    assert await stage(h, situation_id) == "erased"


async def test_a_pre_keeps_its_own_period(parcours: Harness) -> None:
    h = parcours
    _, situation_id = await h.open_situation()
    runtime = h.app.state.runtime
    ctx: Any = h.app.state.parcours
    longer = dataclasses.replace(
        ctx,
        settings=ctx.settings.model_copy(update={"retention_months_by_pre": {"pre-76540": 36}}),
    )
    now = datetime.now(UTC)

    assert await retention.erase_due(runtime, longer, now + 2 * YEAR + timedelta(days=30)) == 0
    assert await retention.erase_due(runtime, longer, now + 3 * YEAR + timedelta(days=30)) == 1
    assert await stage(h, situation_id) == "erased"


async def test_the_report_lists_what_falls_due_in_the_next_30_days_and_erases_nothing(
    parcours: Harness, database_dsn: str
) -> None:
    h = parcours
    _, soon = await h.open_situation()
    _, later = await h.open_situation()
    await move_back(h, soon, 2 * YEAR - timedelta(days=10))  # due in about ten days
    await move_back(h, later, YEAR)  # due in a year

    report = await asyncio.to_thread(  # the command runs its own event loop
        CliRunner().invoke,
        cli_app,
        ["retention", "report", "--dsn", database_dsn, "--days", "30", "--json"],
    )

    assert report.exit_code == 0, report.output
    assert [line for line in report.stdout.splitlines() if soon in line]
    assert later not in report.stdout
    assert await stage(h, soon) == "awaiting_review"
