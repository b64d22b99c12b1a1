"""The coordination answers the families' requests (correction, erasure of their data,
RGPD art. 16 and 17) within the legal month (art. 12.3), from parcours' list (ADR 0012).

The API keeps one French answer the family reads in its space: the page puts the
decision (accepted, refused) at its head, then the reason the coordinator writes.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from relais_web.api import ApiError, Apis
from relais_web.forms.values import FormValues, text
from relais_web.pages.common import apis, field_errors, form_status, render, see_other, uuid_or_404
from relais_web.pages.coordinator import Coordinator, today
from relais_web.session import Form, NotFoundError, SignedIn

router = APIRouter(prefix="/coordination/demandes-des-familles", include_in_schema=False)

KINDS = {"correction": "Rectification", "erasure": "Effacement"}
STATUSES = {"open": "à répondre", "answered": "répondue"}
#: The head of the answer the family reads, per decision.
OUTCOMES = {"accept": "Demande acceptée.", "refuse": "Demande refusée."}
OUTCOME_CHOICES = [("accept", "Accepter la demande"), ("refuse", "Refuser la demande")]
NO_OUTCOME = "Choisissez : accepter ou refuser la demande."


def request_lines(items: list[dict[str, Any]], now: date) -> list[dict[str, Any]]:
    """Open requests first, the overdue ones at the top then by deadline; answered last,
    the latest answer first."""
    lines = [
        {
            **item,
            "days_left": (date.fromisoformat(item["due_on"]) - now).days,
            "overdue": item["status"] == "open" and date.fromisoformat(item["due_on"]) < now,
        }
        for item in items
    ]
    open_ = sorted(
        (line for line in lines if line["status"] == "open"),
        key=lambda line: (not line["overdue"], line["due_on"], line["made_at"]),
    )
    answered = sorted(
        (line for line in lines if line["status"] != "open"),
        key=lambda line: str(line.get("answered_at") or ""),
        reverse=True,
    )
    return open_ + answered


def answer_text(form: FormValues) -> str | None:
    """The answer sent to the API; None without a decision. Without a reason the API is
    sent an empty answer so that its own French refusal comes back beside the field."""
    outcome = OUTCOMES.get(text(form, "outcome"))
    if outcome is None:
        return None
    reason = text(form, "answer")
    return f"{outcome} {reason}" if reason else ""


async def _all_requests(api: Apis, person: SignedIn) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await api.get(
        person, "parcours", "/v1/family-requests", {"limit": 500}
    )
    return found


@router.get("")
async def family_requests(request: Request, person: SignedIn = Coordinator) -> Response:
    lines = request_lines(await _all_requests(apis(request), person), today())
    return render(
        request,
        "coordinator/family_requests.html",
        person,
        active="family_requests",
        lines=lines,
        kinds=KINDS,
        statuses=STATUSES,
    )


async def _answer_page(
    request: Request,
    person: SignedIn,
    request_id: str,
    *,
    values: FormValues | None = None,
    errors: dict[str, str] | None = None,
    error: ApiError | None = None,
    status_code: int = 200,
) -> Response:
    found = [r for r in await _all_requests(apis(request), person) if r["id"] == request_id]
    if not found:
        raise NotFoundError
    return render(
        request,
        "coordinator/family_request.html",
        person,
        status_code=status_code,
        active="family_requests",
        line=request_lines(found, today())[0],
        kinds=KINDS,
        statuses=STATUSES,
        outcomes=OUTCOME_CHOICES,
        values=values or {},
        errors=errors or {},
        error=error,
    )


@router.get("/{request_id}")
async def answer_form(
    request: Request, request_id: str, person: SignedIn = Coordinator
) -> Response:
    return await _answer_page(request, person, uuid_or_404(request_id))


@router.post("/{request_id}")
async def answer(
    request: Request, request_id: str, form: Form, person: SignedIn = Coordinator
) -> Response:
    request_id = uuid_or_404(request_id)
    body = answer_text(form)
    if body is None:
        return await _answer_page(
            request,
            person,
            request_id,
            values=form,
            errors={"outcome": NO_OUTCOME},
            status_code=422,
        )
    try:
        await apis(request).call(
            person,
            "POST",
            "parcours",
            f"/v1/family-requests/{request_id}/answer",
            json={"answer": body},
        )
    except ApiError as error:
        return await _answer_page(
            request,
            person,
            request_id,
            values=form,
            errors=field_errors(error),
            error=error,
            status_code=form_status(error),
        )
    return see_other("/coordination/demandes-des-familles")
