"""The French dashboard: one server-rendered page, inline SVG charts, no JavaScript.

Opened in a browser, it authenticates with a session cookie holding the same bearer token
the API takes (pasted once on the sign-in page); the CSV links reuse that cookie. Every
figure comes from the same suppressed report as the JSON and CSV exports.
"""

from __future__ import annotations

from datetime import date, datetime
from html import escape
from typing import Annotated
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials

from relais_reporting.domain.access import readable_pres, readable_regions
from relais_reporting.domain.indicators import Cell, Figure
from relais_reporting.domain.periods import PARIS, school_year_of
from relais_reporting.entrypoints.http import (
    TOKEN_COOKIE,
    AsOf,
    KnownOn,
    Runtime,
    bearer,
    pre_scope,
    reader,
    region_scope,
    report_for,
    settings_of,
)
from relais_reporting.service.report import IndicatorReport
from relais_runtime.auth import Principal

router = APIRouter(prefix="/tableau-de-bord", include_in_schema=False)

SECRET = "secret statistique"  # noqa: S105 (statistical secrecy, not a password)


async def _maybe_reader(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal | None:
    try:
        return await reader(request, credentials)
    except HTTPException:
        return None


MaybeReader = Annotated[Principal | None, Depends(_maybe_reader)]


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f"""<!doctype html><html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{_CSS}</style></head>
<body><main>{body}</main></body></html>""",
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'; "
            "style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'",
        },
    )


_CSS = """
body{font-family:system-ui,sans-serif;margin:0;background:#f6f6f4;color:#1e1e1e}
main{max-width:1100px;margin:auto;padding:1.5rem}
h1{font-size:1.6rem;margin:.2rem 0} h2{font-size:1.15rem;margin:0 0 .3rem}
.meta{color:#555;margin-bottom:1rem}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:1rem}
section{background:#fff;border-radius:8px;padding:1rem;box-shadow:0 1px 2px #0002}
.big{font-size:2.2rem;font-weight:700;color:#000091}
.def{color:#555;font-size:.85rem;margin:.4rem 0 0}
.note{color:#8a5a00;font-size:.8rem}
.secret{color:#8a5a00;font-style:italic}
table{border-collapse:collapse;font-size:.9rem;width:100%}
td,th{padding:.2rem .4rem;text-align:right}
th:first-child,td:first-child{text-align:left}
form.filters{display:flex;gap:.6rem;flex-wrap:wrap;align-items:end;margin:.6rem 0 1rem}
label{font-size:.85rem;display:flex;flex-direction:column}
a{color:#000091}
"""


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    text = f"{value:,.1f}".replace(",", " ").replace(".", ",").removesuffix(",0")
    return f"{text} %" if unit == "%" else text


def _bars(figure: Figure) -> str:
    cells = [c for c in figure.cells if "|" not in c.key]
    if not cells:
        return ""
    top = max([c.value or 0 for c in cells] + [1])
    row_h, label_w, width = 24, 190, 520
    parts = []
    for i, c in enumerate(cells):
        y = i * row_h
        label = escape(c.label)
        if c.suppressed:
            bar = (
                f'<text x="{label_w}" y="{y + 16}" class="secret" font-size="12" '
                f'fill="#8a5a00">{SECRET}</text>'
            )
        else:
            w = int((width - label_w - 110) * (c.value or 0) / top)
            shown = _fmt(c.value, figure.cell_unit or figure.unit)
            if c.count is not None:
                shown += f" (n={c.count})"
            bar = (
                f'<rect x="{label_w}" y="{y + 4}" width="{w}" height="16" fill="#6a6af4"/>'
                f'<text x="{label_w + w + 4}" y="{y + 16}" font-size="12">{shown}</text>'
            )
        parts.append(f'<text x="0" y="{y + 16}" font-size="12">{label}</text>{bar}')
    height = row_h * len(cells)
    return (
        f'<svg role="img" aria-label="{escape(figure.label)}" viewBox="0 0 {width} {height}" '
        f'width="100%">{"".join(parts)}</svg>'
    )


def _two_way(figure: Figure) -> str:
    """Age bands in rows, sexes in columns, margins last (the grand total is the figure)."""
    cells = {c.key: c for c in figure.cells}
    cells["total|total"] = Cell("total|total", "", figure.value, figure.suppressed)
    rows = list(dict.fromkeys(k.split("|")[0] for k in cells))
    cols = list(dict.fromkeys(k.split("|")[1] for k in cells))
    names = {k: c.label.split(" · ") for k, c in cells.items() if " · " in c.label}
    row_names = {k.split("|")[0]: v[0] for k, v in names.items()}
    col_names = {k.split("|")[1]: v[1] for k, v in names.items()}
    head = "".join(f"<th>{escape(col_names.get(x, x))}</th>" for x in cols)
    body = []
    for r in rows:
        tds = "".join(
            f'<td class="secret">{SECRET}</td>'
            if cells[f"{r}|{x}"].suppressed
            else f"<td>{_fmt(cells[f'{r}|{x}'].value, figure.unit)}</td>"
            for x in cols
        )
        body.append(f"<tr><td>{escape(row_names.get(r, r))}</td>{tds}</tr>")
    return f"<table><tr><th></th>{head}</tr>{''.join(body)}</table>"


