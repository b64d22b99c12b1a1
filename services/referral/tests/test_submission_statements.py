"""What a submission sends to PostgreSQL (issue 16): each statement is a round trip, the
largest cost of the POST. A new or known child: the institution, the key's claim, the
subject with the child's key, and the referral with its timeline and its events."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from relais_referral.adapters.unit_of_work import within
from relais_referral.domain.content import ReferralRequest
from relais_referral.service.submit_referral import Submission, submit
from relais_runtime.uow import UnitOfWork

from .conftest import PRE, SCHOOL, fiche

pytestmark = pytest.mark.integration


async def submitted(app: Any, body: dict[str, Any], key: str) -> tuple[Submission, list[str]]:
    """Submit ``body`` in a transaction of its own; the statements it sent, in order."""
    statements: list[str] = []
    async with app.runtime.pool.acquire() as conn:

        def logger(query: Any) -> None:
            statements.append(query.query)

        conn.add_query_logger(logger)
        try:
            async with conn.transaction():
                uows = within(UnitOfWork(conn, source="/relais/referral"), app.keys)
                async with uows() as uow:
                    submission = await submit(
                        uow,
                        app.keys,
                        institution_id=SCHOOL,
                        request=ReferralRequest.model_validate(body),
                        idempotency_key=key,
                    )
        finally:
            conn.remove_query_logger(logger)
    # Without asyncpg's own: the transaction's, and its look-up of a type it meets first.
    return submission, [
        s
        for s in statements
        if s not in {"BEGIN;", "COMMIT;"} and "pg_catalog" not in s and "'jit'" not in s
    ]


async def subject_and_key(app: Any, referral_id: uuid.UUID) -> tuple[Any, Any]:
    async with app.runtime.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT r.subject_id, k.wrapped_key FROM referrals r LEFT JOIN subject_keys k "
            "ON k.pre_id = r.pre_id AND k.subject_id = r.subject_id WHERE r.id = $1",
            referral_id,
        )
    assert row is not None
    return row["subject_id"], row["wrapped_key"]


async def test_a_submission_is_four_statements_its_events_written_with_the_referral(
    app: Any,
) -> None:
    await app.register(SCHOOL)
    first, statements = await submitted(app, fiche(), "k-1")
    assert len(statements) == 4, [s[:70] for s in statements]
    assert "relais_idempotency" in statements[1]
    assert "subject_keys" in statements[2]  # the new child's key with its subject
    assert "INSERT INTO referrals" in statements[3]
    assert "relais_outbox" in statements[3]
    again, statements = await submitted(app, fiche(), "k-2")  # the same child, known
    assert len(statements) == 4, [s[:70] for s in statements]
    assert first.written is not None
    assert again.written is not None
    assert await app.known_subject(str(again.referral_id))
    assert await subject_and_key(app, first.referral_id) == await subject_and_key(
        app, again.referral_id
    )
    events = await app.outbox()
    assert [(e["type"], e["subject"]) for e in events] == [
        (events[0]["type"], str(first.referral_id)),
        (events[1]["type"], str(first.referral_id)),
        (events[0]["type"], str(again.referral_id)),
        (events[1]["type"], str(again.referral_id)),
    ]
    assert "submitted" in events[0]["type"]
    assert "status" in events[1]["type"]


async def test_a_child_known_without_a_key_gets_one_on_its_next_referral(app: Any) -> None:
    """A subject whose key is missing from the statement's view (made before per-child
    keys, or by a submission committed meanwhile) goes the long way: found, keyed."""
    await app.register(SCHOOL)
    first, _ = await submitted(app, fiche(), "k-1")
    subject_id, _ = await subject_and_key(app, first.referral_id)
    async with app.runtime.pool.acquire() as conn:
        await conn.execute("DELETE FROM subject_keys WHERE subject_id = $1", subject_id)
    again, statements = await submitted(app, fiche(), "k-2")
    assert len(statements) > 4
    assert await app.known_subject(str(again.referral_id))
    found, wrapped = await subject_and_key(app, again.referral_id)
    assert found == subject_id
    assert wrapped is not None
    r = await app.http.get(
        f"/v1/referrals/{again.referral_id}", headers=app.auth("institution", SCHOOL)
    )
    assert r.status_code == 200
    assert r.json()["referral"]["child"]["first_name"] == "Éloïse"


async def test_a_referral_added_is_read_in_its_own_unit_before_the_events_are_written(
    app: Any,
) -> None:
    """The row waits for the unit's events only until something reads or changes it."""
    await app.register(SCHOOL)
    async with app.runtime.pool.acquire() as conn, conn.transaction():
        uows = within(UnitOfWork(conn, source="/relais/referral"), app.keys)
        async with uows() as uow:
            submission = await submit(
                uow,
                app.keys,
                institution_id=SCHOOL,
                request=ReferralRequest.model_validate(fiche()),
            )
            stored = await uow.referrals.read(PRE, submission.referral_id)
            assert stored is not None
            assert stored.content == submission.written.content  # type: ignore[union-attr]
    events = await app.outbox()
    assert [e["subject"] for e in events] == [str(submission.referral_id)] * 2
