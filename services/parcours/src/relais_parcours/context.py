"""What routes and subscribers share besides the runtime: settings, keys, the vault, the
units of work."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from relais_parcours.adapters.vault import IdentityVault
from relais_parcours.config import ParcoursSettings
from relais_parcours.service.ports import Units
from relais_runtime.sealing import PreKeys


@dataclass(frozen=True)
class Parcours:
    settings: ParcoursSettings
    pre_keys: PreKeys
    vault: IdentityVault
    #: Keys the fingerprints of requests sent under an Idempotency-Key (``service.retries``).
    idempotency_secret: bytes
    #: The units of work use cases run in: scoped to a PRE, a sweep, or a consumer's own.
    units: Units


async def get_parcours(request: Request) -> Parcours:
    ctx: Parcours = request.app.state.parcours
    return ctx


Ctx = Annotated[Parcours, Depends(get_parcours)]
