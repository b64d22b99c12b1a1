"""The staff's side of the family's door: letters given, families' requests, the PRE's
contact, notices still to send and their printed letters, documents to print."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

import asyncpg

from relais_parcours.adapters import family_repository
from relais_parcours.adapters.documents import DocumentKind
from relais_parcours.context import Parcours
from relais_parcours.domain.family import Channel
from relais_parcours.service import (
    access,
    access_log,
    child_texts,
    family_documents,
    family_notice_delivery,
    family_notices,
)
from relais_parcours.service.dates import pre_day
from relais_parcours.service.family_space import FamilyView
from relais_parcours.service.ports import Uows
from relais_runtime.auth import Principal
from relais_runtime.errors import DomainError

NOTICE_NOT_FOUND = DomainError("notice_not_found", "Avis introuvable.", 404)
NOTICE_NOT_PENDING = DomainError("notice_not_found", "Avis introuvable ou déjà transmis.", 404)

#: The documents a guardian or the team may print.
Printable = Literal["consent_form", "ledger", "plan"]


def document(view: FamilyView, kind: Printable) -> bytes:
    """One of the family's documents, as a PDF in the view's language."""
    return family_documents.document_pdf(view, DocumentKind(kind))


LetterStatus = Literal["usable", "used", "expired", "revoked"]


def letter_status(letter: asyncpg.Record | dict[str, Any], now: datetime) -> LetterStatus:
    """Revoked, else used (once), else expired, else still usable."""
    if letter["revoked_at"]:
        return "revoked"
    if letter["used_at"]:
        return "used"
    return "expired" if letter["expires_at"] <= now else "usable"


async def letters(uows: Uows, who: Principal, situation_id: uuid.UUID) -> list[dict[str, Any]]:
    """The access letters given for the situation, each with its status (never their link
    or code)."""
    rows = await access.rows_of_situation(uows, who, situation_id, family_repository.list_letters)
    now = datetime.now().astimezone()
    return [dict(r) | {"status": letter_status(r, now)} for r in rows]


async def requests(
    uows: Uows,
    ctx: Parcours,
    who: Principal,
    status: str | None,
    limit: int,
    offset: int,
) -> list[dict[str, Any]]:
    """The families' requests, each ``overdue`` once open past the day it is due."""
    today = pre_day(ctx)
    async with uows() as uow:
        listed = await family_repository.list_requests(uow.conn, who.tenant, status, limit, offset)
        # One line per request shown, before its words are opened: each family sees it.
        for r in listed:
            await uow.record_access(
                access_log.readout(
                    who,
                    "family_request",
                    r["id"],
                    r["situation_id"],
                    access_log.request_groups(r),
                    access_log.FAMILY_REQUEST,
                )
            )
        rows = await child_texts.with_texts_in(uow, ctx, who.tenant, listed, ("details", "answer"))
    return [
        {k: v for k, v in r.items() if k != "subject_id"}
        | {"overdue": r["status"] == "open" and r["due_on"] < today}
        for r in rows
    ]


async def set_contact(uows: Uows, who: Principal, contact: dict[str, Any]) -> None:
    async with uows() as uow:
        await family_repository.set_family_contact(uow.conn, who.tenant, contact)


async def notices_to_send(
    uows: Uows, ctx: Parcours, who: Principal, limit: int, offset: int
) -> list[dict[str, Any]]:
    """Notices not sent yet (a référent: of their situations), with their texts; an e-mail
    is ``automatic`` while parcours still tries to send it."""
    async with uows() as uow:
        referent = await access.scope_in(uow, who)
        rows = await family_repository.pending_notices(
            uow.conn, who.tenant, referent, limit, offset
        )
    return [
        dict(r)
        | {
            "text": family_notices.text(r["kind"], r["language"], r["facts"]),
            "text_fr": family_notices.text(r["kind"], "fr", r["facts"]),
            "automatic": r["channel"] == Channel.EMAIL
            and r["attempts"] < ctx.settings.family_mail_attempts,
        }
        for r in rows
    ]


async def notice_letter(uows: Uows, ctx: Parcours, who: Principal, notice_id: uuid.UUID) -> bytes:
    """A notice's letter to print, in the guardian's language; the reading is logged."""
    async with uows() as uow:
        notice = await family_repository.get_notice(uow.conn, who.tenant, notice_id)
        if notice is None:
            raise NOTICE_NOT_FOUND
        await access.situation_in(uow, who, notice["situation_id"])
        content = await family_notice_delivery.letter_pdf(uow, ctx, who.tenant, notice_id)
        await uow.record_access(
            access_log.readout(
                who,
                "family_notice",
                notice_id,
                notice["situation_id"],
                ("identity.guardians",),
                access_log.FAMILY_INFORMATION,
            )
        )
    return content


async def mark_sent(uows: Uows, who: Principal, notice_id: uuid.UUID) -> None:
    """A person sent the notice (or gave up on the e-mail and sent it another way)."""
    async with uows() as uow:
        sent = await family_repository.mark_notice_sent(
            uow.conn, who.tenant, notice_id, who.sub, datetime.now().astimezone()
        )
        if sent is None:
            raise NOTICE_NOT_PENDING
        await access.situation_in(uow, who, sent["situation_id"])
