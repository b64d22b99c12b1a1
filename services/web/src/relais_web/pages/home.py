"""The landing page, each role's home, and the page after signing out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from relais_web.nav import tiles_for
from relais_web.session import signed_in_if_any
from relais_web.templating import templates

router = APIRouter(include_in_schema=False)


@router.get("/")
async def home(request: Request) -> Response:
    person = await signed_in_if_any(request)
    if person is None:
        return templates.TemplateResponse(request, "home/landing.html", {"person": None})
    return templates.TemplateResponse(
        request,
        f"home/{person.role}.html",
        {"person": person, "active": "home", "tiles": tiles_for(person)},
    )


@router.get("/au-revoir")
async def signed_out(request: Request) -> Response:
    return templates.TemplateResponse(request, "home/signed_out.html", {"person": None})
