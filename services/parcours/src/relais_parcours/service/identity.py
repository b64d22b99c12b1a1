"""The child's identity as stored for its PRE, opened for those who may read it."""

from __future__ import annotations

from typing import Any

from relais_parcours.adapters.vault import IdentityUnreadableError
from relais_parcours.context import Parcours
from relais_parcours.service.ports import Stores


async def identity_in(uow: Stores, ctx: Parcours, situation: Any) -> dict[str, Any] | None:
    """Child and guardians (contacts) from the latest referral: not the referrer, no notes."""
    rows = await uow.situations.referral_identities(str(situation["pre_id"]), situation["id"])
    for row in reversed(rows):
        if row["wrapped_key"] is None or row["identity_enc"] is None:
            continue
        try:
            identity = ctx.vault.decrypt(
                row["wrapped_key"], situation["subject_id"], row["identity_enc"]
            )
        except IdentityUnreadableError:
            return None
        return {"child": identity.get("child"), "guardians": identity.get("guardians")}
    return None
