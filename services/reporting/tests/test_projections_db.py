"""Service tests: the consumer's use case and the rebuild against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from relais_contracts.envelope import CloudEvent, new_event
from relais_contracts.v1.notifications import NotificationDelivered
from relais_contracts.v1.parcours import SubjectErased
from relais_reporting import demo
from relais_reporting.adapters import store
from relais_reporting.domain import facts
from relais_reporting.service.project import logged, record_event, record_events
from relais_reporting.service.rebuild import rebuild
from relais_reporting.service.report import build_report
from relais_runtime.consumer import Tx
from relais_runtime.db import create_pool
from relais_runtime.runtime import prepare_database

pytestmark = pytest.mark.integration

PRE, OTHER = "pre-76540", "pre-14118"
MIGRATIONS = Path(__file__).parents[1] / "migrations"


@pytest.fixture
async def pool(database_dsn: str) -> Any:
    await prepare_database(database_dsn, "reporting", MIGRATIONS)
    pool = await create_pool(database_dsn)
    yield pool
    await pool.close()


async def consume(pool: asyncpg.Pool, events: list[Any]) -> None:
    for event in events:
        async with pool.acquire() as conn, conn.transaction():
            await record_event(Tx(conn, event, "/relais/reporting"))


async def test_live_projections_survive_duplicates_and_reordering_and_equal_a_rebuild(
    pool: asyncpg.Pool,
) -> None:
    events = demo.school_year(PRE, 2025, 80, seed=11) + demo.school_year(OTHER, 2025, 30, seed=12)
    delivered = events + random.Random(4).sample(events, 60)  # redeliveries
    random.Random(5).shuffle(delivered)
    await consume(pool, delivered)
    async with pool.acquire() as conn:
        live = await store.load_facts(conn, [PRE, OTHER])
        assert live == facts.fold_all(logged(e) for e in events)
        assert await store.count_log(conn) == len(events)
        read, written = await rebuild(conn)
        assert (read, written) == (len(events), len(live))
        assert await store.load_facts(conn, [PRE, OTHER]) == live


async def consume_in_batches(pool: asyncpg.Pool, events: list[Any], seed: int) -> None:
    """As the consumer does: random runs of messages, each run in one transaction."""
    sizes = random.Random(seed)
    start = 0
    while start < len(events):
        end = start + sizes.randint(1, 60)
        async with pool.acquire() as conn, conn.transaction():
            await record_events([Tx(conn, e, "/relais/reporting") for e in events[start:end]])
        start = end


async def test_events_folded_in_concurrent_batches_give_the_documents_of_one_by_one_and_a_rebuild(
    pool: asyncpg.Pool,
) -> None:
    events = demo.school_year(PRE, 2025, 150, seed=21) + demo.school_year(OTHER, 2025, 40, seed=22)
    delivered = events + random.Random(7).sample(events, 200)  # redeliveries, some in one batch
    random.Random(8).shuffle(delivered)
    # Two consumers at once (two replicas): batches sharing documents wait for each other.
    await asyncio.gather(
        consume_in_batches(pool, delivered[0::2], seed=1),
        consume_in_batches(pool, delivered[1::2], seed=2),
    )
    async with pool.acquire() as conn:
        live = await store.load_facts(conn, [PRE, OTHER])
        assert live == facts.fold_all(logged(e) for e in events)
        assert await store.count_log(conn) == len(events)
        figures = await build_report(conn, [PRE], "2025-2026", threshold=1)
        assert await rebuild(conn) == (len(events), len(live))
        assert await store.load_facts(conn, [PRE, OTHER]) == live
        assert (await build_report(conn, [PRE], "2025-2026", threshold=1)).figures == (
            figures.figures
        )


async def test_the_log_keeps_neither_sealed_identity_nor_free_text(pool: asyncpg.Pool) -> None:
    await consume(pool, demo.school_year(PRE, 2025, 40, seed=13))
    async with pool.acquire() as conn:
        dump = " ".join(str(r["data"]) for r in await conn.fetch("SELECT data FROM event_log"))
        dump += " ".join(str(r["doc"]) for r in await conn.fetch("SELECT doc FROM fact"))
    assert demo.FAKE_SEALED not in dump
    assert "sealed" not in dump
    assert "CMPP de Rouen" not in dump  # redirected_to: typed by a person
    assert "referent_id" not in dump  # staff ids: no indicator needs them


def _as_received(type_: str, data: dict[str, Any], subject: str) -> CloudEvent[Any]:
    """What the consumer's catch-all handler gets for any type: the envelope, ``data`` a dict."""
    body = {
        "id": str(uuid.uuid4()),
        "source": "/relais/referral",
        "type": type_,
        "subject": subject,
        "time": "2026-10-05T08:30:02Z",
        "dataschema": "https://relais.example/schemas/x.json",
        "tenant": PRE,
        "correlationid": "c-1",
        "sequence": 1,
        "data": data,
    }
    return CloudEvent[dict[str, Any]].model_validate_json(json.dumps(body))


