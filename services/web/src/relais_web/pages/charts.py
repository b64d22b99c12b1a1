"""The analyst dashboard's figures drawn: a bar chart per breakdown (inline SVG, no script,
no style attribute: the CSP holds), a table by age and sex, the headline with what a share
or a median is taken over. Input is reporting's JSON (already suppressed)."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from relais_web.templating import french_number

SECRET = "secret statistique"  # noqa: S105 (statistical secrecy, not a password)
#: The short unit a bar's value carries (the figure's headline names the full unit).
_SHORT_UNIT = {"%": "\u00a0%", "jours": "\u00a0j"}
Figure = dict[str, Any]


def _wrap(label: str, width: int = 23) -> list[str]:
    """A long category label on two lines, so it does not run into its bar."""
    if len(label) <= width or " " not in label:
        return [label]
    middle = len(label) // 2
    cut = min((i for i, ch in enumerate(label) if ch == " "), key=lambda i: abs(i - middle))
    return [label[:cut], label[cut + 1 :]]


def _unit(figure: Figure) -> str:
    return str(figure.get("cell_unit") or figure["unit"])


def spoken(figure: Figure, cell: dict[str, Any]) -> str:
    """A bar's value as a screen reader says it: « 12 jours, médiane sur 14 »."""
    if cell["suppressed"]:
        return SECRET
    unit = _unit(figure)
    said = french_number(cell["value"]) + {"%": "\u00a0%", "jours": " jours"}.get(unit, "")
    if cell.get("count") is None:
        return said
    return (
        f"{said}, médiane sur {cell['count']}" if unit == "jours" else f"{said} sur {cell['count']}"
    )


def bars(figure: Figure) -> Markup:
    """One bar per category, labelled; the whole chart read out by its ``aria-label``."""
    cells = [c for c in figure.get("cells") or [] if "|" not in c["key"]]
    if not cells:
        return Markup("")
    top = max([c["value"] or 0 for c in cells] + [1])
    label_w, width, room = 165, 360, 95
    unit = _SHORT_UNIT.get(_unit(figure), "")
    parts: list[Markup] = []
    said, y = [], 0
    for c in cells:
        lines = _wrap(c["label"])
        row_h = 24 if len(lines) == 1 else 36
        mid = y + row_h // 2 + 4
        label = Markup("").join(
            Markup('<tspan x="0" dy="{}">{}</tspan>').format(0 if i == 0 else 14, line)
            for i, line in enumerate(lines)
        )
        said.append(f"{c['label']} : {spoken(figure, c)}")
        if c["suppressed"]:
            bar = Markup('<text x="{}" y="{}" font-size="12" fill="#8a5a00">{}</text>').format(
                label_w, mid, SECRET
            )
        else:
            w = int((width - label_w - room) * (c["value"] or 0) / top)
            shown = french_number(c["value"]) + unit
            if c.get("count") is not None:
                shown += f" (n={c['count']})"
            bar = Markup(
                '<rect x="{}" y="{}" width="{}" height="16" fill="#6a6af4"/>'
                '<text x="{}" y="{}" font-size="12">{}</text>'
            ).format(label_w, mid - 12, w, label_w + w + 4, mid, shown)
        label_y = mid if len(lines) == 1 else mid - 7
        parts.append(
            Markup('<text x="0" y="{}" font-size="12">{}</text>{}').format(label_y, label, bar)
        )
        y += row_h
    # Drawn text is not read out inside role="img": the label carries the values too.
    read = f"{figure['label']}. {' ; '.join(said)}."
    return Markup(
        '<svg role="img" aria-label="{}" viewBox="0 0 {} {}" width="100%">{}</svg>'
    ).format(read, width, y, Markup("").join(parts))


def two_way(figure: Figure) -> Markup:
    """Age bands in rows, sexes in columns, margins last (the grand total is the figure)."""
    cells = {c["key"]: c for c in figure["cells"]}
    cells["total|total"] = {
        "key": "total|total",
        "label": "",
        "value": figure["value"],
        "suppressed": figure["suppressed"],
    }
    rows = list(dict.fromkeys(k.split("|")[0] for k in cells))
    cols = list(dict.fromkeys(k.split("|")[1] for k in cells))
    names = {k: c["label"].split(" · ") for k, c in cells.items() if " · " in c["label"]}
    row_names = {k.split("|")[0]: v[0] for k, v in names.items()}
    col_names = {k.split("|")[1]: v[1] for k, v in names.items()}
    head = Markup("").join(
        Markup('<th scope="col">{}</th>').format(col_names.get(x, x)) for x in cols
    )
    body: list[Markup] = []
    for r in rows:
        values = [cells.get(f"{r}|{x}") for x in cols]
        tds = Markup("").join(
            Markup("<td>{}</td>").format(
                "—"
                if cell is None
                else SECRET
                if cell["suppressed"]
                else french_number(cell["value"])
            )
            for cell in values
        )
        body.append(Markup('<tr><th scope="row">{}</th>{}</tr>').format(row_names.get(r, r), tds))
    return Markup(
        '<div class="fr-table fr-table--sm fr-mb-0"><table tabindex="0">'
        '<caption class="fr-sr-only">{}</caption>'
        "<thead><tr><td></td>{}</tr></thead><tbody>{}</tbody></table></div>"
    ).format(figure["label"], head, Markup("").join(body))


def chart(figure: Figure) -> Markup:
    cells = figure.get("cells") or []
    return two_way(figure) if any("|" in c["key"] for c in cells) else bars(figure)


def over(figure: Figure) -> str:
    """What a share or a median is taken over: « sur 284 enfants », « médiane sur 57 … »."""
    if figure.get("count") is None or figure["unit"] not in {"%", "jours"}:
        return ""
    if figure["unit"] == "jours":
        return f"médiane sur {figure['count']} {figure.get('cell_unit') or 'mesures'}"
    return f"sur {figure['count']} {figure.get('cell_unit') or ''}".strip()


def headline(figure: Figure) -> str:
    """The figure as a person reads it; empty for categories that overlap (no total)."""
    if figure["suppressed"]:
        return SECRET
    if figure["value"] is None:
        return "" if figure.get("count") is None else "Aucun cas dans la période."
    # The unit is written once: « 57,4 % », never « 57,4 % % ».
    return f"{french_number(figure['value'])} {figure['unit']}"
