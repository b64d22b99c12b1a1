"""What each event says to whom: short French texts with a reference and a link, never a name."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from relais_contracts.types import ReferralStatus

STATUS_LABELS: dict[ReferralStatus, str] = {
    ReferralStatus.RECEIVED: "reçue par le PRE",
    ReferralStatus.UNDER_REVIEW: "en cours d'examen par l'équipe du PRE",
    ReferralStatus.TAKEN_UP: "prise en charge : un parcours est ouvert",
    ReferralStatus.REDIRECTED: "réorientée vers un autre service",
    ReferralStatus.DECLINED: "non retenue par l'équipe du PRE",
    ReferralStatus.CLOSED: "parcours terminé",
    ReferralStatus.WITHDRAWN: "retirée",
}


def short_ref(prefix: str, value: uuid.UUID) -> str:
    """A reference people can read out on the phone: ``O-1A2B3C4D``."""
    return f"{prefix}-{value.hex[:8].upper()}"


@dataclass(frozen=True)
class FeedEntry:
    recipient: str
    title: str
    link: str


def referral_status_entry(
    institution_id: str, referral_id: uuid.UUID, status: ReferralStatus, base_url: str
) -> FeedEntry:
    return FeedEntry(
        recipient=f"org:{institution_id}",
        title=f"Orientation {short_ref('O', referral_id)} : {STATUS_LABELS[status]}.",
        link=f"{base_url}/v1/referrals/{referral_id}",
    )


def situation_opened_entry(situation_id: uuid.UUID, base_url: str) -> FeedEntry:
    return FeedEntry(
        recipient="role:coordinator",
        title=f"Nouvelle situation {short_ref('S', situation_id)} à examiner en équipe.",
        link=f"{base_url}/v1/situations/{situation_id}",
    )
