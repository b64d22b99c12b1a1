"""The analyst's dashboard, reached through the same sign-in as everyone else: anonymous
indicators of a PRE (or of a region, for a network's analyst) by school year, already
suppressed by reporting, drawn here (reporting serves JSON and CSV only), and their CSV."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import httpx
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from relais_web.api import ApiError, ApiUnavailableError
from relais_web.pages import charts
from relais_web.pages.common import apis, field_errors, render
from relais_web.session import ForbiddenError, SignedIn, SignInRequiredError, require_role

router = APIRouter(prefix="/tableau-de-bord", include_in_schema=False)
Reader = require_role("analyst", "coordinator", "admin")


def school_years(now: datetime | None = None, count: int = 3) -> list[str]:
    """The current school year (from September) and the ones before it."""
    now = now or datetime.now(ZoneInfo("Europe/Paris"))
    start = now.year if now.month >= 9 else now.year - 1
    return [f"{y}-{y + 1}" for y in range(start, start - count, -1)]


def _source(region: str) -> str:
    return f"/v1/regions/{region}/indicators" if region else "/v1/indicators"


def _scope_links(
    year: str, scopes: dict[str, list[str]], tenant: str, region: str
) -> list[tuple[str, str, bool]]:
    """Every PRE and region the reader may see, when there is more than one."""
    links = [(p, {"annee": year, "pre": p}, not region and p == tenant) for p in scopes["pre_ids"]]
    links += [(f"région {r}", {"annee": year, "region": r}, r == region) for r in scopes["regions"]]
    if len(links) <= 1:
        return []
    return [(name, f"/tableau-de-bord?{urlencode(q)}", current) for name, q, current in links]


@router.get("")
async def dashboard(
    request: Request,
    annee: str = "",
    arrete: str = "",
    tenant: Annotated[str, Query(alias="pre")] = "",
    region: str = "",
    person: SignedIn = Reader,
) -> Response:
    api = apis(request)
    years = school_years()
    year = annee or years[0]
    query: dict[str, Any] = {"school_year": year, "as_of": arrete}
    if tenant and not region:
        query["pre_id"] = tenant
    data, error = None, None
    try:
        data = await api.get(person, "reporting", _source(region), query)
    except ApiError as refused:
        error = refused
    scopes = await api.get(person, "reporting", "/v1/indicator-scopes")
    errors = {k.removeprefix("query."): v for k, v in field_errors(error).items()}
    csv_query = {"annee": year, "arrete": arrete, "pre": tenant, "region": region}
    return render(
        request,
        "analyst/dashboard.html",
        person,
        status_code=error.status if error else 200,
        active="dashboard",
        years=years if year in years else [year, *years],
        year=year,
        as_of=arrete,
        tenant=tenant,
        region=region,
        data=data,
        errors=errors,
        error=error,
        scope_links=_scope_links(year, scopes, tenant or person.tenant, region),
        csv_url="/tableau-de-bord/indicateurs.csv?"
        + urlencode({k: v for k, v in csv_query.items() if v}),
        charts=charts,
    )


@router.get("/indicateurs.csv")
async def csv(
    request: Request,
    annee: str,
    arrete: str = "",
    tenant: Annotated[str, Query(alias="pre")] = "",
    region: str = "",
    person: SignedIn = Reader,
) -> Response:
    client: httpx.AsyncClient = request.app.state.http
    params = {"school_year": annee, "separator": ";", "bom": "true"}
    if arrete:
        params["as_of"] = arrete
    if tenant and not region:
        params["pre_id"] = tenant
    try:
        upstream = await client.get(
            apis(request).url("reporting", f"{_source(region)}.csv"),
            params=params,
            headers={"Authorization": f"Bearer {person.token}"},
        )
    except httpx.HTTPError as exc:
        raise ApiUnavailableError("reporting") from exc
    if upstream.status_code == 401:
        raise SignInRequiredError
    if upstream.status_code == 403:
        raise ForbiddenError
    if upstream.status_code != 200:
        raise ApiUnavailableError("reporting")
    scope = region or tenant or person.tenant
    return Response(
        upstream.content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="indicateurs-{scope}-{annee}.csv"'},
    )
