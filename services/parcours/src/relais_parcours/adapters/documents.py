"""Family documents on paper: HTML templates in the guardian's language, printed to PDF
by WeasyPrint with the system's fonts (DejaVu: Latin, Turkish and Arabic glyphs).

Texts are gettext messages (French msgids) translated in ``locales/<lang>/LC_MESSAGES/
family.po``; catalogues are read from their ``.po`` sources (no compiled file to keep in
step). Right-to-left languages get ``dir="rtl"``.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, select_autoescape

from relais_parcours.domain.family import LANGUAGES, RTL_LANGUAGES

HERE: Final = Path(__file__).resolve().parents[1]
TEMPLATES: Final = HERE / "templates" / "family"
LOCALES: Final = HERE / "locales"
DOMAIN: Final = "family"


def N_(message: str) -> str:
    """Marks a message for extraction; translated where it is shown."""
    return message


AXES: Final[Mapping[str, str]] = {
    "schooling": N_("Scolarité"),
    "health": N_("Santé"),
    "parenting": N_("Parentalité"),
    "wellbeing": N_("Épanouissement"),
}
CATEGORIES: Final[Mapping[str, str]] = {
    "identity_and_contact": N_("identité et coordonnées"),
    "schooling": N_("scolarité"),
    "health": N_("santé"),
    "family_situation": N_("situation familiale"),
    "plan_and_progress": N_("plan et avancement"),
}
STATUSES: Final[Mapping[str, str]] = {
    "open": N_("en cours"),
    "met": N_("atteint"),
    "abandoned": N_("abandonné"),
    "planned": N_("prévu"),
    "in_progress": N_("en cours"),
    "done": N_("terminé"),
    "cancelled": N_("annulé"),
}


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
    with (LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


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
