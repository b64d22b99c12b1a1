"""A partner keeps its own directory entry; the coordination validates before it is published.

Parcours holds the rules (``/v1/partners/{id}/changes``, ``/v1/directory/changes``): a
partner proposes its presentation, contacts and waiting times, each proposal starting from
the one already waiting; the coordination compares it with the published entry and
approves it (published at once) or rejects it with a reason the partner reads.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from relais_web.api import ApiError
from relais_web.forms.values import FormValues, text
from relais_web.pages.common import apis, render, render_form, see_other, uuid_or_404
from relais_web.session import Form, SignedIn, require_role

router = APIRouter(include_in_schema=False)
Partner = require_role("partner")
Manager = require_role("coordinator", "admin")

#: What a partner edits of its presentation (name and type are the PRE's to set).
PRESENTATION = ("description", "website", "email")
#: The entry's parts, as parcours names them in a proposal, and how people call them.
PARTS: dict[str, str] = {
    "name": "Nom",
    "category": "Type",
    "description": "Présentation",
    "website": "Site internet",
    "email": "E-mail",
    "services": "Services et délais d'attente",
    "locations": "Lieux et horaires",
    "contacts": "Contacts",
}
CHANGE_STATUS: dict[str, str] = {
    "pending": "En attente de validation par le PRE",
    "approved": "Validée et publiée",
    "rejected": "Refusée",
    "superseded": "Remplacée par une proposition plus récente",
}


def wait_label(service: dict[str, Any]) -> str:
    """« 6 semaines (42 jours) », « 42 jours », or « non indiqué »."""
    stated, days = service.get("wait_time"), service.get("wait_time_days")
    if stated and days is not None:
        return f"{stated} ({days} jours)"
    if stated:
        return str(stated)
    return f"{days} jours" if days is not None else "non indiqué"


def _location_line(loc: dict[str, Any]) -> str:
    addresses = [f"{a['address_1']}, {a['postal_code']} {a['city']}" for a in loc["addresses"]]
    hours = [
        f"{' '.join(s['byday'])} {s['opens_at']}–{s['closes_at']}"
        for s in loc.get("schedules") or []
    ]
    return ", ".join([loc.get("name") or loc["id"], *addresses, *hours])


def _summaries(part: str, entry: dict[str, Any]) -> dict[str, str]:
    """One line per item of a listed part, by its id; a single line for a plain field."""
    if part == "services":
        return {
            s["id"]: f"{s['name']} — attente : {wait_label(s)}"
            + ("" if s.get("status", "active") == "active" else f" ({s['status']})")
            for s in entry.get("services") or []
        }
    if part == "locations":
        return {loc["id"]: _location_line(loc) for loc in entry.get("locations") or []}
    if part == "contacts":
        return {
            c["id"]: " · ".join(str(c[k]) for k in ("name", "title", "email") if c.get(k))
            or c["id"]
            for c in entry.get("contacts") or []
        }
    value = entry.get(part)
    return {part: str(value) if value not in (None, "") else "—"}


def differences(
    parts: list[str], published: dict[str, Any], proposed: dict[str, Any]
) -> list[tuple[str, str, str]]:
    """Rows (part label, published, proposed) for what a proposal changes, item by item."""
    rows: list[tuple[str, str, str]] = []
    for part in parts:
        before, after = _summaries(part, published), _summaries(part, proposed)
        for key in [*before, *(k for k in after if k not in before)]:
            old, new = before.get(key, "—"), after.get(key, "—")
            if old != new:
                rows.append((PARTS.get(part, part), old, new))
    return rows


# --- the partner ----------------------------------------------------------------------------


async def _own_entry_page(
    request: Request,
    person: SignedIn,
    *,
    failed: str = "",
    values: FormValues | None = None,
    error: ApiError | None = None,
    sent: bool = False,
) -> Response:
    api = apis(request)
    entry = await api.get(person, "parcours", f"/v1/partners/{person.org}")
    changes = await api.get(person, "parcours", f"/v1/partners/{person.org}/changes", {"limit": 20})
    pending = next((c for c in changes if c["status"] == "pending"), None)
    # A proposal starts from the one waiting: the forms show what it would publish.
    base = pending["proposed"] if pending else entry
    return render_form(
        request,
        "directory/own_entry.html",
        person,
        error,
        active="entry",
        entry=entry,
        base=base,
        pending=pending,
        pending_rows=differences(pending["parts"], entry, pending["proposed"]) if pending else [],
        history=[c for c in changes if c["status"] != "pending"],
        failed=failed,
        values=values,
        sent=sent,
        wait_label=wait_label,
        PARTS=PARTS,
        CHANGE_STATUS=CHANGE_STATUS,
    )


@router.get("/relais/annuaire")
async def own_entry(request: Request, envoye: str = "", person: SignedIn = Partner) -> Response:
    """The partner's entry as référents see it, what it proposed and what became of it."""
    return await _own_entry_page(request, person, sent=envoye == "1")


