"""The French dashboard: one server-rendered page, inline SVG charts, no JavaScript.

Opened in a browser, it authenticates with a session cookie holding the same bearer token
the API takes (pasted once on the sign-in page); the CSV links reuse that cookie. Every
figure comes from the same suppressed report as the JSON and CSV exports.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from html import escape
from typing import Annotated
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials

from relais_reporting.domain.access import readable_pres, readable_regions
from relais_reporting.domain.indicators import Cell, Figure
from relais_reporting.domain.periods import PARIS, school_year_bounds, school_year_of
from relais_reporting.entrypoints.http import (
    TOKEN_COOKIE,
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


def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"""<!doctype html><html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{_CSS}</style></head>
<body><main>{body}</main></body></html>""",
        status_code=status_code,
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
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:1rem;
grid-auto-flow:dense}
@media (min-width:740px){section.wide{grid-column:span 2}}
.scroll{overflow-x:auto}
section{background:#fff;border-radius:8px;padding:1rem;box-shadow:0 1px 2px #0002}
.big{font-size:2.2rem;font-weight:700;color:#000091}
.def{color:#555;font-size:.85rem;margin:.4rem 0 0}
.note{color:#8a5a00;font-size:.8rem}
.secret{color:#8a5a00;font-style:italic}
table{border-collapse:collapse;font-size:.9rem;width:100%}
td,th{padding:.2rem .4rem;text-align:right}
th:first-child,td:first-child{text-align:left;white-space:nowrap}
.none{color:#555;font-size:1.1rem;margin:.6rem 0}
.errors{border-left:4px solid #c9191e;background:#fff;padding:.5rem 1rem;margin:.6rem 0}
.error{color:#c9191e;font-size:.85rem;max-width:22rem}
input[aria-invalid=true]{border:2px solid #c9191e}
form.filters{display:flex;gap:.6rem;flex-wrap:wrap;align-items:end;margin:.6rem 0 1rem}
label{font-size:.85rem;display:flex;flex-direction:column}
a{color:#000091}
"""


def _number(value: float | None) -> str:
    """A figure the French way (``1 234,5``), without its unit."""
    if value is None:
        return "—"
    return f"{value:,.1f}".replace(",", "\u202f").replace(".", ",").removesuffix(",0")


#: The short unit a bar's value carries (the figure's headline names the full unit).
_SHORT_UNIT = {"%": "\u00a0%", "jours": "\u00a0j"}


def _wrap(label: str, width: int = 23) -> list[str]:
    """A long category label on two lines, so it does not run into its bar."""
    if len(label) <= width or " " not in label:
        return [label]
    middle = len(label) // 2
    cut = min((i for i, ch in enumerate(label) if ch == " "), key=lambda i: abs(i - middle))
    return [label[:cut], label[cut + 1 :]]


def _bars(figure: Figure) -> str:
    cells = [c for c in figure.cells if "|" not in c.key]
    if not cells:
        return ""
    top = max([c.value or 0 for c in cells] + [1])
    # Drawn about the width of its card, so that the text keeps a readable size.
    label_w, width, room = 165, 360, 95
    unit = _SHORT_UNIT.get(figure.cell_unit or figure.unit, "")
    parts = []
    spoken = []
    y = 0
    for c in cells:
        lines = _wrap(c.label)
        row_h = 24 if len(lines) == 1 else 36
        mid = y + row_h // 2 + 4
        label = "".join(
            f'<tspan x="0" dy="{0 if i == 0 else 14}">{escape(line)}</tspan>'
            for i, line in enumerate(lines)
        )
        label_y = mid if len(lines) == 1 else mid - 7
        spoken.append(f"{c.label} : {_spoken(figure, c)}")
        if c.suppressed:
            bar = (
                f'<text x="{label_w}" y="{mid}" class="secret" font-size="12" '
                f'fill="#8a5a00">{SECRET}</text>'
            )
        else:
            w = int((width - label_w - room) * (c.value or 0) / top)
            shown = _number(c.value) + unit
            if c.count is not None:
                shown += f" (n={c.count})"
            bar = (
                f'<rect x="{label_w}" y="{mid - 12}" width="{w}" height="16" fill="#6a6af4"/>'
                f'<text x="{label_w + w + 4}" y="{mid}" font-size="12">{shown}</text>'
            )
        parts.append(f'<text x="0" y="{label_y}" font-size="12">{label}</text>{bar}')
        y += row_h
    height = y
    # Drawn text is not read out inside role="img": the label carries the values too.
    label = f"{figure.label}. {' ; '.join(spoken)}."
    return (
        f'<svg role="img" aria-label="{escape(label)}" viewBox="0 0 {width} {height}" '
        f'width="100%">{"".join(parts)}</svg>'
    )


