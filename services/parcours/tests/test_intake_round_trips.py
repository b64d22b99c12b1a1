"""The round trips a referral received costs parcours, from the inbox claim to the commit.

Every statement is a round trip to PostgreSQL and a ``send()`` on contended CPUs: under
load they were most of the consumer's cost (benchmarks/README.md, ADR 0027). These tests
count them on the service's own pool, one referral at a time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from .conftest import Harness


@asynccontextmanager
async def statements(h: Harness) -> AsyncIterator[list[str]]:
    """The statements of the consumer's transaction within the block: on the connection
    that claimed the message, from the claim to the commit (the start-up sweeps may run
    on the pool's other connections meanwhile)."""
    pool = h.app.state.runtime.pool
    logged: list[tuple[int, str]] = []
    loggers = []
    for holder in pool._holders:  # every connection of the pool, opened now if need be
        if holder._con is None:
            await holder.connect()
        con = holder._con

        def log(record: Any, con_id: int = id(con)) -> None:
            logged.append((con_id, record.query))

        con.add_query_logger(log)
        loggers.append((con, log))
    seen: list[str] = []
    try:
        yield seen
    finally:
        for con, log in loggers:
            con.remove_query_logger(log)
    claim = "BEGIN; INSERT INTO relais_inbox"
    claims = [n for n, (_, q) in enumerate(logged) if q.startswith(claim)]
    assert len(claims) == 1, logged
    consumer = logged[claims[0]][0]
    for con_id, query in logged[claims[0] :]:
        # asyncpg's own introspection of a type the connection meets the first time (once
        # per connection, with JIT off around it) is not the service's.
        if con_id == consumer and "typeinfo_tree" not in query and "'jit'" not in query:
            seen.append(query)
            if query == "COMMIT" or query.endswith("; COMMIT"):  # the events with it (ADR 0026)
                break


async def test_a_referral_of_a_new_child_takes_five_statements_from_its_claim_to_its_commit(
    parcours: Harness,
) -> None:
    h = parcours
    async with statements(h) as seen:
        referral = await h.submit_referral()
        await h.event("situation.opened", subject_id=str(referral.subject_id))
    assert [s.split()[0] for s in seen[1:4]] == ["SELECT", "SELECT", "WITH"]
    assert "INSERT INTO relais_outbox" in seen[4]
    assert seen[4].endswith("; COMMIT")
    assert len(seen) == 5, seen  # claim, PRE, read, write, the event with the commit


async def test_a_referral_joining_its_childs_situation_takes_five_statements_too(
    parcours: Harness,
) -> None:
    h = parcours
    first, _ = await h.open_situation()
    async with statements(h) as seen:
        second = await h.submit_referral(subject_id=first.subject_id)
        await h.event("situation.referral_attached", referral_id=str(second.referral_id))
    assert len(seen) == 5, seen
    assert seen[-1].endswith("; COMMIT")