def _section(f: Figure) -> str:
    headline = (
        f'<div class="big secret">{SECRET}</div>'
        if f.suppressed
        else f'<div class="big">{_fmt(f.value, f.unit)} <small>{escape(f.unit)}</small></div>'
    )
    if f.count is not None and f.unit in {"jours", "%"}:
        headline += f'<div class="def">sur {f.count}</div>'
    chart = _two_way(f) if any("|" in c.key for c in f.cells) else _bars(f)
    note = f'<p class="note">{escape(f.note)}</p>' if f.note else ""
    return (
        f'<section id="{f.key}"><h2>{escape(f.label)}</h2>{headline}{chart}{note}'
        f'<p class="def">{escape(f.definition)}</p></section>'
    )


def scope_links(year: str, pres: list[str], regions: list[str], current: str) -> str:
    """Links to every PRE and region the reader may see (analysts of a network)."""
    if len(pres) + len(regions) <= 1:
        return ""
    links = [(p, urlencode({"school_year": year, "pre_id": p})) for p in sorted(pres)] + [
        (f"région {r}", urlencode({"school_year": year, "region": r})) for r in regions
    ]
    items = " · ".join(
        f"<strong>{escape(name)}</strong>"
        if name.removeprefix("région ") == current
        else f'<a href="/tableau-de-bord?{escape(q)}">{escape(name)}</a>'
        for name, q in links
    )
    return f"<p>Voir aussi : {items}</p>"


def render_dashboard(
    report: IndicatorReport, scope: str, query: dict[str, str], links: str = ""
) -> str:
    csv_base = f"/v1/indicators.csv?{urlencode({k: v for k, v in query.items() if v})}"
    if query.get("region"):
        params = {k: v for k, v in query.items() if v and k != "region"}
        csv_base = f"/v1/regions/{query['region']}/indicators.csv?{urlencode(params)}"
    as_of = report.as_of.strftime("%d/%m/%Y") if report.as_of else "jour d'aujourd'hui"
    sections = "".join(_section(f) for f in report.figures)
    # Changing the year or the day must not switch a network analyst back to its own PRE.
    keep = "".join(
        f'<input type="hidden" name="{k}" value="{escape(query[k])}">'
        for k in ("pre_id", "region")
        if query.get(k)
    )
    return f"""
<h1>Indicateurs du PRE — {escape(scope)}</h1>
<p class="meta">Année scolaire {escape(report.school_year)} (1er septembre – 31 août) ·
chiffres arrêtés au {escape(as_of)} · connus au {report.known_on.strftime("%d/%m/%Y")} ·
les effectifs inférieurs à {report.threshold} et ceux qui permettraient de les retrouver
sont masqués (<span class="secret">{SECRET}</span>).</p>
<form class="filters" method="get">{keep}
<label>Année scolaire<input name="school_year" value="{escape(report.school_year)}"
 pattern="[0-9]{{4}}-[0-9]{{4}}"></label>
<label>Arrêté au<input type="date" name="as_of"
 value="{report.as_of.isoformat() if report.as_of else ""}"></label>
<button>Afficher</button></form>
<p>Télécharger : <a href="{escape(csv_base + "&separator=%3B&bom=true")}">CSV pour Excel
(séparateur point-virgule)</a> · <a href="{escape(csv_base)}">CSV standard</a></p>
{links}<div class="grid">{sections}</div>"""


@router.get("", response_class=HTMLResponse)
async def dashboard(
    request: Request,
    who: MaybeReader,
    runtime: Runtime,
    school_year: str | None = None,
    pre_id: str | None = None,
    region: str | None = None,
    as_of: AsOf = None,
    known_on: KnownOn = None,
) -> Response:
    if who is None:
        return RedirectResponse("/tableau-de-bord/connexion", status_code=303)
    year = school_year or school_year_of(datetime.now(PARIS))
    settings = settings_of(runtime)
    if region:
        pres, scope = region_scope(who, settings, region), region
    else:
        pres = pre_scope(who, settings, pre_id)
        scope = pres[0]
    report = await report_for(runtime, pres, year, as_of, known_on)
    query = {
        "school_year": year,
        "pre_id": pre_id or "",
        "region": region or "",
        "as_of": as_of.isoformat() if isinstance(as_of, date) else "",
        "known_on": report.known_on.isoformat(),
    }
    links = scope_links(
        year,
        sorted(
            readable_pres(who.roles, who.pre, who.org, settings.regions, settings.analyst_regions)
        ),
        readable_regions(who.roles, who.org, settings.regions, settings.analyst_regions),
        scope,
    )
    return _page(f"Indicateurs {scope} {year}", render_dashboard(report, scope, query, links))


_LOGIN = """<h1>Tableau de bord des indicateurs</h1>
<p>Collez votre jeton d'accès (analyste ou coordination) pour ouvrir le tableau de bord.
Il est gardé dans un cookie de session de ce navigateur.</p>{error}
<form method="post"><label>Jeton d'accès<textarea name="token" rows="5" cols="60"
 required></textarea></label><p><button>Ouvrir le tableau de bord</button></p></form>"""


@router.get("/connexion", response_class=HTMLResponse)
async def login_form() -> Response:
    return _page("Connexion", _LOGIN.format(error=""))


@router.post("/connexion", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    token = (form.get("token") or [""])[0].strip()
    try:
        await reader(request, HTTPAuthorizationCredentials(scheme="Bearer", credentials=token))
    except HTTPException:
        error = '<p class="secret">Jeton refusé : vérifiez-le ou demandez-en un nouveau.</p>'
        return _page("Connexion", _LOGIN.format(error=error))
    response = RedirectResponse("/tableau-de-bord", status_code=303)
    response.set_cookie(
        TOKEN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=8 * 3600,
    )
    return response