async def test_types_reporting_has_no_projection_for_are_logged_and_never_break_a_rebuild(
    pool: asyncpg.Pool,
) -> None:
    events = demo.school_year(PRE, 2025, 40, seed=17)
    delivered = NotificationDelivered.model_json_schema()["examples"][0]
    others = [
        _as_received(
            "fr.relais.referral.submit_rejected.v1",
            {
                "command_id": "cmd-1",
                "institution_id": "ecole-jules-ferry",
                "external_ref": "ENT-2026-0042",
                "code": "invalid_referral",
                "fields": ["child.birth_date:age_out_of_range"],
                "rejected_at": "2026-10-05T08:30:02Z",
            },
            "cmd-1",
        ),
        _as_received("fr.relais.notification.delivered.v1", delivered, "n-1"),
        _as_received("fr.relais.partner.rated.v1", {"note": "Très bien\u0000"}, "p-1"),
        _as_received("fr.relais.referral.submitted.v2", {"referral_id": "r-2"}, "r-2"),
    ]
    await consume(pool, events[:100] + others + events[100:] + others)  # and redelivered
    async with pool.acquire() as conn:
        assert await store.count_log(conn) == len(events) + len(others)
        kept = await conn.fetch(
            "SELECT type, subject, data FROM event_log WHERE type = ANY($1::text[])",
            [o.type for o in others],
        )
        assert sorted((r["type"], r["subject"], r["data"]) for r in kept) == sorted(
            (o.type, o.subject, {}) for o in others
        )
        live = await store.load_facts(conn, [PRE])
        assert live == facts.fold_all(logged(e) for e in events)
        assert await rebuild(conn) == (len(events) + len(others), len(live))
        assert await store.load_facts(conn, [PRE]) == live


