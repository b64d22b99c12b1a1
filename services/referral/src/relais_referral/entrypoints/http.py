"""HTTP routes of the referral service: thin, they translate and call a use case."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from relais_contracts.types import ReferralStatus, Slug
from relais_referral.adapters import repository
from relais_referral.adapters.keys import ReferralKeys
from relais_referral.entrypoints.schemas import (
    Contact,
    InstitutionPage,
    InstitutionRequest,
    InstitutionView,
    ReferralPage,
    ReferralRequest,
    ReferralView,
)
from relais_referral.service.emitter import RuntimeEmitter
from relais_referral.service.read_referrals import list_referrals, view_referral
from relais_referral.service.submit_referral import submit_referral
from relais_referral.service.withdraw_referral import withdraw_referral
from relais_runtime.auth import ensure_same_pre
from relais_runtime.http import (
    DomainError,
    IdempotencyKey,
    Limit,
    Offset,
    Principal,
    Runtime,
    require_roles,
)
from relais_runtime.runtime import ServiceRuntime

router = APIRouter(prefix="/v1")
well_known = APIRouter()


async def get_keys(request: Request) -> ReferralKeys:
    keys: ReferralKeys = request.app.state.referral_keys
    return keys


Keys = Annotated[ReferralKeys, Depends(get_keys)]
Institution = Annotated[Principal, Depends(require_roles("institution"))]
Admin = Annotated[Principal, Depends(require_roles("admin", "coordinator"))]
# Institution ids are slugs: anything else (a NUL byte, 10 000 characters) is refused as such.
InstitutionId = Annotated[Slug, Path(description="Identifiant de l'établissement.")]

INSTITUTION_NOT_FOUND = DomainError(
    "institution_not_found", "Établissement introuvable dans ce PRE.", status=404
)


# -- referrals ------------------------------------------------------------------------------


@router.post(
    "/referrals",
    status_code=status.HTTP_201_CREATED,
    response_model=ReferralView,
    summary="Orienter un enfant vers le PRE (fiche de liaison)",
    description="Avec un en-tête `Idempotency-Key`, un nouvel envoi de la même fiche sous la "
    "même clé renvoie l'orientation déjà créée (200, en-tête `Idempotent-Replayed: true`) ; "
    "la même clé avec une autre fiche est refusée (409 `idempotency_key_reused`). "
    "Les clés sont propres à chaque établissement.",
    responses={
        200: {
            "description": "Renvoi idempotent : l'orientation déjà créée.",
            "model": ReferralView,
        },
        503: {
            "description": "Orientation non enregistrée : base de données ou messagerie "
            "momentanément injoignable (`database_unavailable`, `broker_unavailable`), ou "
            "Relais en retard sur ce qu'il a déjà accepté (`intake_overloaded`). La renvoyer "
            "après `Retry-After` secondes (même `Idempotency-Key`).",
            "headers": {
                "Retry-After": {
                    "description": "Secondes à attendre avant de réessayer.",
                    "schema": {"type": "integer", "examples": [5]},
                }
            },
        },
    },
)
async def post_referral(
    body: ReferralRequest,
    who: Institution,
    runtime: Runtime,
    keys: Keys,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> ReferralView:
    ensure_same_pre(who, body.pre_id)
    runtime.check_intake()  # 503 while the outbox is behind: accepted means on its way
    # The answer is read in the transaction that saves the referral: once it commits, the
    # answer stands, even if the database goes away before it is written out.
    async with runtime.pool.acquire() as conn, conn.transaction():
        submission = await submit_referral(
            RuntimeEmitter(runtime, conn),
            keys,
            institution_id=who.org,
            request=body,
            idempotency_key=idempotency_key,
        )
        view = await view_referral(
            conn, keys, pre_id=who.pre, institution_id=who.org, referral_id=submission.referral_id
        )
    if submission.replayed:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    return view


@router.get(
    "/referrals",
    response_model=ReferralPage,
    summary="Les orientations envoyées par mon établissement",
)
async def get_referrals(
    who: Institution,
    runtime: Runtime,
    keys: Keys,
    status_: Annotated[
        list[ReferralStatus] | None,
        Query(alias="status", description="Filtrer par statut (répétable)."),
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ReferralPage:
    async with runtime.pool.acquire() as conn, conn.transaction():
        return await list_referrals(
            conn,
            keys,
            pre_id=who.pre,
            institution_id=who.org,
            statuses=[s.value for s in status_] if status_ else None,
            limit=limit,
            offset=offset,
            reader=who,
        )


@router.get("/referrals/{referral_id}", response_model=ReferralView)
async def get_referral(
    referral_id: uuid.UUID, who: Institution, runtime: Runtime, keys: Keys
) -> ReferralView:
    async with runtime.pool.acquire() as conn, conn.transaction():
        return await view_referral(
            conn,
            keys,
            pre_id=who.pre,
            institution_id=who.org,
            referral_id=referral_id,
            reader=who,
        )


@router.post(
    "/referrals/{referral_id}/withdraw",
    response_model=ReferralView,
    summary="Retirer une orientation pas encore prise en charge",
)
async def post_withdraw(
    referral_id: uuid.UUID, who: Institution, runtime: Runtime, keys: Keys
) -> ReferralView:
    async with runtime.pool.acquire() as conn, conn.transaction():
        await withdraw_referral(
            RuntimeEmitter(runtime, conn),
            pre_id=who.pre,
            institution_id=who.org,
            referral_id=referral_id,
        )
        # Read in the same transaction: the answer is what was committed.
        return await view_referral(
            conn, keys, pre_id=who.pre, institution_id=who.org, referral_id=referral_id
        )


# -- institutions directory -------------------------------------------------------------------


def _institution(row: Any) -> InstitutionView:
    return InstitutionView(**{k: row[k] for k in InstitutionView.model_fields})


@router.put(
    "/institutions/{institution_id}",
    response_model=InstitutionView,
    summary="Enregistrer ou mettre à jour un établissement orienteur",
)
async def put_institution(
    institution_id: InstitutionId, body: InstitutionRequest, who: Admin, runtime: Runtime
) -> InstitutionView:
    ensure_same_pre(who, body.pre_id)
    if body.id != institution_id:
        raise DomainError("id_mismatch", "L'identifiant du corps diffère de celui de l'URL.", 422)
    async with runtime.pool.acquire() as conn:
        row = await repository.upsert_institution(conn, body.model_dump(mode="json"))
    if row is None:
        raise DomainError(
            "institution_id_taken", "Cet identifiant est déjà utilisé par un autre PRE."
        )
    return _institution(row)


@router.get("/institutions", response_model=InstitutionPage, summary="Annuaire des établissements")
async def get_institutions(
    who: Admin,
    runtime: Runtime,
    active: Annotated[bool | None, Query(description="Seulement actifs / inactifs.")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> InstitutionPage:
    async with runtime.pool.acquire() as conn:
        rows, total = await repository.list_institutions(
            conn, who.pre, active=active, limit=limit, offset=offset
        )
    return InstitutionPage(
        items=[_institution(r) for r in rows], total=total, limit=limit, offset=offset
    )


@router.get("/institutions/{institution_id}", response_model=InstitutionView)
async def get_institution(
    institution_id: InstitutionId, who: Admin, runtime: Runtime
) -> InstitutionView:
    async with runtime.pool.acquire() as conn:
        row = await repository.get_institution(conn, who.pre, institution_id)
    if row is None:
        raise INSTITUTION_NOT_FOUND
    return _institution(row)


@router.put(
    "/institutions/{institution_id}/contacts",
    response_model=InstitutionView,
    summary="Remplacer les contacts d'un établissement",
)
async def put_contacts(
    institution_id: InstitutionId, body: list[Contact], who: Admin, runtime: Runtime
) -> InstitutionView:
    if len(body) > 20:
        raise DomainError("too_many_contacts", "Au plus 20 contacts par établissement.", 422)
    contacts = [c.model_dump(mode="json", exclude_none=True) for c in body]
    async with runtime.pool.acquire() as conn:
        row = await repository.set_institution_contacts(conn, who.pre, institution_id, contacts)
    if row is None:
        raise INSTITUTION_NOT_FOUND
    return _institution(row)


async def _set_active(
    institution_id: str, who: Principal, runtime: ServiceRuntime, active: bool
) -> InstitutionView:
    async with runtime.pool.acquire() as conn:
        row = await repository.set_institution_active(conn, who.pre, institution_id, active)
    if row is None:
        raise INSTITUTION_NOT_FOUND
    return _institution(row)


@router.post(
    "/institutions/{institution_id}/deactivate",
    response_model=InstitutionView,
    summary="Désactiver un établissement (il ne peut plus orienter ; son historique reste)",
)
async def post_deactivate(
    institution_id: InstitutionId, who: Admin, runtime: Runtime
) -> InstitutionView:
    return await _set_active(institution_id, who, runtime, False)


@router.post(
    "/institutions/{institution_id}/activate",
    response_model=InstitutionView,
    summary="Réactiver un établissement",
)
async def post_activate(
    institution_id: InstitutionId, who: Admin, runtime: Runtime
) -> InstitutionView:
    return await _set_active(institution_id, who, runtime, True)


# -- public keys ------------------------------------------------------------------------------


@well_known.get(
    "/.well-known/jwks.json",
    summary="Clés publiques de réception AMQP (referral.submit)",
    description="Les établissements reliés par AMQP chiffrent la partie identifiante de "
    "`referral.submit` (JWE ECDH-ES+A256KW / A256GCM) avec la première clé de cette liste.",
)
async def get_intake_jwks(keys: Keys) -> dict[str, Any]:
    return keys.intake_public_jwks()
