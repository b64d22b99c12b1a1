"""gettext catalogues read from their ``.po`` sources (Babel): no compiled ``.mo`` to keep
in step with them. The services that speak to families in their language (parcours' letters,
web's family pages) each keep their own catalogue and load it with :func:`load_catalogue`."""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

__all__ = ["load_catalogue"]


def load_catalogue(locales: Path, language: str, domain: str) -> Translations:
    """``<locales>/<language>/LC_MESSAGES/<domain>.po``, compiled in memory."""
    with (locales / language / "LC_MESSAGES" / f"{domain}.po").open("rb") as po:
        catalog = read_po(po, locale=language, domain=domain)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=domain)
