"""SQL deleting what notifications holds about an erased child (scoped by PRE)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from relais_runtime.db import Conn


async def erase(
    conn: Conn,
    *,
    pre_id: str,
    subject_id: uuid.UUID,
    situation_ids: Sequence[uuid.UUID],
    referral_ids: Sequence[uuid.UUID],
) -> None:
    situations = list(situation_ids)
    # Items about a referral carry its id in their link only (the sender's view).
    referral_links = [f"%/v1/referrals/{r}" for r in referral_ids]
    for table in ("feed_items", "deliveries"):
        await conn.execute(
            f"DELETE FROM {table} WHERE pre_id = $1 AND (situation_id = ANY($2::uuid[]) "  # noqa: S608
            "OR link LIKE ANY($3::text[]))",
            pre_id,
            situations,
            referral_links,
        )
    await conn.execute(
        "DELETE FROM followups_recorded WHERE pre_id = $1 AND situation_id = ANY($2::uuid[])",
        pre_id,
        situations,
    )
    await conn.execute(
        "DELETE FROM escalations WHERE pre_id = $1 AND event -> 'data' ->> 'subject_id' = $2",
        pre_id,
        str(subject_id),
    )
