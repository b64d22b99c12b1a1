"""Family documents on paper: HTML templates in the guardian's language, printed to PDF
by WeasyPrint with the system's fonts (DejaVu: Latin, Turkish and Arabic glyphs).

Texts are gettext messages (French msgids) translated in ``locales/<lang>/LC_MESSAGES/
family.po``; catalogues are read from their ``.po`` sources (no compiled file to keep in
step). Right-to-left languages get ``dir="rtl"``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from babel.dates import format_date
from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, select_autoescape

# The family's words for the codes and the extraction mark, shared with web's family
# pages (re-exported for the use cases that fill the letters and notices).
from relais_contracts.family_labels import AXES as AXES
from relais_contracts.family_labels import CATEGORIES as CATEGORIES
from relais_contracts.family_labels import N_ as N_
from relais_contracts.family_labels import STATUSES as STATUSES
from relais_parcours.domain.family import LANGUAGES, RTL_LANGUAGES
from relais_runtime.i18n import load_catalogue

HERE: Final = Path(__file__).resolve().parents[1]
TEMPLATES: Final = HERE / "templates" / "family"
LOCALES: Final = HERE / "locales"
DOMAIN: Final = "family"


class DocumentKind(StrEnum):
    ACCESS_LETTER = "access_letter"
    CONSENT_FORM = "consent_form"
    LEDGER = "ledger"
    PLAN = "plan"
    NOTICE_LETTER = "notice_letter"


@functools.cache
def translations(language: str) -> Translations:
    if language not in LANGUAGES:
        raise ValueError(f"no family texts in {language!r}")
    return load_catalogue(LOCALES, language, DOMAIN)


@functools.cache
def _environment(language: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    return env


def long_date(value: date | datetime, language: str) -> str:
    day = value.date() if isinstance(value, datetime) else value
    return format_date(day, format="long", locale=language)


def render_html(kind: DocumentKind, language: str, context: Mapping[str, Any]) -> str:
    env = _environment(language)
    template = env.get_template(f"{kind.value}.html")
    return template.render(
        lang=language,
        direction="rtl" if language in RTL_LANGUAGES else "ltr",
        today=long_date(date.today(), language),
        **context,
    )


def render_pdf(kind: DocumentKind, language: str, context: Mapping[str, Any]) -> bytes:
    from weasyprint import HTML  # imported late: loading pango costs ~0.3 s at start-up

    html = render_html(kind, language, context)
    pdf: bytes = HTML(string=html, base_url=str(TEMPLATES)).write_pdf()
    return pdf


def gettext(language: str, message: str) -> str:
    return str(translations(language).gettext(message))
