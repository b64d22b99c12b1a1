"""Notices to the family (issue 14), the référent's side: what is still to send, a post
notice's letter to print, marking one sent. E-mail notices go out by themselves
(``service.family_notice_delivery``); they are listed here until sent, and stay for the
référent, with why, when the e-mail could not be delivered."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from relais_parcours.context import Ctx
from relais_parcours.domain.family import Channel
from relais_parcours.entrypoints.http_family import pdf_response
from relais_parcours.entrypoints.validation import Offset
from relais_parcours.service import family_desk
from relais_runtime.auth import Principal, require_roles

router = APIRouter(prefix="/v1")

Team = Annotated[Principal, Depends(require_roles("coordinator", "referent"))]


class NoticeToSend(BaseModel):
    """Un avis pas encore transmis : par une personne (courrier, téléphone, SMS), ou par
    e-mail automatiquement."""

    id: uuid.UUID
    situation_id: uuid.UUID
    guardian: int
    kind: str
    channel: Channel
    language: str
    text: str = Field(description="Dans la langue du responsable.")
    text_fr: str
    created_at: datetime
    automatic: bool = Field(
        description="Parcours essaie encore de l'envoyer par e-mail ; false : une personne "
        "le transmet."
    )
    attempts: int = 0
    last_failure: str | None = Field(
        default=None,
        description="Pourquoi le dernier e-mail a échoué : rejected, no_address, timeout, "
        "connection_error, refused_for_now, no_identity.",
    )


@router.get(
    "/family-notices",
    response_model=list[NoticeToSend],
    summary="Avis aux familles pas encore transmis (courrier à imprimer, téléphone, SMS ; "
    "e-mails en cours d'envoi automatique)",
)
async def get_family_notices(
    who: Team,
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> list[NoticeToSend]:
    rows = await family_desk.notices_to_send(ctx.units.scoped(who.tenant), ctx, who, limit, offset)
    return [
        NoticeToSend(
            guardian=r["guardian_index"],
            channel=Channel(r["channel"]),
            **{k: r[k] for k in NoticeToSend.model_fields if k not in ("guardian", "channel")},
        )
        for r in rows
    ]


@router.get(
    "/family-notices/{notice_id}/letter",
    summary="Le courrier d'un avis, dans la langue du responsable, à imprimer et poster",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def get_notice_letter(notice_id: uuid.UUID, who: Team, ctx: Ctx) -> Response:
    content = await family_desk.notice_letter(ctx.units.scoped(who.tenant), ctx, who, notice_id)
    return pdf_response(content, "avis-famille")


@router.post(
    "/family-notices/{notice_id}/sent",
    status_code=204,
    summary="Noter qu'un avis a été transmis à la famille",
)
async def post_notice_sent(notice_id: uuid.UUID, who: Team, ctx: Ctx) -> Response:
    await family_desk.mark_sent(ctx.units.scoped(who.tenant), who, notice_id)
    return Response(status_code=204)