def _presentation_body(form: FormValues) -> dict[str, Any]:
    # Every field is sent: one emptied is removed from the entry (a field left out would
    # keep its value).
    return {key: text(form, key) or None for key in PRESENTATION}


@router.post("/relais/annuaire/presentation")
async def propose_presentation(
    request: Request, form: Form, person: SignedIn = Partner
) -> Response:
    try:
        await apis(request).call(
            person,
            "POST",
            "parcours",
            f"/v1/partners/{person.org}/changes",
            json=_presentation_body(form),
        )
    except ApiError as error:
        return await _own_entry_page(
            request, person, failed="presentation", values=form, error=error
        )
    return see_other("/relais/annuaire?envoye=1")


def _wait_body(form: FormValues) -> dict[str, Any]:
    days = text(form, "wait_time_days")
    return {
        "wait_time": text(form, "wait_time") or None,
        # A number the API checks (and explains in French when it is not one).
        "wait_time_days": (int(days) if days.isdecimal() else days) if days else None,
    }


@router.post("/relais/annuaire/services/{service_id}/attente")
async def propose_wait_time(
    request: Request, service_id: str, form: Form, person: SignedIn = Partner
) -> Response:
    try:
        await apis(request).call(
            person,
            "PUT",
            "parcours",
            f"/v1/partners/{person.org}/services/{service_id}/wait-time",
            json=_wait_body(form),
        )
    except ApiError as error:
        return await _own_entry_page(
            request, person, failed=f"service-{service_id}", values=form, error=error
        )
    return see_other("/relais/annuaire?envoye=1")


# --- the coordination -----------------------------------------------------------------------


@router.get("/annuaires/propositions")
async def proposals(request: Request, fait: str = "", person: SignedIn = Manager) -> Response:
    api = apis(request)
    pending = await api.get(person, "parcours", "/v1/directory/changes", {"status": "pending"})
    partners = await api.get(person, "parcours", "/v1/partners", {"limit": 500})
    names = {p["id"]: p["name"] for p in partners}
    return render(
        request,
        "directory/proposals.html",
        person,
        active="directories",
        pending=pending,
        names=names,
        done=fait,
        PARTS=PARTS,
    )


async def _proposal_page(
    request: Request,
    person: SignedIn,
    change_id: str,
    *,
    values: FormValues | None = None,
    error: ApiError | None = None,
) -> Response:
    change = await apis(request).get(person, "parcours", f"/v1/directory/changes/{change_id}")
    return render_form(
        request,
        "directory/proposal.html",
        person,
        error,
        active="directories",
        change=change,
        rows=differences(change["parts"], change["published"], change["proposed"]),
        values=values,
        CHANGE_STATUS=CHANGE_STATUS,
    )


@router.get("/annuaires/propositions/{change_id}")
async def proposal(request: Request, change_id: str, person: SignedIn = Manager) -> Response:
    return await _proposal_page(request, person, uuid_or_404(change_id))


@router.post("/annuaires/propositions/{change_id}/decision")
async def decide(
    request: Request, change_id: str, form: Form, person: SignedIn = Manager
) -> Response:
    change_id = uuid_or_404(change_id)
    approve = text(form, "decision") == "approve"
    try:
        await apis(request).call(
            person,
            "POST",
            "parcours",
            f"/v1/directory/changes/{change_id}/{'approval' if approve else 'rejection'}",
            json=None if approve else {"reason": text(form, "reason")},
        )
    except ApiError as error:
        return await _proposal_page(request, person, change_id, values=form, error=error)
    return see_other(f"/annuaires/propositions?fait={'validee' if approve else 'refusee'}")
