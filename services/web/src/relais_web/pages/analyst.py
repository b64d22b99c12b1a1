"""The analyst's dashboard, reached through the same sign-in as everyone else: anonymous
indicators of the PRE by school year (already suppressed by reporting), and their CSV."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import Response

from relais_web.api import ApiError, ApiUnavailableError
from relais_web.pages.common import apis, field_errors, render
from relais_web.session import SignedIn, SignInRequiredError, require_role

router = APIRouter(prefix="/tableau-de-bord", include_in_schema=False)
Reader = require_role("analyst", "coordinator", "admin")


def school_years(now: datetime | None = None, count: int = 3) -> list[str]:
    """The current school year (from September) and the ones before it."""
    now = now or datetime.now(ZoneInfo("Europe/Paris"))
    start = now.year if now.month >= 9 else now.year - 1
    return [f"{y}-{y + 1}" for y in range(start, start - count, -1)]


@router.get("")
async def dashboard(request: Request, annee: str = "", person: SignedIn = Reader) -> Response:
    years = school_years()
    year = annee or years[0]
    indicators, error = None, None
    try:
        indicators = await apis(request).get(
            person, "reporting", "/v1/indicators", {"school_year": year}
        )
    except ApiError as refused:
        error = refused
    errors = {k.removeprefix("query."): v for k, v in field_errors(error).items()}
    return render(
        request,
        "analyst/dashboard.html",
        person,
        status_code=error.status if error else 200,
        active="dashboard",
        years=years,
        year=year,
        data=indicators,
        errors=errors,
        error=error,
    )


@router.get("/indicateurs.csv")
async def csv(request: Request, annee: str, person: SignedIn = Reader) -> Response:
    client: httpx.AsyncClient = request.app.state.http
    try:
        upstream = await client.get(
            apis(request).url("reporting", "/v1/indicators.csv"),
            params={"school_year": annee, "separator": ";", "bom": "true"},
            headers={"Authorization": f"Bearer {person.token}"},
        )
    except httpx.HTTPError as exc:
        raise ApiUnavailableError("reporting") from exc
    if upstream.status_code == 401:
        raise SignInRequiredError
    if upstream.status_code != 200:
        raise ApiUnavailableError("reporting")
    return Response(
        upstream.content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="indicateurs-{annee}.csv"'},
    )
