"""HTTP routes of the family's door (issue 14).

* staff (référent, coordinators): issue, list and revoke access letters; print the
  family's documents per guardian; coordinators answer the family's requests and set
  how families reach the PRE;
* anyone holding a letter: exchange its link and code for a guardian session;
* the guardian (``require_roles("guardian")``, its own situation only): the family
  view, withdrawal, requests, preferences, its documents in its language.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Response
from pydantic import BaseModel, Field, StringConstraints

from relais_contracts.types import Slug
from relais_parcours.context import Ctx
from relais_parcours.domain.family import LANGUAGES, Channel, RequestKind
from relais_parcours.entrypoints.validation import Body, Offset, invalid_field
from relais_parcours.service import (
    family_access,
    family_desk,
    family_documents,
    family_space,
)
from relais_runtime.auth import Principal, require_roles

router = APIRouter(prefix="/v1")

Team = Annotated[Principal, Depends(require_roles("coordinator", "referent"))]
Coordinator = Annotated[Principal, Depends(require_roles("coordinator"))]
Manager = Annotated[Principal, Depends(require_roles("coordinator", "admin"))]
Guardian = Annotated[Principal, Depends(require_roles("guardian"))]

PDF = "application/pdf"
#: Pages and documents with identity are never cached (shared computers, proxies).
NO_STORE = {"Cache-Control": "no-store"}


def pdf_response(content: bytes, name: str) -> Response:
    return Response(
        content,
        media_type=PDF,
        headers={**NO_STORE, "Content-Disposition": f'inline; filename="{name}.pdf"'},
    )


# --- staff: access letters ---------------------------------------------------------------------


class LetterRequest(Body):
    guardian: int = Field(
        ge=0, le=3, description="Position du responsable dans la fiche (0 = le premier)."
    )


class IssuedLetter(BaseModel):
    """Montrés une seule fois : le lien et le code ne sont conservés que hachés."""

    id: uuid.UUID
    guardian: int
    link: str
    code: str
    expires_at: datetime
    language: str


class LetterOut(BaseModel):
    id: uuid.UUID
    guardian: int
    created_by: str
    created_at: datetime
    expires_at: datetime
    failed_attempts: int
    used_at: datetime | None
    revoked_at: datetime | None
    status: Literal["usable", "used", "expired", "revoked"]


@router.post(
    "/situations/{situation_id}/family-letters",
    status_code=201,
    response_model=IssuedLetter,
    summary="Lettre d'accès pour un responsable (lien à usage unique + code) ; "
    "Accept: application/pdf pour la lettre à imprimer",
    responses={201: {"content": {PDF: {}}}},
)
async def post_letter(
    situation_id: uuid.UUID,
    body: LetterRequest,
    who: Team,
    ctx: Ctx,
    response: Response,
    accept: Annotated[str | None, Header()] = None,
) -> Any:
    letter = await family_access.issue_letter(
        ctx.units.scoped(who.tenant), ctx, who, situation_id, body.guardian
    )
    if accept and PDF in accept:
        view = await family_documents.staff_view(
            ctx.units.scoped(who.tenant), ctx, who, situation_id, body.guardian
        )
        content = family_documents.access_letter_pdf(view, letter)
        printed = pdf_response(content, "lettre-acces")
        printed.status_code = 201
        return printed
    response.headers.update(NO_STORE)  # the link and code, shown this once
    return IssuedLetter(
        id=letter.id,
        guardian=letter.guardian_index,
        link=letter.link,
        code=letter.code,
        expires_at=letter.expires_at,
        language=letter.language,
    )


@router.get(
    "/situations/{situation_id}/family-letters",
    response_model=list[LetterOut],
    summary="Lettres d'accès données à la famille (sans lien ni code)",
)
async def get_letters(situation_id: uuid.UUID, who: Team, ctx: Ctx) -> list[LetterOut]:
    rows = await family_desk.letters(ctx.units.scoped(who.tenant), who, situation_id)
    return [
        LetterOut(guardian=r["guardian_index"], status=r["status"], **_letter_fields(r))
        for r in rows
    ]


def _letter_fields(r: Any) -> dict[str, Any]:
    keys = ("id", "created_by", "created_at", "expires_at", "failed_attempts", "used_at")
    return {k: r[k] for k in (*keys, "revoked_at")}


@router.post(
    "/situations/{situation_id}/family-letters/{letter_id}/revocation",
    status_code=204,
    summary="Annuler une lettre d'accès (et la session qu'elle a ouverte)",
)
async def revoke_letter(
    situation_id: uuid.UUID, letter_id: uuid.UUID, who: Team, ctx: Ctx
) -> Response:
    await family_access.revoke_letter(ctx.units.scoped(who.tenant), who, situation_id, letter_id)
    return Response(status_code=204)


@router.get(
    "/situations/{situation_id}/family-documents/{kind}",
    summary="Document pour la famille, dans sa langue (accord à signer, registre, plan)",
    response_class=Response,
    responses={200: {"content": {PDF: {}}}},
)
async def get_staff_document(
    situation_id: uuid.UUID,
    kind: family_desk.Printable,
    who: Team,
    ctx: Ctx,
    guardian: Annotated[int, Query(ge=0, le=3)] = 0,
) -> Response:
    view = await family_documents.staff_view(
        ctx.units.scoped(who.tenant), ctx, who, situation_id, guardian
    )
    return pdf_response(family_desk.document(view, kind), kind)


# --- coordinators: requests and contact ---------------------------------------------------------


class FamilyRequestOut(BaseModel):
    id: uuid.UUID
    situation_id: uuid.UUID
    guardian: int
    kind: RequestKind
    details: str | None
    status: Literal["open", "answered"]
    made_at: datetime
    due_on: date
    overdue: bool
    answered_at: datetime | None
    answered_by: str | None
    answer: str | None


@router.get(
    "/family-requests",
    response_model=list[FamilyRequestOut],
    summary="Demandes des familles (rectification, effacement) : à répondre sous un mois",
)
async def get_family_requests(
    who: Coordinator,
    ctx: Ctx,
    status: Literal["open", "answered"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> list[FamilyRequestOut]:
    rows = await family_desk.requests(ctx.units.scoped(who.tenant), ctx, who, status, limit, offset)
    return [
        FamilyRequestOut(
            guardian=r["guardian_index"], **{k: v for k, v in r.items() if k != "guardian_index"}
        )
        for r in rows
    ]


class Answer(Body):
    answer: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


@router.post(
    "/family-requests/{request_id}/answer",
    status_code=204,
    summary="Répondre à la demande d'une famille",
)
async def post_answer(request_id: uuid.UUID, body: Answer, who: Coordinator, ctx: Ctx) -> Response:
    await family_space.answer_request(
        ctx.units.scoped(who.tenant), ctx, who, request_id, body.answer
    )
    return Response(status_code=204)


class FamilyContact(Body):
    """Comment les familles joignent le PRE : imprimé sur chaque lettre et chaque document."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    phone: Annotated[str, StringConstraints(max_length=30)] | None = None
    email: Annotated[str, StringConstraints(max_length=254)] | None = None
    address: Annotated[str, StringConstraints(max_length=300)] | None = None
    hours: Annotated[str, StringConstraints(max_length=200)] | None = None


