"""Institution pages: the fiche de liaison, « Mes orientations » with each timeline, withdraw."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from relais_web.api import ApiError
from relais_web.forms.referral import referral_body
from relais_web.labels import REFERRAL_STATUS
from relais_web.pages.common import apis, field_errors, form_status, render, see_other, uuid_or_404
from relais_web.session import Form, SignedIn, require_role

router = APIRouter(include_in_schema=False)
Institution = require_role("institution")


@router.get("/orientations")
async def my_referrals(
    request: Request, statut: str = "", person: SignedIn = Institution
) -> Response:
    status = statut if statut in REFERRAL_STATUS else ""
    page = await apis(request).get(
        person, "referral", "/v1/referrals", {"status": status, "limit": 200}
    )
    return render(
        request,
        "institution/list.html",
        person,
        active="orientations",
        items=page["items"],
        status=status,
    )


@router.get("/orientations/nouvelle")
async def new_referral(request: Request, person: SignedIn = Institution) -> Response:
    values = {"referrer.name": person.name, "idempotency_key": str(uuid.uuid4())}
    return render(
        request, "institution/form.html", person, active="nouvelle", values=values, errors={}
    )


@router.post("/orientations/nouvelle")
async def send_referral(request: Request, form: Form, person: SignedIn = Institution) -> Response:
    key = str(form.get("idempotency_key") or uuid.uuid4())
    try:
        created = await apis(request).call(
            person,
            "POST",
            "referral",
            "/v1/referrals",
            json=referral_body(form, person.tenant),
            idempotency_key=key,
        )
    except ApiError as error:
        return render(
            request,
            "institution/form.html",
            person,
            status_code=form_status(error),
            active="nouvelle",
            values={**form, "idempotency_key": key},
            errors=field_errors(error),
            error=error,
        )
    return see_other(f"/orientations/{created['id']}?envoyee=1")


@router.get("/orientations/{referral_id}")
async def referral_page(
    request: Request, referral_id: str, envoyee: str = "", person: SignedIn = Institution
) -> Response:
    referral_id = uuid_or_404(referral_id)
    view = await apis(request).get(person, "referral", f"/v1/referrals/{referral_id}")
    return render(
        request,
        "institution/detail.html",
        person,
        active="orientations",
        r=view,
        just_sent=envoyee == "1",
    )


@router.post("/orientations/{referral_id}/retrait")
async def withdraw(
    request: Request, referral_id: str, form: Form, person: SignedIn = Institution
) -> Response:
    referral_id = uuid_or_404(referral_id)
    try:
        await apis(request).call(
            person, "POST", "referral", f"/v1/referrals/{referral_id}/withdraw"
        )
    except ApiError as error:
        view = await apis(request).get(person, "referral", f"/v1/referrals/{referral_id}")
        return render(
            request,
            "institution/detail.html",
            person,
            status_code=form_status(error),
            active="orientations",
            r=view,
            error=error,
        )
    return see_other(f"/orientations/{referral_id}")
