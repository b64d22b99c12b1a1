"""Use cases: what an institution reads of its own referrals (never another's)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import structlog

from relais_referral.adapters import fiches, repository
from relais_referral.adapters.keys import ReferralKeys, UnreadableError
from relais_referral.entrypoints.schemas import (
    ReferralPage,
    ReferralSummary,
    ReferralView,
    TimelineEntry,
)
from relais_runtime import audit
from relais_runtime.auth import Principal
from relais_runtime.db import Conn
from relais_runtime.errors import DomainError
from relais_runtime.sealing import KeyNotFoundError

log = structlog.get_logger("relais.referral")

NOT_FOUND = DomainError("referral_not_found", "Orientation introuvable.", status=404)

#: Why a sender reads its referrals (the access log's purpose).
SENDER_FOLLOW_UP = "suivi de l'orientation par l'établissement qui l'a envoyée"
FICHE_GROUPS = ("identity.child", "identity.guardians", "referrer", "reasons.description")


def _content(keys: ReferralKeys, pre_id: str, row: asyncpg.Record) -> dict[str, Any] | None:
    """The decrypted fiche, or None when erased (or unreadable: logged, never guessed)."""
    try:
        return fiches.open_fiche(keys, pre_id, row)
    except (UnreadableError, KeyNotFoundError) as exc:
        log.error("identity_unreadable", referral_id=str(row["id"]), error=str(exc))
        return None


async def view_referral(
    conn: Conn,
    keys: ReferralKeys,
    *,
    pre_id: str,
    institution_id: str,
    referral_id: uuid.UUID,
    reader: Principal | None = None,
) -> ReferralView:
    """The sender's view; with ``reader``, the read is recorded (inside the transaction)."""
    row = await repository.get_referral(conn, pre_id, referral_id)
    # Another institution's referral is "not found", not "forbidden": its existence is private.
    if row is None or row["institution_id"] != institution_id:
        raise NOT_FOUND
    timeline = await repository.get_timeline(conn, referral_id)
    if reader is not None:
        held = row["fiche"] is not None or row["identity"] is not None
        groups = ("timeline", *(FICHE_GROUPS if held else ()))
        await audit.record(
            conn,
            audit.Access.by(
                reader,
                "read",
                "referral",
                referral_id,
                situation_id=None,
                field_groups=groups,
                purpose=SENDER_FOLLOW_UP,
            ),
        )
    return ReferralView(
        id=row["id"],
        pre_id=row["pre_id"],
        institution_id=row["institution_id"],
        status=row["status"],
        submitted_at=row["submitted_at"],
        updated_at=row["updated_at"],
        channel=row["channel"],
        external_ref=row["external_ref"],
        timeline=[TimelineEntry(**dict(t)) for t in timeline],
        referral=_content(keys, pre_id, row),
    )


async def list_referrals(
    conn: Conn,
    keys: ReferralKeys,
    *,
    pre_id: str,
    institution_id: str,
    statuses: list[str] | None,
    limit: int,
    offset: int,
    reader: Principal | None = None,
) -> ReferralPage:
    rows, total = await repository.list_referrals(
        conn, pre_id, institution_id, statuses=statuses, limit=limit, offset=offset
    )
    if reader is not None and rows:
        # One line for the page: the children's names of these referrals were shown.
        await audit.record(
            conn,
            audit.Access.by(
                reader,
                "read",
                "referral_page",
                ",".join(str(r["id"]) for r in rows),
                situation_id=None,
                field_groups=("identity.child.name",),
                purpose=SENDER_FOLLOW_UP,
            ),
        )
    items = []
    for row in rows:
        child = (_content(keys, pre_id, row) or {}).get("child", {})
        items.append(
            ReferralSummary(
                id=row["id"],
                status=row["status"],
                submitted_at=row["submitted_at"],
                updated_at=row["updated_at"],
                child_first_name=child.get("first_name"),
                child_last_name=child.get("last_name"),
            )
        )
    return ReferralPage(items=items, total=total, limit=limit, offset=offset)
