"""The family's documents: what each one prints, from the family's own view.

Every document is built from :class:`FamilyView` (what the family may see) and nothing
else: no staff note, no handover message, no partner outside the consent.
"""

from __future__ import annotations

import uuid
from typing import Any

from relais_parcours.adapters import documents
from relais_parcours.adapters.documents import DocumentKind
from relais_parcours.context import Parcours
from relais_parcours.service import access, access_log
from relais_parcours.service.family_access import IssuedLetter
from relais_parcours.service.family_space import FamilyView, read_view
from relais_parcours.service.ports import Uows
from relais_runtime.auth import Principal


def _name(guardian: dict[str, Any]) -> str:
    return " ".join(str(guardian.get(k) or "") for k in ("first_name", "last_name")).strip()


def context(view: FamilyView, kind: DocumentKind) -> dict[str, Any]:
    lang = view.language

    def t(message: str) -> str:
        return documents.gettext(lang, message)

    common: dict[str, Any] = {
        "contact": view.pre_contact,
        "guardian_name": _name(view.guardian),
        "child_first_name": view.child_first_name or "",
        "referent": view.referent_first_name,
        # Lists of words: Arabic has its own comma.
        "sep": "، " if lang == "ar" else ", ",
    }
    if kind is DocumentKind.CONSENT_FORM:
        consent = view.consent or {}
        common["child_name"] = view.child_first_name or ""
        common["partners"] = [
            {
                "name": p["name"],
                "categories": [t(documents.CATEGORIES[c]) for c in p["data_categories"]],
            }
            for p in consent.get("partners", [])
        ]
        valid_until = consent.get("valid_until")
        common["valid_until"] = documents.long_date(valid_until, lang) if valid_until else None
    elif kind is DocumentKind.LEDGER:
        common["ledger"] = [
            {
                "when": documents.long_date(line["read_at"], lang),
                "partner": line["partner_name"],
                "categories": [t(documents.CATEGORIES[c]) for c in line["data_categories"]],
            }
            for line in view.ledger
        ]
    elif kind is DocumentKind.PLAN:
        axes: dict[str, dict[str, Any]] = {}
        for objective in view.plan:
            axis = axes.setdefault(
                objective["axis"],
                {"label": t(documents.AXES[objective["axis"]]), "objectives": []},
            )
            axis["objectives"].append(
                {
                    "title": objective["title"],
                    "status": t(documents.STATUSES[objective["status"]]),
                    "actions": [
                        {"title": a["title"], "status": t(documents.STATUSES[a["status"]])}
                        for a in objective["actions"]
                    ],
                }
            )
        common["axes"] = list(axes.values())
        due = view.followup_due_on
        common["followup_on"] = documents.long_date(due, lang) if due else None
    return common


def access_letter_pdf(view: FamilyView, letter: IssuedLetter) -> bytes:
    values = context(view, DocumentKind.ACCESS_LETTER)
    values.update(
        link=letter.link,
        code=letter.code,
        expires_on=documents.long_date(letter.expires_at, view.language),
    )
    return documents.render_pdf(DocumentKind.ACCESS_LETTER, view.language, values)


async def staff_view(
    uows: Uows,
    ctx: Parcours,
    who: Principal,
    situation_id: uuid.UUID,
    guardian_index: int,
) -> FamilyView:
    async with uows() as uow:
        situation = await access.situation_in(uow, who, situation_id)
        view = await read_view(uow, ctx, situation, guardian_index)
        await uow.record_access(
            access_log.readout(
                who,
                "family_document",
                situation_id,
                situation_id,
                access_log.FAMILY_VIEW_GROUPS,
                access_log.FAMILY_INFORMATION,
            )
        )
        return view


def document_pdf(view: FamilyView, kind: DocumentKind) -> bytes:
    if kind is DocumentKind.ACCESS_LETTER:
        raise ValueError("an access letter is printed once, when it is issued")
    return documents.render_pdf(kind, view.language, context(view, kind))
