"""Reading situations: the PRE's inbox, and one situation's file with the identity in clear."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from relais_parcours.adapters import consents_repo, handovers_repo, referents_repo, situations_repo
from relais_parcours.adapters.vault import IdentityUnreadableError
from relais_parcours.context import Parcours
from relais_parcours.domain.situation import duration_warning
from relais_parcours.service import access, access_log, child_texts
from relais_parcours.service.dates import pre_day
from relais_parcours.service.ports import Row, Uows
from relais_runtime.auth import Principal
from relais_runtime.db import Conn


@dataclass(frozen=True)
class Summary:
    """A situation as the inbox lists it, with its warnings (in French)."""

    row: Row
    warnings: list[str]


@dataclass(frozen=True)
class SituationFile(Summary):
    """One situation with each referral's identity (None once erased or unreadable)."""

    referrals: list[dict[str, Any]]
    consent_id: uuid.UUID | None
    open_handovers: int
    exit_reason_text: str | None = None  # opened with the child's key


def _warnings(
    ctx: Parcours, started_on: date | None, closed_at: datetime | None, max_months: int
) -> list[str]:
    if started_on is None or closed_at is not None:
        return []
    warning = duration_warning(started_on, pre_day(ctx), max_months)
    return [warning] if warning else []


async def _max_months(conn: Conn, ctx: Parcours, tenant: str) -> int:
    limits = await referents_repo.pre_limits(conn, tenant)
    return int(limits["max_duration_months"] or ctx.settings.max_duration_months)


async def inbox(
    uows: Uows,
    ctx: Parcours,
    who: Principal,
    *,
    stage: str | None,
    limit: int,
    offset: int,
) -> list[Summary]:
    """Coordinators see every situation of their PRE; a référent sees their own."""
    async with uows() as uow:
        mine = await access.scope_in(uow, who)
        rows = await situations_repo.list_situations(
            uow.conn, who.tenant, stage=stage, referent_id=mine, limit=limit, offset=offset
        )
        max_months = await _max_months(uow.conn, ctx, who.tenant)
    return [Summary(r, _warnings(ctx, r["started_on"], r["closed_at"], max_months)) for r in rows]


async def situation_file(
    uows: Uows, ctx: Parcours, who: Principal, situation_id: uuid.UUID
) -> SituationFile:
    """The situation with the identity in clear: its PRE's coordinators and its référent only."""
    async with uows() as uow:
        row = await access.situation_in(uow, who, situation_id)
        referrals = await situations_repo.referral_identities(uow.conn, who.tenant, situation_id)
        max_months = await _max_months(uow.conn, ctx, who.tenant)
        consent = await consents_repo.active_consent(uow.conn, who.tenant, situation_id)
        handovers = await handovers_repo.open_handovers(uow.conn, who.tenant, situation_id)
        # The child's key came with the referrals: no second look-up for its texts.
        wrapped = referrals[0]["wrapped_key"] if referrals else None
        texts = child_texts.Texts(ctx, row["subject_id"], wrapped)
        # Recorded before anything is decrypted: no line, no identity (503).
        readable = any(r["identity_enc"] is not None for r in referrals)
        await uow.record_access(
            access_log.readout(
                who,
                "situation",
                situation_id,
                situation_id,
                ("situation", "consent", *(access_log.IDENTITY_GROUPS if readable else ())),
                access_log.TEAM_FOLLOW_UP,
            )
        )
    identities = []
    for r in referrals:
        identity = None
        if r["wrapped_key"] is not None and r["identity_enc"] is not None:
            try:
                identity = ctx.vault.decrypt(r["wrapped_key"], row["subject_id"], r["identity_enc"])
            except IdentityUnreadableError:
                identity = None
        identities.append(
            {
                "referral_id": r["referral_id"],
                "institution_id": r["institution_id"],
                "received_at": r["received_at"],
                "identity": identity,
            }
        )
    return SituationFile(
        row=row,
        warnings=_warnings(ctx, row["started_on"], row["closed_at"], max_months),
        referrals=identities,
        consent_id=consent["id"] if consent else None,
        open_handovers=len(handovers),
        exit_reason_text=texts.text(row, "exit_reason_text"),
    )
