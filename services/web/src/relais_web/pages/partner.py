"""Partner pages: the handovers to answer, each answer, the consent-scoped sheet."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from relais_web.api import ApiError
from relais_web.forms.values import FormValues, put, text
from relais_web.pages.common import apis, render, render_form, see_other, uuid_or_404
from relais_web.session import Form, SignedIn, require_role

router = APIRouter(prefix="/relais", include_in_schema=False)
Partner = require_role("partner")

TO_ANSWER = ("requested", "waitlisted")
#: Each answer: the API's path and the one field its body may carry.
ANSWERS: dict[str, tuple[str, str]] = {
    "accept": ("acceptance", "starts_on"),
    "waitlist": ("waitlisting", "expected_start_on"),
    "decline": ("refusal", "reason"),
    "complete": ("completion", "outcome"),
}


@router.get("")
async def handovers(request: Request, person: SignedIn = Partner) -> Response:
    page = await apis(request).get(person, "parcours", "/v1/handovers", {"limit": 200})
    items = page["items"]
    return render(
        request,
        "partner/list.html",
        person,
        active="relais",
        to_answer=[h for h in items if h["status"] in TO_ANSWER],
        ongoing=[h for h in items if h["status"] == "accepted"],
        ended=[h for h in items if h["status"] not in (*TO_ANSWER, "accepted")],
    )


async def _handover_page(
    request: Request,
    person: SignedIn,
    handover_id: str,
    *,
    failed: str = "",
    values: FormValues | None = None,
    error: ApiError | None = None,
) -> Response:
    handover = await apis(request).get(person, "parcours", f"/v1/handovers/{handover_id}")
    return render_form(
        request,
        "partner/handover.html",
        person,
        error,
        active="relais",
        h=handover,
        failed=failed,
        values=values,
    )


@router.get("/{handover_id}")
async def handover(request: Request, handover_id: str, person: SignedIn = Partner) -> Response:
    return await _handover_page(request, person, uuid_or_404(handover_id))


def answer_body(answer: str, form: FormValues) -> dict[str, Any]:
    body: dict[str, Any] = {}
    put(body, ANSWERS[answer][1], text(form, ANSWERS[answer][1]))
    return body


@router.post("/{handover_id}/reponse")
async def answer(
    request: Request, handover_id: str, form: Form, person: SignedIn = Partner
) -> Response:
    handover_id = uuid_or_404(handover_id)
    chosen = text(form, "answer")
    if chosen not in ANSWERS:
        return await _handover_page(request, person, handover_id)
    try:
        await apis(request).call(
            person,
            "POST",
            "parcours",
            f"/v1/handovers/{handover_id}/{ANSWERS[chosen][0]}",
            json=answer_body(chosen, form),
        )
    except ApiError as error:
        return await _handover_page(
            request, person, handover_id, failed=chosen, values=form, error=error
        )
    if chosen == "accept":
        return see_other(f"/relais/{handover_id}/fiche")
    return see_other(f"/relais/{handover_id}")


@router.get("/{handover_id}/fiche")
async def sheet(request: Request, handover_id: str, person: SignedIn = Partner) -> Response:
    """Only what the family's consent in force allows; each reading is in the family's ledger."""
    handover_id = uuid_or_404(handover_id)
    content = await apis(request).get(person, "parcours", f"/v1/handovers/{handover_id}/sheet")
    return render(request, "partner/sheet.html", person, active="relais", sheet=content)
