"""Inbox: exactly-once effect for at-least-once delivery."""

from __future__ import annotations

from relais_runtime.db import Conn


async def claim(conn: Conn, consumer: str, message_id: str) -> bool:
    """Record the message as handled by ``consumer``; False if it already was.

    Call inside the transaction that applies the message's effect: the record and the
    effect commit (or roll back) together, so a redelivery after commit is skipped and a
    redelivery after a rollback is handled again.
    """
    inserted = await conn.fetchval(
        "INSERT INTO relais_inbox (consumer, message_id) VALUES ($1, $2) "
        "ON CONFLICT DO NOTHING RETURNING true",
        consumer,
        message_id,
    )
    return bool(inserted)


async def claim_many(conn: Conn, consumer: str, message_ids: list[str]) -> set[str]:
    """``claim`` for several messages in one statement: the ids that were not yet handled.

    Claimed in sorted order, so two transactions claiming the same ids never deadlock.
    """
    rows = await conn.fetch(
        "INSERT INTO relais_inbox (consumer, message_id) SELECT $1, unnest($2::text[]) "
        "ON CONFLICT DO NOTHING RETURNING message_id",
        consumer,
        sorted(message_ids),
    )
    return {r[0] for r in rows}


async def prune(conn: Conn, older_than_days: int) -> int:
    """Forget handled ids older than the broker could still redeliver (keeps the table small)."""
    result: str = await conn.execute(
        "DELETE FROM relais_inbox WHERE received_at < now() - make_interval(days => $1)",
        older_than_days,
    )
    return int(result.split()[-1])
