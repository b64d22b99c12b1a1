"""Closing a parcours (exit reason, final review) and the six-month follow-up."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from relais_web.forms.values import put, text, yes_no
from relais_web.pages.common import uuid_or_404
from relais_web.pages.referent import Team, post_form
from relais_web.session import Form, SignedIn

router = APIRouter(include_in_schema=False)


@router.post("/situations/{situation_id}/cloture")
async def close(
    request: Request, situation_id: str, form: Form, person: SignedIn = Team
) -> Response:
    situation_id = uuid_or_404(situation_id)
    body: dict[str, Any] = {}
    put(body, "exit_reason", text(form, "exit_reason"))
    if text(form, "exit_reason") == "other":
        put(body, "exit_reason_text", text(form, "exit_reason_text"))
    put(body, "final_review_held", yes_no(form, "final_review_held"))
    return await post_form(
        request,
        person,
        situation_id,
        "closure",
        form,
        path=f"/v1/situations/{situation_id}/closure",
        body=body,
        anchor="cloture",
    )


@router.post("/situations/{situation_id}/suivi")
async def follow_up(
    request: Request, situation_id: str, form: Form, person: SignedIn = Team
) -> Response:
    situation_id = uuid_or_404(situation_id)
    body: dict[str, Any] = {}
    put(body, "outcome", text(form, "outcome"))
    put(body, "held_on", text(form, "held_on"))
    return await post_form(
        request,
        person,
        situation_id,
        "followup",
        form,
        path=f"/v1/situations/{situation_id}/followup",
        body=body,
        anchor="cloture",
    )
