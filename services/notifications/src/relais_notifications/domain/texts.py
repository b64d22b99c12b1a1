"""Rendering of notification texts from the Jinja2 templates in ``templates/<lang>/``.

A template gives a one-line title (feed item, e-mail subject) and a short plain body,
separated by a line ``---``. Templates receive the notice's facts (references, codes,
dates) and its link: nothing else exists to leak. A language without its own template
falls back to French, so translations can be added one file at a time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from relais_notifications.domain import labels

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
DEFAULT_LANGUAGE = "fr"
_SEPARATOR = "\n---\n"


@dataclass(frozen=True)
class Text:
    title: str
    body: str


@cache
def _environment(language: str) -> jinja2.Environment:
    search = [TEMPLATES_DIR / language] if language != DEFAULT_LANGUAGE else []
    search.append(TEMPLATES_DIR / DEFAULT_LANGUAGE)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(p) for p in search]),
        # Plain text (mail bodies, feed titles): nothing is HTML. Undefined names fail loudly.
        autoescape=False,  # noqa: S701
        undefined=jinja2.StrictUndefined,
        # Templates ship with the package: no stat of the file at every render.
        auto_reload=False,
    )
    env.filters.update(
        status_label=labels.status_label,
        reason_label=lambda c: labels.label(labels.REASON_LABELS, c),
        axis_label=lambda c: labels.label(labels.AXIS_LABELS, c),
        handover_decline_label=lambda c: labels.label(labels.HANDOVER_DECLINE_LABELS, c),
        handover_outcome_label=lambda c: labels.label(labels.HANDOVER_OUTCOME_LABELS, c),
        handover_cancel_label=lambda c: labels.label(labels.HANDOVER_CANCEL_LABELS, c),
        rejection_label=lambda c: labels.label(labels.REJECTION_LABELS, c),
        rejected_field=labels.rejected_field,
        fdate=labels.french_date,
    )
    return env


def available_templates() -> set[str]:
    return {p.stem for p in (TEMPLATES_DIR / DEFAULT_LANGUAGE).glob("*.j2")} - {"_base"}


def render(
    template: str, facts: dict[str, Any], link: str, language: str = DEFAULT_LANGUAGE
) -> Text:
    context = {"escalated": False, **facts, "link": link}
    rendered = _environment(language).get_template(f"{template}.j2").render(context)
    title, _, body = rendered.partition(_SEPARATOR)
    body = re.sub(r"\n{3,}", "\n\n", body.strip())
    return Text(title=" ".join(title.split()), body=body + "\n")
