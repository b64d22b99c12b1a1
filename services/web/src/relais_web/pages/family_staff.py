"""The référent's side of the family's door: access letters per guardian (print, revoke),
the family's documents to print, and what the family changed itself (staff pages, French).

A letter's link and code exist once, in the PDF this page hands over (ADR 0012): the
page never shows them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from relais_web.api import ApiError
from relais_web.forms.values import text
from relais_web.labels import RELATIONSHIP
from relais_web.pages.common import apis, render, see_other, uuid_or_404
from relais_web.session import Form, NotFoundError, SignedIn, require_role

router = APIRouter(include_in_schema=False)
Team = require_role("referent", "coordinator")

LETTER_STATUS = {
    "usable": "à utiliser",
    "used": "utilisée (espace ouvert)",
    "expired": "expirée",
    "revoked": "annulée",
}
DOCUMENTS = {
    "consent_form": "Formulaire d'accord à signer",
    "ledger": "Registre : qui a lu quoi",
    "plan": "Le plan en bref",
}
CHANNELS = {"post": "courrier", "email": "e-mail", "sms": "SMS", "phone": "téléphone"}
FAILURES = {
    "rejected": "adresse refusée par le serveur de messagerie",
    "no_address": "pas d'adresse e-mail",
    "timeout": "serveur de messagerie trop lent",
    "connection_error": "serveur de messagerie injoignable",
    "refused_for_now": "refus temporaire du serveur de messagerie",
    "no_identity": "identité illisible",
}
#: Who recorded a consent, when it was the family from its space (ADR 0012).
FAMILY_PREFIX = "letter:"


def changes_by_family(
    consents: list[dict[str, Any]], partners: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """What the family withdrew from its space, newest first: the whole consent, or some
    partners (a narrower consent it recorded, replacing the previous one)."""
    by_id = {c["id"]: c for c in consents}
    changes = []
    for c in consents:
        if str(c.get("withdrawn_by") or "").startswith(FAMILY_PREFIX):
            changes.append({"at": c["ended_at"], "whole": True, "partners": []})
        before = by_id.get(c.get("supersedes"))
        if str(c.get("recorded_by", "")).startswith(FAMILY_PREFIX) and before is not None:
            gone = [
                p["name"]
                for p in partners
                if _covers(before["scope"], p) and not _covers(c["scope"], p)
            ]
            changes.append({"at": c["given_at"], "whole": False, "partners": gone})
    return sorted(changes, key=lambda change: str(change["at"]), reverse=True)


def _covers(scope: list[dict[str, Any]], partner: dict[str, Any]) -> bool:
    return any(
        e.get("partner_id") == partner["id"] or e.get("partner_category") == partner["category"]
        for e in scope
    )


def guardian_lines(identity: dict[str, Any] | None) -> list[dict[str, Any]]:
    relationship = dict(RELATIONSHIP)
    return [
        {
            "index": i,
            "label": relationship.get(g.get("relationship", ""), "Responsable"),
            "name": f"{g.get('first_name', '')} {g.get('last_name', '')}".strip(),
            "interpreter_needed": bool(g.get("interpreter_needed")),
            "languages": g.get("languages") or [],
        }
        for i, g in enumerate((identity or {}).get("guardians") or [])
    ]


async def family_page(
    request: Request, person: SignedIn, situation_id: str, error: ApiError | None = None
) -> Response:
    api = apis(request)
    situation = await api.get(person, "parcours", f"/v1/situations/{situation_id}")
    letters = await api.get(person, "parcours", f"/v1/situations/{situation_id}/family-letters")
    consents = await api.get(person, "parcours", f"/v1/situations/{situation_id}/consents")
    partners = await api.get(person, "parcours", "/v1/partners")
    pending = await api.get(person, "parcours", "/v1/family-notices", {"limit": 500})
    identity = next(
        (r["identity"] for r in reversed(situation["referrals"]) if r.get("identity")), None
    )
    return render(
        request,
        "referent/family.html",
        person,
        status_code=error.status if error else 200,
        active="situations",
        s=situation,
        guardians=guardian_lines(identity),
        letters=sorted(letters, key=lambda letter: str(letter["created_at"]), reverse=True),
        letter_status=LETTER_STATUS,
        documents=DOCUMENTS,
        changes=changes_by_family(consents, partners),
        notices=[n for n in pending if n["situation_id"] == situation_id],
        channels=CHANNELS,
        failures=FAILURES,
        error=error,
    )


@router.get("/situations/{situation_id}/famille")
async def family(request: Request, situation_id: str, person: SignedIn = Team) -> Response:
    return await family_page(request, person, uuid_or_404(situation_id))


def _pdf(content: bytes, name: str) -> Response:
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
    )


@router.post("/situations/{situation_id}/famille/lettres")
async def print_letter(
    request: Request, situation_id: str, form: Form, person: SignedIn = Team
) -> Response:
    """A new letter for one guardian (its earlier letters stop working), as a PDF."""
    situation_id = uuid_or_404(situation_id)
    try:
        guardian = int(text(form, "guardian"))
    except ValueError:
        raise NotFoundError from None
    try:
        content = await apis(request).call(
            person,
            "POST",
            "parcours",
            f"/v1/situations/{situation_id}/family-letters",
            json={"guardian": guardian},
            accept="application/pdf",
        )
    except ApiError as error:
        return await family_page(request, person, situation_id, error)
    return _pdf(content, f"lettre-acces-{guardian + 1}")


@router.post("/situations/{situation_id}/famille/lettres/{letter_id}/annulation")
async def revoke_letter(
    request: Request, situation_id: str, letter_id: str, form: Form, person: SignedIn = Team
) -> Response:
    situation_id, letter_id = uuid_or_404(situation_id), uuid_or_404(letter_id)
    try:
        await apis(request).call(
            person,
            "POST",
            "parcours",
            f"/v1/situations/{situation_id}/family-letters/{letter_id}/revocation",
        )
    except ApiError as error:
        return await family_page(request, person, situation_id, error)
    return see_other(f"/situations/{situation_id}/famille#lettres")


@router.get("/situations/{situation_id}/famille/avis/{notice_id}/courrier")
async def notice_letter(
    request: Request, situation_id: str, notice_id: str, person: SignedIn = Team
) -> Response:
    """A post notice's letter, in the guardian's language, to print and post."""
    uuid_or_404(situation_id)
    content = await apis(request).call(
        person,
        "GET",
        "parcours",
        f"/v1/family-notices/{uuid_or_404(notice_id)}/letter",
        accept="application/pdf",
    )
    return _pdf(content, "avis-famille")


@router.post("/situations/{situation_id}/famille/avis/{notice_id}/transmis")
async def notice_sent(
    request: Request, situation_id: str, notice_id: str, form: Form, person: SignedIn = Team
) -> Response:
    situation_id, notice_id = uuid_or_404(situation_id), uuid_or_404(notice_id)
    try:
        await apis(request).call(person, "POST", "parcours", f"/v1/family-notices/{notice_id}/sent")
    except ApiError as error:
        return await family_page(request, person, situation_id, error)
    return see_other(f"/situations/{situation_id}/famille#avis")


@router.get("/situations/{situation_id}/famille/documents/{kind}")
async def document(
    request: Request, situation_id: str, kind: str, guardian: int = 0, person: SignedIn = Team
) -> Response:
    situation_id = uuid_or_404(situation_id)
    if kind not in DOCUMENTS or not 0 <= guardian <= 3:
        raise NotFoundError
    content = await apis(request).call(
        person,
        "GET",
        "parcours",
        f"/v1/situations/{situation_id}/family-documents/{kind}",
        params={"guardian": guardian},
        accept="application/pdf",
    )
    return _pdf(content, kind)
