"""The unit of work: causation of the events it writes, commit and rollback with them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from relais_contracts.v1.referral import ReferralWithdrawn
from relais_runtime.consumer import Tx
from relais_runtime.db import TENANT_SETTING, create_pool
from relais_runtime.migrations import migrate
from relais_runtime.runtime import RUNTIME_SCHEMA_DIR
from relais_runtime.uow import UnitOfWork, already_open, open_unit_of_work

SOURCE = "/relais/referral"


def withdrawn() -> ReferralWithdrawn:
    return ReferralWithdrawn(
        referral_id=uuid.uuid4(),
        subject_id=uuid.uuid4(),
        institution_id="college-hugo",
        withdrawn_at=datetime.now(UTC),
    )


def detached(cause: object = None) -> UnitOfWork:
    return UnitOfWork(None, source=SOURCE, cause=cause)  # type: ignore[arg-type]


def test_an_event_emitted_over_http_starts_a_flow_of_its_own() -> None:
    event = detached().event(withdrawn(), subject="r1", sequence=1, tenant="pre-a")
    assert event.correlationid == str(event.id)
    assert event.causationid is None
    assert (event.source, event.tenant) == (SOURCE, "pre-a")


def test_an_event_caused_by_another_carries_its_correlation_and_names_it_as_cause() -> None:
    uow = detached()
    first = uow.event(withdrawn(), subject="r1", sequence=1, tenant="pre-a")
    second = uow.event(withdrawn(), subject="r1", sequence=1, tenant="pre-a", caused_by=first)
    assert second.correlationid == first.correlationid
    assert second.causationid == str(first.id)


def test_an_event_emitted_while_handling_a_message_is_caused_by_that_message() -> None:
    incoming = detached().event(withdrawn(), subject="r1", sequence=1, tenant="pre-b")
    tx = Tx(None, incoming, SOURCE)  # type: ignore[arg-type]
    event = tx.event(withdrawn(), subject="r1", sequence=2)
    assert (event.correlationid, event.causationid) == (incoming.correlationid, str(incoming.id))
    # The message's tenant unless another is named.
    assert event.tenant == "pre-b"
    # ``caused_by`` wins over the message: the chain goes through the event just emitted.
    first = tx.event(withdrawn(), subject="r1", sequence=2)
    second = tx.event(withdrawn(), subject="r1", sequence=2, caused_by=first)
    assert second.causationid == str(first.id)
    assert second.correlationid == incoming.correlationid


async def test_a_unit_of_work_is_scoped_to_a_tenant_or_runs_as_a_role_not_both() -> None:
    with pytest.raises(ValueError, match="not both"):
        async with open_unit_of_work(
            None,  # type: ignore[arg-type]  # refused before the pool is touched
            source=SOURCE,
            tenant="pre-a",
            role="relais_sweep",
        ):
            pass


def test_an_event_without_a_tenant_is_refused() -> None:
    with pytest.raises(ValueError, match="tenant"):
        detached().event(withdrawn(), subject="r1", sequence=1)


async def test_a_factory_of_an_open_unit_hands_out_that_same_unit() -> None:
    uow = detached()
    async with already_open(uow)() as opened:
        assert opened is uow


# -- against PostgreSQL ------------------------------------------------------------------------


@pytest.fixture
async def pool(database_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    await migrate(database_dsn, RUNTIME_SCHEMA_DIR, lock_key="relais:test", scope="runtime")
    pool = await create_pool(database_dsn, min_size=1, max_size=2)
    yield pool
    await pool.close()


async def outbox_ids(pool: asyncpg.Pool) -> list[str]:
    async with pool.acquire() as conn:
        return [str(r["id"]) for r in await conn.fetch("SELECT id FROM relais_outbox")]


@pytest.mark.integration
async def test_the_events_of_a_unit_of_work_are_written_when_it_commits(
    pool: asyncpg.Pool,
) -> None:
    async with open_unit_of_work(pool, source=SOURCE) as uow:
        first = await uow.emit(withdrawn(), subject="r1", sequence=1, tenant="pre-a")
        second = await uow.emit(
            withdrawn(), subject="r1", sequence=1, tenant="pre-a", caused_by=first
        )
        assert uow.emitted == [first, second]
    assert sorted(await outbox_ids(pool)) == sorted([str(first.id), str(second.id)])


@pytest.mark.integration
async def test_the_events_of_a_unit_of_work_that_fails_are_never_written(
    pool: asyncpg.Pool,
) -> None:
    async def fail_after_emitting() -> None:
        async with open_unit_of_work(pool, source=SOURCE) as uow:
            await uow.emit(withdrawn(), subject="r1", sequence=1, tenant="pre-a")
            raise RuntimeError("a rule refused it after the event was written")

    with pytest.raises(RuntimeError):
        await fail_after_emitting()
    assert await outbox_ids(pool) == []


@pytest.mark.integration
async def test_a_unit_of_work_scoped_to_a_tenant_is_so_from_its_first_statement(
    pool: asyncpg.Pool,
) -> None:
    async with open_unit_of_work(pool, source=SOURCE, tenant="pre-a") as uow:
        assert await uow.conn.fetchval("SELECT current_setting($1, true)", TENANT_SETTING) == (
            "pre-a"
        )
    async with open_unit_of_work(pool, source=SOURCE) as uow:
        assert not await uow.conn.fetchval("SELECT current_setting($1, true)", TENANT_SETTING)


@pytest.mark.integration
async def test_a_unit_of_work_run_as_a_role_is_so_for_its_length(
    pool: asyncpg.Pool, database_dsn: str
) -> None:
    admin = await asyncpg.connect(database_dsn)
    try:
        await admin.execute(
            "DO $$ BEGIN CREATE ROLE relais_test_sweep_role NOLOGIN; "
            "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )
    finally:
        await admin.close()
    async with open_unit_of_work(pool, source=SOURCE, role="relais_test_sweep_role") as uow:
        assert await uow.conn.fetchval("SELECT current_user") == "relais_test_sweep_role"
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT current_user") != "relais_test_sweep_role"
