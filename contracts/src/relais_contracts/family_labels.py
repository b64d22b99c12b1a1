"""The words a family reads for the contract's codes, in its own language.

French gettext msgids (short plain words), translated by each service's ``family``
catalogue (``locales/<lang>/LC_MESSAGES/family.po``, fr/ar/en/tr/pt): parcours prints them
on the letters, web shows them on the family pages. The tables live here so both read the
same words; each service's ``babel.cfg`` extracts this module with its own texts.
Staff pages use :mod:`relais_contracts.labels` (French only).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from relais_contracts.types import Axis, DataCategory

#: The languages family texts exist in; French is the reference.
LANGUAGES: Final[tuple[str, ...]] = ("fr", "ar", "en", "tr", "pt")
RTL_LANGUAGES: Final = frozenset({"ar"})


def N_(message: str) -> str:
    """Marks a message for extraction; translated where it is shown."""
    return message


def _table(pairs: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType({str(code): text for code, text in pairs.items()})


AXES: Final = _table(
    {
        Axis.SCHOOLING: N_("Scolarité"),
        Axis.HEALTH: N_("Santé"),
        Axis.PARENTING: N_("Parentalité"),
        Axis.WELLBEING: N_("Épanouissement"),
    }
)
#: What a consent lets the PRE share with a partner, as it reads inside a sentence.
CATEGORIES: Final = _table(
    {
        DataCategory.IDENTITY_AND_CONTACT: N_("identité et coordonnées"),
        DataCategory.SCHOOLING: N_("scolarité"),
        DataCategory.HEALTH: N_("santé"),
        DataCategory.FAMILY_SITUATION: N_("situation familiale"),
        DataCategory.PLAN_AND_PROGRESS: N_("plan et avancement"),
    }
)
#: Statuses of a plan's objectives and actions, and of a family's request.
STATUSES: Final = _table(
    {
        "open": N_("en cours"),
        "met": N_("atteint"),
        "abandoned": N_("abandonné"),
        "planned": N_("prévu"),
        "in_progress": N_("en cours"),
        "done": N_("terminé"),
        "cancelled": N_("annulé"),
        "answered": N_("répondu"),
    }
)
