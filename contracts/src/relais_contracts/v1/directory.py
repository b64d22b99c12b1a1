"""v1 events of the partner directory: a partner's entry changes, a change awaits approval.

A PRE's directory is published as Open Referral HSDS 3 by parcours (``/hsds/{pre_id}``).
These events say *that* an entry changed and which parts, with the few codes and figures
other services count (category, each service's status and waiting time in days); the
content itself (texts, places, professional contacts) is read from the HSDS API, never
carried here.
"""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from relais_contracts.base import Event, Strict
from relais_contracts.base import examples as _examples
from relais_contracts.types import PartnerCategory, Slug

#: The parts of an entry a change touches (the entry's top-level fields).
EntryPart = Literal[
    "name", "category", "description", "website", "email", "services", "locations", "contacts"
]
_PARTNER_DOC = "The partner organisation (its slug, also its token's org claim)."
_CHANGE_DOC = "The change a partner proposed to its own entry."
_PARTS_DOC = "Which parts of the entry differ (none repeated)."
_PARTNER = "cmpp-rouen-rive-gauche"
_CHANGE = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"


class PartnerChangeProposed(Event):
    """A partner proposed a change to its own entry; a coordinator of the PRE decides."""

    message_type: ClassVar[str] = "partner.change_proposed"
    subject_field: ClassVar[str | None] = "change_id"

    change_id: uuid.UUID = Field(description=_CHANGE_DOC)
    partner_id: Slug = Field(description=_PARTNER_DOC)
    parts: list[EntryPart] = Field(min_length=1, max_length=8, description=_PARTS_DOC)
    proposed_at: AwareDatetime = Field(description="When the partner proposed it.")
    replaces_change_id: uuid.UUID | None = Field(
        default=None, description="The pending change this one supersedes, if any."
    )

    model_config = _examples(
        {
            "change_id": _CHANGE,
            "partner_id": _PARTNER,
            "parts": ["services"],
            "proposed_at": "2026-12-03T08:15:00Z",
        }
    )


class PartnerChangeRejected(Event):
    """A coordinator turned a partner's proposed change down; the entry stays as it was.

    The coordinator's reason is for the partner, who reads it over HTTPS.
    """

    message_type: ClassVar[str] = "partner.change_rejected"
    subject_field: ClassVar[str | None] = "change_id"

    change_id: uuid.UUID = Field(description=_CHANGE_DOC)
    partner_id: Slug = Field(description=_PARTNER_DOC)
    rejected_at: AwareDatetime = Field(description="When the coordinator decided.")

    model_config = _examples(
        {"change_id": _CHANGE, "partner_id": _PARTNER, "rejected_at": "2026-12-03T10:00:00Z"}
    )


class PublishedService(Strict):
    """What other services count of one service of the entry."""

    service_id: uuid.UUID = Field(description="The service's HSDS id.")
    status: Literal["active", "inactive", "defunct", "temporarily closed"] = Field(
        description="HSDS service status."
    )
    wait_time_days: int | None = Field(
        default=None, ge=0, le=3650, description="Current typical wait in days, if stated."
    )


class PartnerEntryPublished(Event):
    """A partner's entry in the PRE's directory was published: created or changed.

    ``origin`` says how: recorded by the PRE's staff, loaded by an HSDS import, or a
    partner's own change approved by a coordinator (``change_id`` then names it).
    """

    message_type: ClassVar[str] = "partner.entry_published"
    subject_field: ClassVar[str | None] = "partner_id"

    partner_id: Slug = Field(description=_PARTNER_DOC)
    organization_id: uuid.UUID = Field(description="The organization's HSDS id.")
    category: PartnerCategory = Field(description="Kind of partner.")
    entry_version: int = Field(ge=1, description="The entry's version, 1 when created.")
    origin: Literal["recorded", "imported", "change_approved"] = Field(
        description="How the entry came to be published."
    )
    change_id: uuid.UUID | None = Field(default=None, description="The approved change, if any.")
    parts: list[EntryPart] = Field(max_length=8, description=_PARTS_DOC + " Empty: created.")
    services: list[PublishedService] = Field(
        max_length=50, description="Every service of the entry as published."
    )
    published_at: AwareDatetime = Field(description="When it was published.")

    model_config = _examples(
        {
            "partner_id": _PARTNER,
            "organization_id": "4f1d2a9e-6c3b-5d8e-9f0a-1b2c3d4e5f60",
            "category": "cmpp",
            "entry_version": 3,
            "origin": "change_approved",
            "change_id": _CHANGE,
            "parts": ["services"],
            "services": [
                {
                    "service_id": "0c1d2e3f-4a5b-5c6d-8e7f-9a0b1c2d3e4f",
                    "status": "active",
                    "wait_time_days": 180,
                }
            ],
            "published_at": "2026-12-03T10:00:00Z",
        }
    )
