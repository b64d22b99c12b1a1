"""Directories of the PRE (institutions, partners) and its settings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from relais_web.api import ApiError
from relais_web.forms.values import FormValues, put, text
from relais_web.pages.common import apis, render, render_form, see_other
from relais_web.session import Form, SignedIn, require_role

router = APIRouter(include_in_schema=False)
Manager = require_role("coordinator", "admin")


@router.get("/annuaires")
async def directories(request: Request, person: SignedIn = Manager) -> Response:
    api = apis(request)
    institutions = await api.get(person, "referral", "/v1/institutions", {"limit": 200})
    partners = await api.get(person, "parcours", "/v1/partners", {"limit": 500})
    waiting = await api.get(
        person, "parcours", "/v1/directory/changes", {"status": "pending", "limit": 200}
    )
    return render(
        request,
        "directory/directories.html",
        person,
        active="directories",
        institutions=institutions["items"],
        partners=partners,
        pending_changes=len(waiting),
    )


async def _settings_page(
    request: Request,
    person: SignedIn,
    *,
    values: FormValues | None = None,
    error: ApiError | None = None,
    saved: bool = False,
) -> Response:
    current = await apis(request).get(person, "parcours", "/v1/settings")
    return render_form(
        request,
        "directory/settings.html",
        person,
        error,
        active="settings",
        values=values if values is not None else {k: str(v or "") for k, v in current.items()},
        saved=saved,
    )


@router.get("/coordination/reglages")
async def settings(request: Request, enregistre: str = "", person: SignedIn = Manager) -> Response:
    return await _settings_page(request, person, saved=enregistre == "1")


@router.post("/coordination/reglages")
async def save_settings(request: Request, form: Form, person: SignedIn = Manager) -> Response:
    body: dict[str, Any] = {}
    for key in ("caseload_limit", "max_duration_months"):
        put(body, key, text(form, key))
    try:
        await apis(request).call(person, "PUT", "parcours", "/v1/settings", json=body)
    except ApiError as error:
        return await _settings_page(request, person, values=form, error=error)
    return see_other("/coordination/reglages?enregistre=1")