def _spoken(figure: Figure, c: Cell) -> str:
    """A bar's value as a screen reader says it: « 12 jours, médiane sur 14 »."""
    if c.suppressed:
        return SECRET
    unit = figure.cell_unit or figure.unit
    said = _number(c.value) + {"%": "\u00a0%", "jours": " jours"}.get(unit, "")
    if c.count is None:
        return said
    return f"{said}, médiane sur {c.count}" if unit == "jours" else f"{said} sur {c.count}"


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
            else f"<td>{_number(cells[f'{r}|{x}'].value)}</td>"
            for x in cols
        )
        body.append(f"<tr><td>{escape(row_names.get(r, r))}</td>{tds}</tr>")
    return f'<div class="scroll"><table><tr><th></th>{head}</tr>{"".join(body)}</table></div>'


def _over(f: Figure) -> str:
    """What a share or a median is taken over: « sur 284 enfants », « médiane sur 57 parcours »."""
    if f.count is None or f.unit not in {"%", "jours"}:
        return ""
    what = f"sur {f.count} {f.cell_unit or ''}".strip()
    if f.unit == "jours":
        what = f"médiane sur {f.count} {f.cell_unit or 'mesures'}"
    return f'<div class="def">{escape(what)}</div>'


def _headline(f: Figure) -> str:
    if f.suppressed:
        # A hidden share keeps its total when that is shown (JSON, CSV): it tells why.
        return f'<div class="big secret">{SECRET}</div>{_over(f)}'
    if f.value is None:
        # Categories that overlap have no total to show; a median or a share over no case
        # has no value.
        return "" if f.count is None else '<p class="none">Aucun cas dans la période.</p>'
    # The unit is written once: « 57,4 % », never « 57,4 % % ».
    return f'<div class="big">{_number(f.value)} <small>{escape(f.unit)}</small></div>{_over(f)}'


def _section(f: Figure) -> str:
    headline = _headline(f)
    two_way = any("|" in c.key for c in f.cells)
    chart = _two_way(f) if two_way else _bars(f)
    note = f'<p class="note">{escape(f.note)}</p>' if f.note else ""
    # A table by age and sex needs the width of two cards.
    wide = ' class="wide"' if two_way else ""
    return (
        f'<section id="{f.key}"{wide}><h2>{escape(f.label)}</h2>{headline}{chart}{note}'
        f'<p class="def">{escape(f.definition)}</p></section>'
    )


def _scope_items(year: str, pres: list[str], regions: list[str], current: str) -> str:
    links = [(p, urlencode({"school_year": year, "pre_id": p})) for p in sorted(pres)] + [
        (f"région {r}", urlencode({"school_year": year, "region": r})) for r in regions
    ]
    return " · ".join(
        f"<strong>{escape(name)}</strong>"
        if name.removeprefix("région ") == current
        else f'<a href="/tableau-de-bord?{escape(q)}">{escape(name)}</a>'
        for name, q in links
    )


def scope_links(year: str, pres: list[str], regions: list[str], current: str) -> str:
    """Links to every PRE and region the reader may see (analysts of a network)."""
    if len(pres) + len(regions) <= 1:
        return ""
    return f"<p>Voir aussi : {_scope_items(year, pres, regions, current)}</p>"


#: What the dashboard says of a PRE or a region the reader may not see.
MSG_REFUSED_PRE = "Vous n'avez pas accès aux indicateurs du PRE « {} »."
MSG_REFUSED_REGION = "Vous n'avez pas accès aux indicateurs de la région « {} »."
MSG_REFUSED_WHO = (
    "Si vous pensez devoir y accéder, adressez-vous à la coordination du PRE ou au réseau "
    "qui vous a donné votre accès."
)


