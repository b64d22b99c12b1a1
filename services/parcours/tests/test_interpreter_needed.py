"""« interprète à prévoir » (issue 14): the coordinators' inbox says a guardian needs an
interpreter without opening any identity; identities stored before it are read once by
the scheduler; a withdrawn referral's need goes with its identity."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from relais_parcours.service.open_situation import backfill_interpreter_flags

from .checks import Harness
from .test_family_space import FAMILY

pytestmark = pytest.mark.integration


async def inbox(h: Harness) -> dict[str, Any]:
    page = await h.http.get("/v1/situations?stage=awaiting_review", headers=h.auth("coordinator"))
    assert page.status_code == 200, page.text
    return {item["id"]: item for item in page.json()["items"]}


async def test_the_inbox_says_when_a_guardian_needs_an_interpreter_and_nothing_else(
    parcours: Harness, database_dsn: str
) -> None:
    h = parcours
    _, needs = await h.open_situation(identity=FAMILY)  # the mother needs an interpreter
    _, fine = await h.open_situation()

    lines = await inbox(h)

    assert lines[needs]["interpreter_needed"] is True
    assert lines[fine]["interpreter_needed"] is False
    assert "Nadia" not in str(lines)
    assert "Haddad" not in str(lines)

    # identities stored before the flag was kept beside them are read once at start-up
    db = await asyncpg.connect(database_dsn)
    try:
        await db.execute("UPDATE situation_referrals SET interpreter_needed = NULL")
        assert (await inbox(h))[needs]["interpreter_needed"] is False
        read = await backfill_interpreter_flags(
            h.app.state.parcours.units.sweep(), h.app.state.parcours
        )
        flags = await db.fetch("SELECT interpreter_needed FROM situation_referrals")
    finally:
        await db.close()
    assert read == 2
    assert sorted(r["interpreter_needed"] for r in flags) == [False, True]
    assert (await inbox(h))[needs]["interpreter_needed"] is True
    assert (
        await backfill_interpreter_flags(h.app.state.parcours.units.sweep(), h.app.state.parcours)
        == 0
    )
