"""Coordinator pages: the inbox, team meetings (EPS) and their decisions, référents."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response

from relais_web.api import ApiError, Apis
from relais_web.forms.values import FormValues, many, put, text
from relais_web.pages.common import apis, field_errors, render, render_form, see_other, uuid_or_404
from relais_web.session import Form, SignedIn, require_role

router = APIRouter(prefix="/coordination", include_in_schema=False)
Coordinator = require_role("coordinator")
PARIS = ZoneInfo("Europe/Paris")


def today() -> date:
    return datetime.now(PARIS).date()


def inbox_lines(items: list[dict[str, Any]], institutions: dict[str, str]) -> list[dict[str, Any]]:
    """Each situation awaiting review with its days waiting; the overdue ones first."""
    now = today()
    lines = []
    for item in items:
        opened = datetime.fromisoformat(item["opened_at"]).astimezone(PARIS).date()
        due = date.fromisoformat(item["review_due_on"])
        lines.append(
            {
                **item,
                "days_waiting": (now - opened).days,
                "overdue": due < now,
                "senders": [institutions.get(i, i) for i in item["institution_ids"]],
            }
        )
    return sorted(lines, key=lambda line: (not line["overdue"], line["opened_at"]))


async def institution_names(api: Apis, person: SignedIn) -> dict[str, str]:
    page = await api.get(person, "referral", "/v1/institutions", {"limit": 200})
    return {i["id"]: i["name"] for i in page["items"]}


async def awaiting(api: Apis, person: SignedIn) -> list[dict[str, Any]]:
    page = await api.get(
        person, "parcours", "/v1/situations", {"stage": "awaiting_review", "limit": 200}
    )
    return inbox_lines(page["items"], await institution_names(api, person))


@router.get("/a-examiner")
async def inbox(request: Request, person: SignedIn = Coordinator) -> Response:
    lines = await awaiting(apis(request), person)
    return render(request, "coordinator/inbox.html", person, active="inbox", lines=lines)


# -- team meetings (EPS) -----------------------------------------------------------------


def attendees(value: str) -> list[dict[str, str]]:
    """One attendee a line: ``Nom, organisation, fonction`` (the function may be left out)."""
    people = []
    for line in value.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if not any(parts):
            continue
        person: dict[str, str] = {}
        for key, part in zip(("name", "organisation", "role"), parts, strict=False):
            put(person, key, part)
        people.append(person)
    return people


def collapse(errors: dict[str, str], *prefixes: str) -> dict[str, str]:
    """List items' errors (``attendees.1.organisation``) shown at their list's field."""
    out = dict(errors)
    for field, message in errors.items():
        for prefix in prefixes:
            if field.startswith(f"{prefix}."):
                out.setdefault(prefix, message)
    return out


async def _meetings_page(
    request: Request,
    person: SignedIn,
    *,
    values: FormValues | None = None,
    error: ApiError | None = None,
) -> Response:
    api = apis(request)
    meetings = await api.get(person, "parcours", "/v1/reviews", {"limit": 50})
    return render_form(
        request,
        "coordinator/meetings.html",
        person,
        error,
        active="meetings",
        meetings=meetings,
        lines=await awaiting(api, person),
        values=values or {"meets_on": today().isoformat(), "idempotency_key": str(uuid.uuid4())},
        errors=collapse(field_errors(error), "attendees", "situation_ids"),
    )


@router.get("/reunions")
async def meetings(request: Request, person: SignedIn = Coordinator) -> Response:
    return await _meetings_page(request, person)


@router.post("/reunions")
async def plan_meeting(request: Request, form: Form, person: SignedIn = Coordinator) -> Response:
    body: dict[str, Any] = {
        "attendees": attendees(text(form, "attendees")),
        "situation_ids": many(form, "situation_ids"),
    }
    put(body, "meets_on", text(form, "meets_on"))
    try:
        created = await apis(request).call(
            person,
            "POST",
            "parcours",
            "/v1/reviews",
            json=body,
            idempotency_key=text(form, "idempotency_key") or None,
        )
    except ApiError as error:
        return await _meetings_page(request, person, values=form, error=error)
    return see_other(f"/coordination/reunions/{created['id']}")


async def _meeting_page(
    request: Request,
    person: SignedIn,
    meeting_id: str,
    *,
    situation_id: str = "",
    values: FormValues | None = None,
    error: ApiError | None = None,
) -> Response:
    api = apis(request)
    meeting = await api.get(person, "parcours", f"/v1/reviews/{meeting_id}")
    facts = {line["id"]: line for line in await awaiting(api, person)}
    return render_form(
        request,
        "coordinator/meeting.html",
        person,
        error,
        active="meetings",
        meeting=meeting,
        facts=facts,
        failed_situation=situation_id,
        values=values,
    )


@router.get("/reunions/{meeting_id}")
async def meeting(request: Request, meeting_id: str, person: SignedIn = Coordinator) -> Response:
    return await _meeting_page(request, person, uuid_or_404(meeting_id))


def decision_body(form: FormValues) -> dict[str, Any]:
    """Only the fields that go with the chosen decision are sent (the API refuses others)."""
    decision = text(form, "decision")
    body: dict[str, Any] = {"situation_id": text(form, "situation_id")}
    put(body, "decision", decision)
    put(body, "note", text(form, "note"))
    if decision == "take_up":
        put(body, "axes", many(form, "axes"))
    elif decision == "decline":
        put(body, "decline_reason", text(form, "decline_reason"))
    elif decision == "redirect":
        put(body, "redirected_to", text(form, "redirected_to"))
        put(body, "redirect_category", text(form, "redirect_category"))
    return body


@router.post("/reunions/{meeting_id}/decisions")
async def decide(
    request: Request, meeting_id: str, form: Form, person: SignedIn = Coordinator
) -> Response:
    meeting_id = uuid_or_404(meeting_id)
    situation_id = uuid_or_404(text(form, "situation_id"))
    try:
        await apis(request).call(
            person,
            "POST",
            "parcours",
            f"/v1/reviews/{meeting_id}/decisions",
            json=decision_body(form),
        )
    except ApiError as error:
        return await _meeting_page(
            request, person, meeting_id, situation_id=situation_id, values=form, error=error
        )
    return see_other(f"/coordination/reunions/{meeting_id}#situation-{situation_id}")


# -- référents -----------------------------------------------------------------------------


async def _assign_page(
    request: Request,
    person: SignedIn,
    situation_id: str,
    *,
    values: FormValues | None = None,
    error: ApiError | None = None,
) -> Response:
    api = apis(request)
    referents = await api.get(person, "parcours", "/v1/referents")
    settings = await api.get(person, "parcours", "/v1/settings")
    history = await api.get(person, "parcours", f"/v1/situations/{situation_id}/referents")
    pre_limit = settings.get("caseload_limit")
    for referent in referents:
        limit = referent.get("caseload_limit") or pre_limit
        referent["limit"] = limit
        referent["full"] = limit is not None and referent["caseload"] >= limit
    return render_form(
        request,
        "coordinator/assign.html",
        person,
        error,
        active="referents",
        situation_id=situation_id,
        referents=[r for r in referents if r.get("active", True)],
        history=history,
        values=values,
    )


@router.get("/situations/{situation_id}/referent")
async def assign_form(
    request: Request, situation_id: str, person: SignedIn = Coordinator
) -> Response:
    return await _assign_page(request, person, uuid_or_404(situation_id))


@router.post("/situations/{situation_id}/referent")
async def assign(
    request: Request, situation_id: str, form: Form, person: SignedIn = Coordinator
) -> Response:
    situation_id = uuid_or_404(situation_id)
    body: dict[str, Any] = {}
    put(body, "referent_id", text(form, "referent_id"))
    put(body, "override_reason", text(form, "override_reason"))
    try:
        await apis(request).call(
            person, "PUT", "parcours", f"/v1/situations/{situation_id}/referent", json=body
        )
    except ApiError as error:
        return await _assign_page(request, person, situation_id, values=form, error=error)
    return see_other(f"/situations/{situation_id}")


@router.get("/referents")
async def referents(request: Request, person: SignedIn = Coordinator) -> Response:
    api = apis(request)
    people = await api.get(person, "parcours", "/v1/referents")
    settings = await api.get(person, "parcours", "/v1/settings")
    return render(
        request,
        "coordinator/referents.html",
        person,
        active="referents",
        referents=people,
        pre_limit=settings.get("caseload_limit"),
    )