def render_refused(
    year: str, pre_id: str | None, region: str | None, pres: list[str], regions: list[str]
) -> str:
    """A PRE or region the reader may not see: say so, and link to what it may see."""
    said = MSG_REFUSED_REGION.format(region) if region else MSG_REFUSED_PRE.format(pre_id)
    return f"""
<h1>Accès refusé</h1>
<div class="errors" role="alert"><p><strong>{escape(said)}</strong></p>
<p>{escape(MSG_REFUSED_WHO)}</p></div>
<p>Vous pouvez consulter : {_scope_items(year, pres, regions, "")}</p>"""


#: What the dashboard says of a bad parameter, next to its field: what is wrong and the
#: format it takes.
MSG_SCHOOL_YEAR = (
    "Année scolaire invalide : écrivez deux années qui se suivent, au format AAAA-AAAA "
    "(par exemple 2025-2026 pour l'année du 1er septembre 2025 au 31 août 2026)."
)
MSG_AS_OF = (
    "Date d'arrêt invalide : choisissez un jour dans le calendrier ou écrivez-le au format "
    "AAAA-MM-JJ (par exemple 2026-12-31)."
)
MSG_KNOWN_ON = (
    "Date de connaissance invalide (paramètre known_on de l'adresse) : format attendu "
    "AAAA-MM-JJ (par exemple 2027-01-15)."
)
MSG_KNOWN_ON_FUTURE = (
    "Date de connaissance à venir (paramètre known_on de l'adresse) : les chiffres connus à "
    "une date future changeraient encore ; indiquez au plus la date du jour."
)


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _day(value: str | None) -> date | None:
    """A day written AAAA-MM-JJ; ValueError otherwise."""
    if not value:
        return None
    if not _DAY.fullmatch(value):
        raise ValueError(value)
    return date.fromisoformat(value)


def check_query(
    school_year: str, as_of: str | None, known_on: str | None, today: date
) -> tuple[dict[str, str], date | None, date | None]:
    """The dashboard's parameters checked: French messages by field, and the days read."""
    errors: dict[str, str] = {}
    try:
        school_year_bounds(school_year)
    except ValueError:
        errors["school_year"] = MSG_SCHOOL_YEAR
    day_as_of = day_known_on = None
    try:
        day_as_of = _day(as_of)
    except ValueError:
        errors["as_of"] = MSG_AS_OF
    try:
        day_known_on = _day(known_on)
    except ValueError:
        errors["known_on"] = MSG_KNOWN_ON
    if day_known_on is not None and day_known_on > today:
        errors["known_on"] = MSG_KNOWN_ON_FUTURE
    return errors, day_as_of, day_known_on


def _filters(query: dict[str, str], errors: dict[str, str]) -> str:
    """The form to choose the year and the day, each field with its error when it has one."""
    # Changing the year or the day must not switch a network analyst back to its own PRE.
    keep = "".join(
        f'<input type="hidden" name="{k}" value="{escape(query[k])}">'
        for k in ("pre_id", "region")
        if query.get(k)
    )

    def field(name: str, label: str, attrs: str) -> str:
        value = escape(query.get(name, ""))
        error = errors.get(name)
        if error is None:
            return f'<label>{label}<input name="{name}" value="{value}" {attrs}></label>'
        return (
            f'<label>{label}<input name="{name}" value="{value}" {attrs} aria-invalid="true" '
            f'aria-describedby="erreur-{name}"><span class="error" id="erreur-{name}">'
            f"{escape(error)}</span></label>"
        )

    # A bad as_of is shown as typed, in a text field: a date field would show it empty.
    as_of_type = "text" if "as_of" in errors else "date"
    return (
        f'<form class="filters" method="get">{keep}'
        + field(
            "school_year",
            "Année scolaire",
            'pattern="[0-9]{4}-[0-9]{4}" placeholder="2025-2026" required',
        )
        + field("as_of", "Arrêté au", f'type="{as_of_type}" placeholder="AAAA-MM-JJ"')
        + "<button>Afficher</button></form>"
    )


_FORM_FIELDS = ("school_year", "as_of")


