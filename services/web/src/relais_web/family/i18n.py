"""The family pages' texts in five languages: gettext messages (French msgids, short plain
sentences) in Babel catalogues under ``locales/<lang>/LC_MESSAGES/family.po``, read from
the ``.po`` at start as parcours does for the letters (ADR 0012). Staff pages stay French.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

from babel.dates import format_date, format_datetime, get_timezone
from babel.support import Translations
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from relais_contracts.family_labels import AXES, CATEGORIES, N_, RTL_LANGUAGES, STATUSES
from relais_contracts.family_labels import LANGUAGES as LANGUAGES
from relais_runtime.i18n import load_catalogue
from relais_web.security import CSRF_FIELD

HERE: Final = Path(__file__).resolve().parents[1]
LOCALES: Final = HERE / "locales"
DOMAIN: Final = "family"
#: Times are shown as the PRE lives them.
PARIS: Final = get_timezone("Europe/Paris")

RTL: Final = RTL_LANGUAGES  # the family words' languages (LANGUAGES) written right to left
#: Each language's name written in itself: a person finds their own without reading French.
LANGUAGE_NAMES: Final[Mapping[str, str]] = {
    "fr": "Français",
    "ar": "العربية",
    "en": "English",
    "tr": "Türkçe",
    "pt": "Português",
}


CHANNELS: Final[Mapping[str, str]] = {
    "post": N_("par courrier"),
    "email": N_("par e-mail"),
    "phone": N_("par téléphone"),
    "sms": N_("par SMS"),
}
REQUEST_KINDS: Final[Mapping[str, str]] = {
    "correction": N_("Corriger une information fausse"),
    "erasure": N_("Effacer nos données"),
}
#: Who in the PRE's team read the file (the reader's role, never a name).
ROLES: Final[Mapping[str, str]] = {
    "coordinator": N_("la coordination du PRE"),
    "referent": N_("votre référent ou référente"),
    "admin": N_("l'administration du PRE"),
    "partner": N_("un partenaire"),
    "system": N_("Relais, pour vous envoyer un message"),
}
#: What a staff read covered (groups of fields, never their values).
FIELD_GROUPS: Final[Mapping[str, str]] = {
    "identity.child": N_("l'identité de l'enfant"),
    "identity.guardians": N_("les coordonnées des parents"),
    "referrer": N_("qui a orienté l'enfant"),
    "reasons.description": N_("les raisons de l'orientation"),
    "situation": N_("le dossier"),
    "consent": N_("votre accord"),
    "plan": N_("le plan d'aide"),
    "disclosures": N_("le registre des partages"),
    "family_texts": N_("les documents pour la famille"),
    "handovers": N_("les relais aux partenaires"),
    # The consent ledger and the family's requests, as parcours' access log names them.
    "consent.form": N_("la forme de votre accord"),
    "consent.guardians": N_("qui a donné votre accord"),
    "consent.scope": N_("ce que votre accord permet de partager"),
    "consent.validity": N_("la durée de votre accord"),
    "consent.sole_guardian_reason": N_("pourquoi un seul parent a donné l'accord"),
    "consent.witness": N_("le témoin de votre accord"),
    "family_request.kind": N_("le type de votre demande"),
    "family_request.details": N_("les mots de votre demande"),
    "family_request.answer": N_("la réponse à votre demande"),
}
#: Refusals parcours gives a letter, the same French sentences translated (the French is
#: always shown too: a person can show it to the PRE's team).
REFUSALS: Final[Mapping[str, str]] = {
    "letter_unknown": N_(
        "Ce lien ou ce code n'est pas reconnu. Vérifiez le code imprimé sur votre lettre."
    ),
    "code_wrong": N_(
        "Ce lien ou ce code n'est pas reconnu. Vérifiez le code imprimé sur votre lettre."
    ),
    "letter_locked": N_(
        "Trop d'essais avec un code faux : cette lettre est bloquée. "
        "Demandez une nouvelle lettre à votre référent·e."
    ),
    "letter_expired": N_("Cette lettre a expiré. Demandez une nouvelle lettre à votre référent·e."),
    "letter_used": N_(
        "Cette lettre a déjà servi une fois. Demandez une nouvelle lettre à votre référent·e."
    ),
    "letter_revoked": N_(
        "Cette lettre a été annulée. Demandez une nouvelle lettre à votre référent·e."
    ),
}


def pick(candidates: list[str | None]) -> str:
    """The first language we have texts in, else French."""
    for candidate in candidates:
        code = str(candidate or "").lower().split("-")[0]
        if code in LANGUAGES:
            return code
    return "fr"


@functools.cache
def translations(language: str) -> Translations:
    if language not in LANGUAGES:
        raise ValueError(f"no family texts in {language!r}")
    return load_catalogue(LOCALES, language, DOMAIN)


def gettext(language: str, message: str) -> str:
    return str(translations(language).gettext(message))


def long_date(value: str | date | datetime | None, language: str) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    day = value.date() if isinstance(value, datetime) else value
    return str(format_date(day, format="long", locale=language))


def date_time(value: str | datetime | None, language: str) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return str(format_datetime(value, format="medium", locale=language, tzinfo=PARIS))


def labelled(codes: Iterable[str], table: Mapping[str, str], language: str) -> str:
    """The codes' labels, translated, separated by the language's comma (Arabic's « ، »).
    Not « a, b et c »: labels such as « identité et coordonnées » hold an « et » already."""
    separator = "، " if language in RTL else ", "
    return separator.join(gettext(language, table.get(code, code)) for code in codes)


@functools.cache
def templates(language: str) -> Jinja2Templates:
    """One environment per language: the translations are installed in it, never swapped."""
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    globals_: dict[str, Any] = {
        "lang": language,
        "direction": "rtl" if language in RTL else "ltr",
        "LANGUAGES": LANGUAGES,
        "LANGUAGE_NAMES": LANGUAGE_NAMES,
        "CSRF_FIELD": CSRF_FIELD,
        "AXES": AXES,
        "CATEGORIES": CATEGORIES,
        "STATUSES": STATUSES,
        "CHANNELS": CHANNELS,
        "REQUEST_KINDS": REQUEST_KINDS,
        "ROLES": ROLES,
        "FIELD_GROUPS": FIELD_GROUPS,
    }
    env.globals.update(globals_)
    env.filters["long_date"] = lambda value: long_date(value, language)
    env.filters["date_time"] = lambda value: date_time(value, language)
    env.filters["labelled"] = lambda codes, table: labelled(codes, table, language)
    return Jinja2Templates(env=env)
