"""A creation sent again under its ``Idempotency-Key``: it replays, it does not create twice.

The keys live in the runtime's store (``relais_runtime.idempotency``, ADR 0020), scoped by
PRE, caller (the token's subject) and route: the same key on another route is a new
request there. What was sent is kept as a keyed fingerprint (the path's ids and the body):
the same key with another body is refused (409 ``idempotency_key_reused``). Bodies hold
words about a child (a plan's titles, a message to a partner), so the fingerprint is an
HMAC under a secret of the service (:attr:`~relais_parcours.context.Parcours.idempotency_secret`).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Final

from pydantic import BaseModel

from relais_parcours.context import Parcours
from relais_parcours.service.ports import ParcoursWork
from relais_runtime import idempotency
from relais_runtime.auth import Principal
from relais_runtime.idempotency import IdempotencyScope

#: The routes a key is scoped to (stable names, not URLs; migration 0022 names them too).
CONSENT: Final = "parcours.consents.create"
OBJECTIVE: Final = "parcours.plan.objectives.create"
ACTION: Final = "parcours.plan.actions.create"
HANDOVER: Final = "parcours.handovers.create"
REVIEW: Final = "parcours.reviews.create"


@dataclass(frozen=True)
class Keyed:
    """A request sent under an Idempotency-Key: its route, the key, what was sent."""

    route: str
    key: str
    fingerprint: str


def keyed(
    ctx: Parcours, key: str | None, route: str, *path: uuid.UUID, body: BaseModel
) -> Keyed | None:
    """The request's key and fingerprint; None without a key."""
    if key is None:
        return None
    sent = json.dumps(
        {"path": [str(p) for p in path], "body": body.model_dump(mode="json")}, sort_keys=True
    )
    digest = idempotency.fingerprint(sent.encode(), ctx.idempotency_secret)
    return Keyed(route, key, digest)


async def claim_in(
    uow: ParcoursWork, who: Principal, request: Keyed | None, result_id: uuid.UUID
) -> uuid.UUID | None:
    """In the unit about to create ``result_id``: None to go on, or the id created under
    the same key earlier (answer with it, create nothing); 409 with another body."""
    if request is None:
        return None
    return await uow.claim_key(_scope(who, request), request.key, request.fingerprint, result_id)


def _scope(who: Principal, request: Keyed) -> IdempotencyScope:
    return IdempotencyScope(tenant=who.tenant, caller=who.sub, route=request.route)
