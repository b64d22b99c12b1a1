"""Use cases: the PRE's directory of referring institutions (admins and coordinators)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from relais_referral.service.ports import Row, Uows
from relais_runtime.errors import DomainError

NOT_FOUND = DomainError(
    "institution_not_found", "Établissement introuvable dans ce PRE.", status=404
)
ID_TAKEN = DomainError("institution_id_taken", "Cet identifiant est déjà utilisé par un autre PRE.")
MAX_CONTACTS = 20


async def register_institution(uows: Uows, values: Mapping[str, Any]) -> Row:
    """Insert or update (``active`` is kept); an id is the PRE's that registered it first."""
    async with uows() as uow:
        row = await uow.referrals.save_institution(values)
    if row is None:
        raise ID_TAKEN
    return row


async def list_institutions(
    uows: Uows, tenant: str, *, active: bool | None, limit: int, offset: int
) -> tuple[Sequence[Row], int]:
    async with uows() as uow:
        return await uow.referrals.institutions(tenant, active=active, limit=limit, offset=offset)


async def get_institution(uows: Uows, tenant: str, institution_id: str) -> Row:
    async with uows() as uow:
        row = await uow.referrals.institution(tenant, institution_id)
    if row is None:
        raise NOT_FOUND
    return row


async def set_contacts(
    uows: Uows, tenant: str, institution_id: str, contacts: list[dict[str, Any]]
) -> Row:
    if len(contacts) > MAX_CONTACTS:
        raise DomainError(
            "too_many_contacts", f"Au plus {MAX_CONTACTS} contacts par établissement.", 422
        )
    async with uows() as uow:
        row = await uow.referrals.set_contacts(tenant, institution_id, contacts)
    if row is None:
        raise NOT_FOUND
    return row


async def set_active(uows: Uows, tenant: str, institution_id: str, active: bool) -> Row:
    """Deactivated, an institution can no longer refer a child; its history stays."""
    async with uows() as uow:
        row = await uow.referrals.set_active(tenant, institution_id, active)
    if row is None:
        raise NOT_FOUND
    return row
