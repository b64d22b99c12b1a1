"""Notices to the family go out by themselves on the channel it chose (issue 14).

E-mail: the scheduler sends each notice in the guardian's language through parcours's own
SMTP settings (the address is read from the child's identity at send time and never
leaves parcours), retrying 1 min, 5 min, 30 min, 2 h and 6 h apart; a refusal for good, or
no address, leaves it to the référent with the reason. Post: the notice's letter is ready
to print (``letter_pdf``), queued in the référent's notices to send. SMS and phone need a
person (no gateway). Nothing but the notice's own text and the PRE's contact is written:
no staff note, no other child.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Final

from relais_parcours.adapters import documents, family_repository, mailer
from relais_parcours.adapters.documents import N_, DocumentKind
from relais_parcours.context import Parcours
from relais_parcours.service import access_log, family_notices
from relais_parcours.service.identity import identity_in
from relais_parcours.service.ports import ParcoursWork, Stores
from relais_runtime import audit
from relais_runtime.db import Conn
from relais_runtime.errors import DomainError
from relais_runtime.logging import get_logger

log = get_logger(__name__)

#: Seconds before the 2nd, 3rd… try of an e-mail notice (then the référent takes over).
BACKOFF_S: Final = (60, 300, 1800, 7200, 21600)
#: Failures no later try can mend.
FINAL: Final = frozenset({"rejected", "no_address", "no_identity"})
LEASE: Final = timedelta(minutes=5)

SUBJECT: Final = N_("Un message du PRE")
GREETING: Final = N_("Bonjour,")
CONTACT: Final = N_("Pour toute question, contactez le PRE :")
FOOTER: Final = N_(
    "Ce message est envoyé automatiquement. Pour voir ce que vous avez accepté et qui a lu "
    "quoi sur votre enfant, demandez une lettre d'accès à votre espace famille."
)


def email_text(notice_text: str, language: str, contact: Mapping[str, Any] | None) -> str:
    """The e-mail's body: the notice, the PRE's contact, why it came; in the language."""
    lines = [documents.gettext(language, GREETING), "", notice_text, ""]
    if contact:
        lines.append(documents.gettext(language, CONTACT))
        lines.extend(str(contact[k]) for k in ("name", "phone", "email") if contact.get(k))
        lines.append("")
    lines.append(documents.gettext(language, FOOTER))
    return "\n".join(lines) + "\n"


def email_message(
    ctx: Parcours, notice_id: uuid.UUID, to: str, language: str, body: str
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = ctx.settings.family_mail_from
    message["To"] = to
    message["Subject"] = documents.gettext(language, SUBJECT)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = f"<{notice_id}@relais.parcours>"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    message.set_content(body)
    message["Content-Language"] = language  # after set_content, which resets Content-*
    return message


async def _guardian(uow: Stores, ctx: Parcours, notice: Any) -> dict[str, Any] | None:
    situation = await uow.situations.get(notice["pre_id"], notice["situation_id"])
    identity = await identity_in(uow, ctx, situation) if situation is not None else None
    guardians = (identity or {}).get("guardians") or []
    if not 0 <= notice["guardian_index"] < len(guardians):
        return None
    guardian: dict[str, Any] = guardians[notice["guardian_index"]]
    return guardian


async def mail_due_notices(ctx: Parcours, now: datetime | None = None, batch: int = 20) -> int:
    """Send the e-mail notices due a try; returns how many went out. The due ones are
    claimed in a sweep across PREs (ADR 0018), each then read and marked in a unit scoped
    to its PRE (``ctx.units``), the e-mail sent between the two."""
    now = now or datetime.now(UTC)
    async with ctx.units.sweep()() as uow:
        due = await family_repository.claim_notices_to_mail(
            uow.conn, now, now + LEASE, ctx.settings.family_mail_attempts, batch
        )
    sent = 0
    for notice in due:
        async with ctx.units.scoped(notice["pre_id"])() as uow:
            guardian = await _guardian(uow, ctx, notice)
            contact = await family_repository.family_contact(uow.conn, notice["pre_id"])
            if guardian is not None:
                await uow.record_access(
                    access_log.readout(
                        audit.system_actor("parcours", notice["pre_id"]),
                        "family_notice",
                        notice["id"],
                        notice["situation_id"],
                        ("identity.guardians",),
                        access_log.FAMILY_INFORMATION,
                    )
                )
        address = (guardian or {}).get("email")
        if guardian is None:
            failure: str | None = "no_identity"
        elif not address:
            failure = "no_address"
        else:
            language = notice["language"]
            text = family_notices.text(notice["kind"], language, notice["facts"])
            body = email_text(text, language, contact)
            failure = await mailer.send(
                ctx.settings, email_message(ctx, notice["id"], str(address), language, body)
            )
        async with ctx.units.scoped(notice["pre_id"])() as uow:
            if failure is None:
                await family_repository.notice_mailed(
                    uow.conn, notice["pre_id"], notice["id"], datetime.now(UTC)
                )
                sent += 1
            else:
                await _failed(uow.conn, ctx, notice, failure)
        log.info(
            "family notice mailed" if failure is None else "family notice not mailed",
            notice_id=str(notice["id"]),
            kind=notice["kind"],
            failure=failure,
        )
    return sent


async def _failed(conn: Conn, ctx: Parcours, notice: Any, failure: str) -> None:
    limit = ctx.settings.family_mail_attempts
    attempts = limit if failure in FINAL else notice["attempts"] + 1
    next_try = None
    if attempts < limit:
        delay = BACKOFF_S[min(attempts - 1, len(BACKOFF_S) - 1)]
        next_try = datetime.now(UTC) + timedelta(seconds=delay)
    await family_repository.notice_mail_failed(
        conn, notice["pre_id"], notice["id"], failure, attempts, next_try
    )


async def letter_pdf(uow: ParcoursWork, ctx: Parcours, tenant: str, notice_id: uuid.UUID) -> bytes:
    """A post notice's letter, in the guardian's language, for a window envelope."""
    conn = uow.conn  # the notices have no store yet
    notice = await family_repository.get_notice(conn, tenant, notice_id)
    if notice is None:
        raise DomainError("notice_not_found", "Avis introuvable.", 404)
    situation = await uow.situations.get(tenant, notice["situation_id"])
    identity = await identity_in(uow, ctx, situation) if situation is not None else None
    guardians = (identity or {}).get("guardians") or []
    if not 0 <= notice["guardian_index"] < len(guardians):
        raise DomainError("guardian_not_found", "Responsable introuvable.", 404)
    guardian = guardians[notice["guardian_index"]]
    language = notice["language"]
    return documents.render_pdf(
        DocumentKind.NOTICE_LETTER,
        language,
        {
            "guardian_name": f"{guardian.get('first_name', '')} {guardian.get('last_name', '')}",
            "address": guardian.get("address"),
            "text": family_notices.text(notice["kind"], language, notice["facts"]),
            "contact": await family_repository.family_contact(conn, tenant),
        },
    )