@router.put(
    "/family-contact",
    status_code=204,
    summary="Contact du PRE pour les familles (imprimé sur les lettres)",
)
async def put_family_contact(body: FamilyContact, who: Manager, ctx: Ctx) -> Response:
    await family_desk.set_contact(ctx.units.scoped(who.tenant), who, body.model_dump())
    return Response(status_code=204)


# --- anyone with a letter --------------------------------------------------------------------


class SessionRequest(Body):
    link: Annotated[str, StringConstraints(min_length=10, max_length=200)] = Field(
        description="Le lien de la lettre (son adresse entière, ou sa dernière partie)."
    )
    code: Annotated[str, StringConstraints(min_length=4, max_length=20)]


class SessionOut(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the scheme, not a secret
    expires_in: int


@router.post(
    "/family/sessions",
    response_model=SessionOut,
    summary="Ouvrir l'espace famille avec le lien et le code de la lettre",
)
async def post_session(body: SessionRequest, ctx: Ctx, response: Response) -> SessionOut:
    link_token = body.link.rstrip("/").rsplit("/", 1)[-1]
    session = await family_access.open_session(ctx, link_token, body.code)
    response.headers.update(NO_STORE)
    return SessionOut(access_token=session.token, expires_in=session.expires_in)


# --- the guardian -----------------------------------------------------------------------------


class PartnerInConsent(BaseModel):
    partner_id: str
    name: str
    data_categories: list[str]


class ConsentInForce(BaseModel):
    id: uuid.UUID
    given_at: datetime
    valid_until: date | None
    partners: list[PartnerInConsent]


class PlanAction(BaseModel):
    title: str
    status: str
    starts_on: date | None
    ends_on: date | None


class PlanObjective(BaseModel):
    axis: str
    title: str
    status: str
    actions: list[PlanAction]


class LedgerLine(BaseModel):
    read_at: datetime
    partner_name: str
    data_categories: list[str]


class StaffRead(BaseModel):
    read_at: datetime
    organisation: str
    role: str = Field(
        description="coordinator, referent… (les rôles du lecteur, séparés par une virgule)"
    )
    field_groups: list[str] = Field(
        description="Ce qui a été lu (groupes de champs, sans valeurs)."
    )


class MyRequest(BaseModel):
    id: uuid.UUID
    kind: RequestKind
    status: Literal["open", "answered"]
    made_at: datetime
    due_on: date
    answered_at: datetime | None = None
    answer: str | None = None


class Notice(BaseModel):
    kind: Literal["new_partner", "consent_expiring", "followup_planned"]
    text: str
    created_at: datetime


class FamilySpace(BaseModel):
    """Ce que voit la famille : aucune note de l'équipe, aucun autre enfant."""

    language: str
    languages: list[str] = Field(default_factory=lambda: list(LANGUAGES))
    channel: Channel | None
    guardian: dict[str, str | None]
    child_first_name: str | None
    pre_contact: dict[str, Any] | None
    referent_first_name: str | None
    consent: ConsentInForce | None
    plan: list[PlanObjective]
    ledger: list[LedgerLine]
    followup_due_on: date | None
    requests: list[MyRequest]
    staff_reads: list[StaffRead] = Field(
        default=[],
        description="Qui, dans l'équipe du PRE, a lu le dossier de l'enfant (registre des "
        "accès), du plus récent au plus ancien ; les lectures des partenaires sont dans `ledger`.",
    )
    notices: list[Notice] = Field(description="Ce qui a changé, dans la langue de la famille.")


@router.get("/family/space", response_model=FamilySpace, summary="L'espace de la famille")
async def get_space(who: Guardian, ctx: Ctx, response: Response) -> FamilySpace:
    view = await family_space.view(ctx.units.scoped(who.tenant), ctx, who)
    response.headers.update(NO_STORE)
    return FamilySpace.model_validate(view, from_attributes=True)


class Withdrawal(Body):
    partner_id: Slug | None = Field(
        default=None, description="Un seul partenaire ; sans lui, tout l'accord est retiré."
    )


class WithdrawalDone(BaseModel):
    partners_cut_off: list[str]


@router.post(
    "/family/consent/withdrawal",
    response_model=WithdrawalDone,
    summary="Retirer son accord, en entier ou pour un partenaire : le partage s'arrête",
)
async def post_withdrawal(body: Withdrawal, who: Guardian, ctx: Ctx) -> WithdrawalDone:
    try:
        partners = await family_space.withdraw(
            ctx.units.scoped(who.tenant), ctx, who, body.partner_id
        )
    except family_space.FieldRefusal as refused:
        raise invalid_field(refused.field, refused.code, refused.message) from None
    return WithdrawalDone(partners_cut_off=partners)


class RequestIn(Body):
    kind: RequestKind
    details: Annotated[str, StringConstraints(min_length=1, max_length=2000)] = Field(
        description="Ce qu'il faut corriger ou effacer, avec vos mots."
    )


@router.post(
    "/family/requests",
    status_code=201,
    response_model=MyRequest,
    summary="Demander la correction ou l'effacement de ses données (réponse sous un mois)",
)
async def post_request(body: RequestIn, who: Guardian, ctx: Ctx) -> MyRequest:
    made = await family_space.make_request(
        ctx.units.scoped(who.tenant), ctx, who, body.kind, body.details
    )
    return MyRequest.model_validate(made)


class Preferences(Body):
    language: Literal["fr", "ar", "en", "tr", "pt"] | None = None
    channel: Channel | None = None


@router.put(
    "/family/preferences",
    status_code=204,
    summary="Choisir sa langue et comment le PRE vous contacte",
)
async def put_preferences(body: Preferences, who: Guardian, ctx: Ctx) -> Response:
    try:
        await family_space.set_preferences(
            ctx.units.scoped(who.tenant), ctx, who, body.language, body.channel
        )
    except family_space.FieldRefusal as refused:
        raise invalid_field(refused.field, refused.code, refused.message) from None
    return Response(status_code=204)


@router.get(
    "/family/documents/{kind}",
    summary="Ses documents à imprimer, dans sa langue",
    response_class=Response,
    responses={200: {"content": {PDF: {}}}},
)
async def get_family_document(kind: family_desk.Printable, who: Guardian, ctx: Ctx) -> Response:
    view = await family_space.view(ctx.units.scoped(who.tenant), ctx, who)
    return pdf_response(family_desk.document(view, kind), kind)