def _errors_summary(errors: dict[str, str]) -> str:
    """Above the form: that nothing is shown and what to do. A field's message sits by the
    field; a parameter without a field (``known_on``, from a link) is explained here, and
    the form, which does not carry it, shows the figures known today."""
    fields = [k for k in _FORM_FIELDS if k in errors]
    others = [m for k, m in errors.items() if k not in fields]
    todo = []
    if fields:
        what = "le champ signalé" if len(fields) == 1 else "les champs signalés"
        todo.append(f"Corrigez {what} puis cliquez sur « Afficher ».")
    if others:
        todo += others
        todo.append("« Afficher » donne les chiffres connus aujourd'hui.")
    items = "".join(f"<li>{escape(m)}</li>" for m in todo)
    return (
        '<div class="errors" role="alert"><p><strong>Les chiffres ne peuvent pas être '
        f"affichés.</strong></p><ul>{items}</ul></div>"
    )


def _heading(scope: str, query: dict[str, str]) -> str:
    what = "de la région" if query.get("region") else "du PRE"
    return f"<h1>Indicateurs {what} — {escape(scope)}</h1>"


def render_invalid(scope: str, query: dict[str, str], errors: dict[str, str]) -> str:
    """The dashboard without figures, when a parameter is wrong: what to correct, and the form."""
    return f"""
{_heading(scope, query)}
{_errors_summary(errors)}{_filters(query, errors)}"""


def _period_end(report: IndicatorReport) -> date:
    """The last day the figures count: the day asked, today, or the end of the school year."""
    return min(report.as_of or report.known_on, school_year_bounds(report.school_year)[1])


def render_dashboard(
    report: IndicatorReport, scope: str, query: dict[str, str], links: str = ""
) -> str:
    csv_base = f"/v1/indicators.csv?{urlencode({k: v for k, v in query.items() if v})}"
    if query.get("region"):
        params = {k: v for k, v in query.items() if v and k != "region"}
        csv_base = f"/v1/regions/{query['region']}/indicators.csv?{urlencode(params)}"
    as_of = _period_end(report).strftime("%d/%m/%Y")
    sections = "".join(_section(f) for f in report.figures)
    form = {
        **query,
        "school_year": report.school_year,
        "as_of": report.as_of.isoformat() if report.as_of else "",
    }
    return f"""
{_heading(scope, query)}
<p class="meta">Année scolaire {escape(report.school_year)} (1er septembre – 31 août) ·
chiffres arrêtés au {escape(as_of)} · connus au {report.known_on.strftime("%d/%m/%Y")} ·
les effectifs inférieurs à {report.threshold} et ceux qui permettraient de les retrouver
sont masqués (<span class="secret">{SECRET}</span>).</p>
{_filters(form, {})}
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
    as_of: str | None = None,
    known_on: str | None = None,
) -> Response:
    """The page, or, for a bad parameter, the page with the message by its field (422): a
    person in a browser reads French, not the JSON error of the API."""
    if who is None:
        return RedirectResponse("/tableau-de-bord/connexion", status_code=303)
    year = school_year or school_year_of(datetime.now(PARIS))
    settings = settings_of(runtime)
    readable = sorted(
        readable_pres(who.roles, who.pre, who.org, settings.regions, settings.analyst_regions)
    )
    regions = readable_regions(who.roles, who.org, settings.regions, settings.analyst_regions)
    try:
        if region:
            pres, scope = region_scope(who, settings, region), region
        else:
            pres = pre_scope(who, settings, pre_id)
            scope = pres[0]
    except HTTPException as exc:
        if exc.status_code != 403:
            raise
        # The page, not the API's JSON: a person reads why, and where to go instead.
        try:
            school_year_bounds(year)
        except ValueError:
            year = school_year_of(datetime.now(PARIS))
        body = render_refused(year, pre_id, region, readable, regions)
        return _page("Accès refusé — indicateurs", body, 403)
    errors, day_as_of, day_known_on = check_query(year, as_of, known_on, datetime.now(PARIS).date())
    if errors:
        query = {
            "school_year": year,
            "pre_id": pre_id or "",
            "region": region or "",
            "as_of": as_of or "",
        }
        return _page(
            "Paramètres à corriger — indicateurs", render_invalid(scope, query, errors), 422
        )
    report = await report_for(runtime, pres, year, day_as_of, day_known_on)
    query = {
        "school_year": year,
        "pre_id": pre_id or "",
        "region": region or "",
        "as_of": day_as_of.isoformat() if day_as_of else "",
        "known_on": report.known_on.isoformat(),
    }
    links = scope_links(year, readable, regions, scope)
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