async def test_figures_as_of_a_day_and_known_on_a_day_do_not_change_when_asked_later(
    pool: asyncpg.Pool,
) -> None:
    events = demo.school_year(PRE, 2025, 120, seed=14)
    random.Random(6).shuffle(events)  # some facts of the autumn arrive late
    await consume(pool, events[: len(events) // 2])
    async with pool.acquire() as conn:
        # What was consumed so far was known two days ago; the rest arrives today.
        await conn.execute("UPDATE event_log SET received_at = received_at - interval '2 days'")
        today = await conn.fetchval("SELECT (now() AT TIME ZONE 'Europe/Paris')::date")
        known_on = today - timedelta(days=1)
        first = await build_report(
            conn, [PRE], "2025-2026", threshold=5, as_of=date(2025, 12, 31), known_on=known_on
        )
    await consume(pool, events[len(events) // 2 :])
    async with pool.acquire() as conn:
        again = await build_report(
            conn, [PRE], "2025-2026", threshold=5, as_of=date(2025, 12, 31), known_on=known_on
        )
        everything = await build_report(
            conn, [PRE], "2025-2026", threshold=5, as_of=date(2025, 12, 31)
        )
        live = await build_report(conn, [PRE], "2025-2026", threshold=5)
        replayed = await build_report(
            conn, [PRE], "2025-2026", threshold=5, known_on=date(2100, 1, 1)
        )
    assert again.figures == first.figures
    assert everything.figures != first.figures
    assert live.figures == replayed.figures
    values = {f.key: f.value for f in live.figures}
    cut = {f.key: f.value for f in everything.figures}
    assert cut["new_referrals"] < values["new_referrals"]  # type: ignore[operator]


async def test_figures_known_on_a_day_alone_do_not_move_with_the_day_they_are_asked(
    pool: asyncpg.Pool,
) -> None:
    await consume(pool, demo.school_year(PRE, 2025, 120, seed=18))
    known_on = date(2026, 3, 1)
    async with pool.acquire() as conn:
        await conn.execute("UPDATE event_log SET received_at = occurred_at")  # arrived at once
        asked = [
            await build_report(conn, [PRE], "2025-2026", threshold=1, known_on=known_on, today=day)
            for day in (date(2026, 3, 2), date(2026, 6, 30))
        ]
    assert asked[0].figures == asked[1].figures
    assert asked[0].as_of == known_on  # the answer says which day its figures stand at


async def test_an_erased_child_keeps_its_facts_but_loses_every_id_that_linked_it(
    pool: asyncpg.Pool,
) -> None:
    events = demo.school_year(PRE, 2025, 30, seed=15)
    await consume(pool, events)
    async with pool.acquire() as conn:
        before = await build_report(conn, [PRE], "2025-2026", threshold=1)
        situation = await conn.fetchrow(
            "SELECT key, doc FROM fact WHERE kind = 'situation' "
            "AND doc ? 'first_consent_at' LIMIT 1"
        )
        handovers = await store.handovers_of(conn, PRE, [situation["key"]])
    doc = situation["doc"]
    erased = new_event(
        SubjectErased(
            subject_id=doc["subject_id"],
            situation_ids=[situation["key"]],
            referral_ids=doc["referral_ids"],
            reason="data_subject_request",
            erased_at=datetime.now(UTC),
        ),
        source="/relais/parcours",
        tenant=PRE,
        sequence=1,
    )
    await consume(pool, [erased, erased])
    old_ids = [doc["subject_id"], situation["key"], *doc["referral_ids"], *handovers]
    async with pool.acquire() as conn:
        dump = " ".join(str(tuple(r)) for r in await conn.fetch("SELECT * FROM event_log"))
        dump += " ".join(str(tuple(r)) for r in await conn.fetch("SELECT * FROM fact"))
        after = await build_report(conn, [PRE], "2025-2026", threshold=1)
        live = await store.load_facts(conn, [PRE])
        await rebuild(conn)
        assert await store.load_facts(conn, [PRE]) == live
    for old in old_ids:
        assert str(old) not in dump
    assert after.figures == before.figures


async def test_a_rebuild_while_events_arrive_loses_nothing(pool: asyncpg.Pool) -> None:
    events = demo.school_year(PRE, 2025, 120, seed=16)
    half = len(events) // 2
    await consume(pool, events[:half])

    async def rebuild_now() -> None:
        async with pool.acquire() as conn:
            await rebuild(conn)

    async def deliver(part: list[Any]) -> None:
        await consume(pool, part)

    rest = events[half:]
    await asyncio.gather(
        deliver(rest[0::3]), deliver(rest[1::3]), rebuild_now(), deliver(rest[2::3])
    )
    async with pool.acquire() as conn:
        assert await store.load_facts(conn, [PRE]) == facts.fold_all(logged(e) for e in events)


async def test_figures_as_of_the_last_representable_day_count_every_event(
    pool: asyncpg.Pool,
) -> None:
    # The end of 9999-12-31 is past datetime's range: it used to overflow (a 500).
    await consume(pool, demo.school_year(PRE, 2025, 40, seed=3))
    async with pool.acquire() as conn:
        last_day = await build_report(conn, [PRE], "2025-2026", threshold=1, as_of=date.max)
        live = await build_report(conn, [PRE], "2025-2026", threshold=1)
    assert last_day.figures == live.figures


async def test_documents_swapped_in_by_a_rebuild_keep_backslashes_tabs_and_line_breaks(
    pool: asyncpg.Pool,
) -> None:
    # COPY's text format gives backslash, tab and line breaks a meaning: they must arrive
    # as they were, in the document as in its key (``\N`` alone would otherwise be NULL).
    awkward = 'a\\b\t"c"\nd\re \\N é \\\\t'
    docs: facts.Projections = {
        ("situation", awkward): {"pre_id": PRE, "label": awkward, "n": 1},
        ("situation", "\\N"): {"pre_id": PRE, "list": [awkward, "\\N", ""]},
        ("handover", "plain"): {"pre_id": OTHER, "nested": {"k\\t": "v\n"}},
    }
    async with pool.acquire() as conn, conn.transaction():
        await store.replace_facts(conn, docs, chunk=2)
    async with pool.acquire() as conn:
        assert await store.load_facts(conn, [PRE, OTHER]) == docs
