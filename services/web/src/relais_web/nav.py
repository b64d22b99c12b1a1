"""Each role's menu: the pages that role works with, in the order of its day."""

from __future__ import annotations

from dataclasses import dataclass

from relais_web.session import SignedIn


@dataclass(frozen=True, slots=True)
class NavItem:
    key: str
    label: str
    href: str
    desc: str = ""


_HOME = NavItem("home", "Accueil", "/")
_NOTICES = NavItem(
    "notifications", "Notifications", "/notifications", "Ce qui a changé, en direct."
)

MENUS: dict[str, tuple[NavItem, ...]] = {
    "institution": (
        _HOME,
        NavItem(
            "nouvelle",
            "Adresser un enfant",
            "/orientations/nouvelle",
            "Remplir la fiche de liaison pour le PRE.",
        ),
        NavItem(
            "orientations",
            "Mes orientations",
            "/orientations",
            "Où en est chaque enfant que vous avez adressé.",
        ),
    ),
    "coordinator": (
        _HOME,
        NavItem(
            "inbox",
            "À examiner",
            "/coordination/a-examiner",
            "Les orientations reçues, les plus en retard d'abord.",
        ),
        NavItem(
            "meetings",
            "Réunions d'équipe",
            "/coordination/reunions",
            "Préparer l'EPS et noter chaque décision avec sa raison.",
        ),
        NavItem(
            "family_requests",
            "Demandes des familles",
            "/coordination/demandes-des-familles",
            "Rectifier ou effacer : répondre dans le mois, les plus en retard d'abord.",
        ),
        NavItem(
            "situations",
            "Situations",
            "/situations",
            "Les situations en parcours et leur plan.",
        ),
        NavItem(
            "referents",
            "Référent·es",
            "/coordination/referents",
            "Qui suit combien de situations.",
        ),
        NavItem(
            "directories",
            "Annuaires",
            "/annuaires",
            "Établissements et partenaires du PRE.",
        ),
        NavItem("settings", "Réglages", "/coordination/reglages", "Limites du PRE."),
    ),
    "referent": (
        _HOME,
        NavItem(
            "situations",
            "Mes situations",
            "/situations",
            "Accord des familles, plan et relais vers les partenaires.",
        ),
    ),
    "partner": (
        _HOME,
        NavItem(
            "relais",
            "Relais à traiter",
            "/relais",
            "Accepter, mettre en attente, refuser ; lire la fiche d'un enfant accepté.",
        ),
        NavItem(
            "entry",
            "Notre fiche",
            "/relais/annuaire",
            "Ce que le PRE voit de vous, et vos délais d'attente.",
        ),
    ),
    "analyst": (
        _HOME,
        NavItem(
            "dashboard",
            "Tableau de bord",
            "/tableau-de-bord",
            "Les indicateurs anonymes du PRE par année scolaire, et leur CSV.",
        ),
    ),
    "admin": (
        _HOME,
        NavItem("directories", "Annuaires", "/annuaires", "Établissements et partenaires."),
        NavItem("settings", "Réglages", "/coordination/reglages", "Limites du PRE."),
    ),
}


def nav_for(person: SignedIn) -> tuple[NavItem, ...]:
    menu = MENUS.get(person.role, (_HOME,))
    return menu if person.role in ("analyst", "admin") else (*menu, _NOTICES)


def tiles_for(person: SignedIn) -> tuple[NavItem, ...]:
    """The home page's tiles: the role's pages other than home."""
    return tuple(item for item in nav_for(person) if item.key != "home")
