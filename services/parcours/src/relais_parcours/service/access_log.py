"""What parcours writes to the access log (relais_runtime.audit): record types, field
groups and the purposes its routes serve. Groups name kinds of data, never values."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from relais_runtime import audit
from relais_runtime.auth import Principal
from relais_runtime.db import Conn

# Purposes (the "why" of a line): one per kind of work a route serves.
TEAM_FOLLOW_UP = "suivi de la situation par l'équipe du PRE"
PARTNER_HANDOVER = "secret partagé avec un partenaire (CASF L.121-6-2), dans le consentement"
FAMILY_INFORMATION = "information de la famille sur son dossier"
ERASURE = "effacement (droit à l'effacement ou fin de la durée de conservation)"

# Field groups of a situation's referral identity, as the vault holds them.
IDENTITY_GROUPS = ("identity.child", "identity.guardians", "referrer", "reasons.description")
# What a family document or the family space shows (parcours.service.family_space).
FAMILY_VIEW_GROUPS = ("identity.child", "identity.guardians", "consent", "plan", "disclosures")


async def read(
    conn: Conn,
    who: Principal,
    record_type: str,
    record_id: object,
    situation_id: uuid.UUID | str | None,
    field_groups: Sequence[str],
    purpose: str,
) -> None:
    await audit.record(
        conn,
        audit.Access.by(
            who,
            "read",
            record_type,
            record_id,
            situation_id=situation_id,
            field_groups=field_groups,
            purpose=purpose,
        ),
    )


async def erase(conn: Conn, who: Principal, situation_id: uuid.UUID, reason: str) -> None:
    """The erasure of a situation: every group of its personal data, for ``reason``."""
    await audit.record(
        conn,
        audit.Access.by(
            who,
            "erase",
            "situation",
            situation_id,
            situation_id=situation_id,
            field_groups=(*IDENTITY_GROUPS, "family_texts", "handovers"),
            purpose=f"{ERASURE} : {reason}",
        ),
    )
