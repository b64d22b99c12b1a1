"""Use cases: what an institution reads of its own referrals (never another's)."""

from __future__ import annotations

import uuid

from relais_referral.service.ports import ReferralWork, StoredReferral, Uows
from relais_runtime import audit
from relais_runtime.auth import Principal
from relais_runtime.errors import DomainError

NOT_FOUND = DomainError("referral_not_found", "Orientation introuvable.", status=404)

#: Why a sender reads its referrals (the access log's purpose).
SENDER_FOLLOW_UP = "suivi de l'orientation par l'établissement qui l'a envoyée"
FICHE_GROUPS = ("identity.child", "identity.guardians", "referrer", "reasons.description")


async def read_own(
    uow: ReferralWork,
    *,
    tenant: str,
    institution_id: str,
    referral_id: uuid.UUID,
    reader: Principal | None = None,
) -> StoredReferral:
    """The sender's view in ``uow``; with ``reader``, the read is recorded (same transaction)."""
    stored = await uow.referrals.read(tenant, referral_id)
    # Another institution's referral is "not found", not "forbidden": its existence is private.
    if stored is None or stored.institution_id != institution_id:
        raise NOT_FOUND
    if reader is not None:
        groups = ("timeline", *(FICHE_GROUPS if stored.holds_fiche else ()))
        await uow.referrals.record_access(
            audit.Access.by(
                reader,
                "read",
                "referral",
                referral_id,
                situation_id=None,
                field_groups=groups,
                purpose=SENDER_FOLLOW_UP,
            )
        )
    return stored


async def view_referral(
    uows: Uows, *, institution_id: str, referral_id: uuid.UUID, reader: Principal
) -> StoredReferral:
    """A referral of the reader's institution, the read recorded in the access log."""
    async with uows() as uow:
        return await read_own(
            uow,
            tenant=reader.tenant,
            institution_id=institution_id,
            referral_id=referral_id,
            reader=reader,
        )


async def list_referrals(
    uows: Uows,
    *,
    institution_id: str,
    statuses: list[str] | None,
    limit: int,
    offset: int,
    reader: Principal,
) -> tuple[list[StoredReferral], int]:
    """A page of the institution's referrals, newest first, and how many there are."""
    async with uows() as uow:
        items, total = await uow.referrals.page(
            reader.tenant, institution_id, statuses=statuses, limit=limit, offset=offset
        )
        if items:
            # One line for the page: the children's names of these referrals were shown.
            await uow.referrals.record_access(
                audit.Access.by(
                    reader,
                    "read",
                    "referral_page",
                    ",".join(str(r.id) for r in items),
                    situation_id=None,
                    field_groups=("identity.child.name",),
                    purpose=SENDER_FOLLOW_UP,
                )
            )
    return items, total
