"""Notices to the family when something it agreed to changes (issue 14).

Written in the transaction of the change, once per guardian and cause: a handover to a
partner the family has not heard of yet, a consent ending within a month, the follow-up
appointment set at closure. Each goes on the guardian's chosen channel (else e-mail,
text message or post, whichever the referral gives); the référent sends those that
need a person (post, phone) and marks them sent. What a notice says is rendered in the
guardian's language; its facts are a partner's name and dates, never a staff note.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from relais_parcours.adapters import documents, family_repository
from relais_parcours.adapters.documents import N_
from relais_parcours.context import Parcours
from relais_parcours.domain import family
from relais_parcours.service.dates import pre_day
from relais_parcours.service.identity import identity_in
from relais_parcours.service.ports import FamilyStores, Uows

#: Consents ending within this many days are announced to the family.
EXPIRY_NOTICE_DAYS: Final = 30

TEXTS: Final[Mapping[str, str]] = {
    "new_partner": N_(
        "Votre enfant va aussi être aidé par %(partner)s. Ce partenaire reçoit seulement "
        "ce que vous avez accepté."
    ),
    "consent_expiring": N_(
        "Votre accord pour partager des informations se termine le %(date)s. Parlez-en "
        "avec votre référent ou référente."
    ),
    "followup_planned": N_(
        "Un rendez-vous de suivi est prévu vers le %(date)s. Le PRE vous contactera."
    ),
}


def default_channel(guardian: Mapping[str, Any]) -> str:
    if guardian.get("email"):
        return family.Channel.EMAIL.value
    if guardian.get("phone"):
        return family.Channel.SMS.value
    return family.Channel.POST.value


def text(kind: str, language: str, facts: Mapping[str, Any]) -> str:
    values = dict(facts)
    if "date" in values:
        values["date"] = documents.long_date(datetime.fromisoformat(values["date"]), language)
    return documents.gettext(language, TEXTS[kind]) % values


async def notify_in(
    uow: FamilyStores,
    ctx: Parcours,
    situation: Any,
    kind: str,
    facts: dict[str, Any],
    dedupe_key: str,
) -> int:
    """One notice per guardian of the child (none without a readable identity)."""
    identity = await identity_in(uow, ctx, situation) or {}
    now = datetime.now(UTC)
    written = 0
    for index, guardian in enumerate(identity.get("guardians") or []):
        prefs = await uow.family.preferences(situation["pre_id"], situation["id"], index)
        chosen_language = prefs["language"] if prefs else None
        channel = (prefs["channel"] if prefs else None) or default_channel(guardian)
        written += await uow.family.add_notice(
            {
                "id": uuid.uuid4(),
                "pre_id": situation["pre_id"],
                "situation_id": situation["id"],
                "guardian_index": index,
                "kind": kind,
                "dedupe_key": dedupe_key,
                "facts": facts,
                "channel": channel,
                "language": family.pick_language(guardian.get("languages") or [], chosen_language),
                "created_at": now,
            },
        )
    return written


async def announce_expiring_consents(
    sweeps: Uows, ctx: Parcours, now: datetime | None = None
) -> int:
    """Tell the families whose consent ends within a month (once per consent); ``sweeps``:
    units across PREs (``ctx.units.sweep()``)."""
    today = pre_day(ctx, now)
    async with sweeps() as uow:
        rows = await family_repository.consents_expiring(
            uow.conn, today, today + timedelta(days=EXPIRY_NOTICE_DAYS)
        )
        written = 0
        for row in rows:
            written += await notify_in(
                uow,
                ctx,
                row,
                "consent_expiring",
                {"date": row["valid_until"].isoformat()},
                dedupe_key=str(row["consent_id"]),
            )
    return written
