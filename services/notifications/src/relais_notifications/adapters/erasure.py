"""SQL deleting what notifications holds about an erased child (scoped by PRE)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from relais_runtime.db import Conn


async def erase(
    conn: Conn,
    *,
    tenant: str,
    subject_id: uuid.UUID,
    situation_ids: Sequence[uuid.UUID],
    referral_ids: Sequence[uuid.UUID],
) -> set[uuid.UUID]:
    """Delete it all; return the digests that gathered some of it (to be rewritten)."""
    situations = list(situation_ids)
    # Items about a referral carry its id in their link only (the sender's view).
    referral_links = [f"%/v1/referrals/{r}" for r in referral_ids]
    about = "pre_id = $1 AND (situation_id = ANY($2::uuid[]) OR link LIKE ANY($3::text[]))"
    await conn.execute(
        f"DELETE FROM feed_items WHERE {about}",  # noqa: S608
        tenant,
        situations,
        referral_links,
    )
    gathered = await conn.fetch(
        f"DELETE FROM deliveries WHERE {about} RETURNING digest_id",  # noqa: S608
        tenant,
        situations,
        referral_links,
    )
    for table in ("followups_recorded", "handover_answers"):
        await conn.execute(
            f"DELETE FROM {table} WHERE pre_id = $1 AND situation_id = ANY($2::uuid[])",  # noqa: S608
            tenant,
            situations,
        )
    await conn.execute(
        "DELETE FROM escalations WHERE pre_id = $1 AND (event -> 'data' ->> 'subject_id' = $2 "
        "OR situation_id = ANY($3::uuid[]))",
        tenant,
        str(subject_id),
        situations,
    )
    return {r["digest_id"] for r in gathered if r["digest_id"] is not None}
