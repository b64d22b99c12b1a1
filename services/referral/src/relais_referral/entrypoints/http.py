"""HTTP routes of the referral service: thin, they translate and call a use case."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from relais_contracts.types import ReferralStatus, Slug
from relais_referral.adapters.keys import ReferralKeys
from relais_referral.entrypoints.schemas import (
    Contact,
    InstitutionPage,
    InstitutionRequest,
    InstitutionView,
    ReferralPage,
    ReferralRequest,
    ReferralSummary,
    ReferralView,
    TimelineEntry,
)
from relais_referral.service import institutions
from relais_referral.service.ports import StoredReferral, Uows
from relais_referral.service.read_referrals import list_referrals, view_referral
from relais_referral.service.submit_referral import submit_referral
from relais_referral.service.withdraw_referral import withdraw_referral
from relais_runtime.auth import ensure_same_tenant
from relais_runtime.http import (
    DomainError,
    IdempotencyKey,
    Limit,
    Offset,
    Principal,
    Runtime,
    require_roles,
)

router = APIRouter(prefix="/v1")
well_known = APIRouter()


async def get_keys(request: Request) -> ReferralKeys:
    keys: ReferralKeys = request.app.state.referral_keys
    return keys


async def get_uows(request: Request) -> Uows:
    """The units of work the use cases open (``adapters/unit_of_work.py``)."""
    uows: Uows = request.app.state.referral_uows
    return uows


Keys = Annotated[ReferralKeys, Depends(get_keys)]
Work = Annotated[Uows, Depends(get_uows)]
Institution = Annotated[Principal, Depends(require_roles("institution"))]
Admin = Annotated[Principal, Depends(require_roles("admin", "coordinator"))]
# Institution ids are slugs: anything else (a NUL byte, 10 000 characters) is refused as such.
InstitutionId = Annotated[Slug, Path(description="Identifiant de l'établissement.")]
ReferralId = Annotated[uuid.UUID, Path(description="Identifiant de l'orientation.")]


def _view(stored: StoredReferral) -> ReferralView:
    return ReferralView(
        id=stored.id,
        tenant=stored.tenant,
        institution_id=stored.institution_id,
        status=stored.status,
        submitted_at=stored.submitted_at,
        updated_at=stored.updated_at,
        channel=stored.channel,
        external_ref=stored.external_ref,
        timeline=[
            TimelineEntry(status=c.status, at=c.at, reason=c.reason, redirected_to=c.redirected_to)
            for c in stored.timeline
        ],
        referral=stored.content,
    )


def _summary(stored: StoredReferral) -> ReferralSummary:
    child = (stored.content or {}).get("child", {})
    return ReferralSummary(
        id=stored.id,
        status=stored.status,
        submitted_at=stored.submitted_at,
        updated_at=stored.updated_at,
        child_first_name=child.get("first_name"),
        child_last_name=child.get("last_name"),
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
    uows: Work,
    keys: Keys,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> ReferralView:
    ensure_same_tenant(who, body.tenant)
    runtime.check_intake()  # 503 while the outbox is behind: accepted means on its way
    submission, stored = await submit_referral(
        uows,
        keys,
        institution_id=who.org,
        request=body,
        idempotency_key=idempotency_key,
        reader=who,
    )
    if submission.replayed:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    return _view(stored)


@router.get(
    "/referrals",
    response_model=ReferralPage,
    summary="Les orientations envoyées par mon établissement",
    description="Les plus récentes d'abord ; la page consultée est inscrite au journal des "
    "accès (noms des enfants affichés).",
)
async def get_referrals(
    who: Institution,
    uows: Work,
    status_: Annotated[
        list[ReferralStatus] | None,
        Query(alias="status", description="Filtrer par statut (répétable)."),
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ReferralPage:
    items, total = await list_referrals(
        uows,
        institution_id=who.org,
        statuses=[s.value for s in status_] if status_ else None,
        limit=limit,
        offset=offset,
        reader=who,
    )
    return ReferralPage(items=[_summary(i) for i in items], total=total, limit=limit, offset=offset)


@router.get(
    "/referrals/{referral_id}",
    response_model=ReferralView,
    summary="Une orientation envoyée par mon établissement, avec son historique",
    description="La consultation est inscrite au journal des accès. L'orientation d'un autre "
    "établissement est introuvable (404 `referral_not_found`).",
)
async def get_referral(referral_id: ReferralId, who: Institution, uows: Work) -> ReferralView:
    return _view(
        await view_referral(uows, institution_id=who.org, referral_id=referral_id, reader=who)
    )


@router.post(
    "/referrals/{referral_id}/withdraw",
    response_model=ReferralView,
    summary="Retirer une orientation pas encore prise en charge",
)
async def post_withdraw(referral_id: ReferralId, who: Institution, uows: Work) -> ReferralView:
    return _view(
        await withdraw_referral(
            uows, tenant=who.tenant, institution_id=who.org, referral_id=referral_id, reader=who
        )
    )


# -- institutions directory -------------------------------------------------------------------


def _institution(row: Any) -> InstitutionView:
    return InstitutionView(
        **{k: row[k] for k in InstitutionView.model_fields if k != "tenant"}, tenant=row["pre_id"]
    )


@router.put(
    "/institutions/{institution_id}",
    response_model=InstitutionView,
    summary="Enregistrer ou mettre à jour un établissement orienteur",
)
async def put_institution(
    institution_id: InstitutionId, body: InstitutionRequest, who: Admin, uows: Work
) -> InstitutionView:
    ensure_same_tenant(who, body.tenant)
    if body.id != institution_id:
        raise DomainError("id_mismatch", "L'identifiant du corps diffère de celui de l'URL.", 422)
    return _institution(await institutions.register_institution(uows, body.model_dump(mode="json")))


@router.get("/institutions", response_model=InstitutionPage, summary="Annuaire des établissements")
async def get_institutions(
    who: Admin,
    uows: Work,
    active: Annotated[bool | None, Query(description="Seulement actifs / inactifs.")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> InstitutionPage:
    rows, total = await institutions.list_institutions(
        uows, who.tenant, active=active, limit=limit, offset=offset
    )
    return InstitutionPage(
        items=[_institution(r) for r in rows], total=total, limit=limit, offset=offset
    )


@router.get(
    "/institutions/{institution_id}",
    response_model=InstitutionView,
    summary="Un établissement de l'annuaire",
)
async def get_institution(institution_id: InstitutionId, who: Admin, uows: Work) -> InstitutionView:
    return _institution(await institutions.get_institution(uows, who.tenant, institution_id))


@router.put(
    "/institutions/{institution_id}/contacts",
    response_model=InstitutionView,
    summary="Remplacer les contacts d'un établissement",
)
async def put_contacts(
    institution_id: InstitutionId, body: list[Contact], who: Admin, uows: Work
) -> InstitutionView:
    contacts = [c.model_dump(mode="json", exclude_none=True) for c in body]
    return _institution(await institutions.set_contacts(uows, who.tenant, institution_id, contacts))


@router.post(
    "/institutions/{institution_id}/deactivate",
    response_model=InstitutionView,
    summary="Désactiver un établissement (il ne peut plus orienter ; son historique reste)",
)
async def post_deactivate(institution_id: InstitutionId, who: Admin, uows: Work) -> InstitutionView:
    return _institution(await institutions.set_active(uows, who.tenant, institution_id, False))


@router.post(
    "/institutions/{institution_id}/activate",
    response_model=InstitutionView,
    summary="Réactiver un établissement",
)
async def post_activate(institution_id: InstitutionId, who: Admin, uows: Work) -> InstitutionView:
    return _institution(await institutions.set_active(uows, who.tenant, institution_id, True))


# -- public keys ------------------------------------------------------------------------------


@well_known.get(
    "/.well-known/jwks.json",
    summary="Clés publiques de réception AMQP (referral.submit)",
    description="Les établissements reliés par AMQP chiffrent la partie identifiante de "
    "`referral.submit` (JWE ECDH-ES+A256KW / A256GCM) avec la première clé de cette liste.",
)
async def get_intake_jwks(keys: Keys) -> dict[str, Any]:
    return keys.intake_public_jwks()
