"""The demo PRE's people to sign in as: the ids the demo data (scripts/dev.py) loads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

DEMO_PRE: Final = "pre-76540"


@dataclass(frozen=True, slots=True)
class DemoUser:
    sub: str
    name: str
    role: str
    org: str
    org_label: str
    tenant: str = DEMO_PRE

    def claims(self) -> dict[str, Any]:
        """Who the person is to the web (userinfo's claims, a session's ``user``)."""
        return {
            "sub": self.sub,
            "name": self.name,
            "org": self.org,
            "org_label": self.org_label,
            "pre": self.tenant,
            "roles": [self.role],
        }


#: Subjects and organisations are those of the demo data and of `var/demo-tokens.env`.
DEMO_USERS: Final[tuple[DemoUser, ...]] = (
    DemoUser(
        "directrice-demo",
        "Mme Durand, directrice",
        "institution",
        "ecole-jules-ferry-rouen",
        "École élémentaire Jules Ferry",
    ),
    DemoUser(
        "cpe-demo",
        "M. Lefèvre, CPE",
        "institution",
        "college-barbey-daurevilly",
        "Collège Barbey d'Aurevilly",
    ),
    DemoUser(
        "coordinatrice-demo",
        "Nadia Benali, coordinatrice",
        "coordinator",
        "pre-76540-coordination",
        "PRE de Rouen — coordination",
    ),
    DemoUser(
        "c4d9e2f1-6a3b-4c8d-9e0f-1a2b3c4d5e6f",
        "Camille Morel, référente",
        "referent",
        "pre-76540-coordination",
        "PRE de Rouen",
    ),
    DemoUser(
        "5b7e0c1d-2f3a-4b5c-8d6e-7f8091a2b3c4",
        "Yanis Haddad, référent",
        "referent",
        "pre-76540-coordination",
        "PRE de Rouen",
    ),
    DemoUser(
        "cmpp-demo",
        "Dr Roussel, CMPP",
        "partner",
        "cmpp-rouen-rive-gauche",
        "CMPP Rouen rive gauche",
    ),
    DemoUser(
        "clas-demo",
        "Inès Garnier, CLAS",
        "partner",
        "clas-saint-sever",
        "CLAS Saint-Sever",
    ),
    DemoUser("analyste-demo", "Paul Martin, analyste", "analyst", "anct-demo", "ANCT"),
    DemoUser("admin-demo", "Administration du PRE", "admin", "pre-76540-coordination", "PRE"),
)

ROLE_LABELS: Final = {
    "institution": "Établissement qui oriente",
    "coordinator": "Coordination du PRE",
    "referent": "Référent·e de parcours",
    "partner": "Partenaire",
    "analyst": "Analyste (indicateurs anonymes)",
    "admin": "Administration du PRE",
}


def demo_user(sub: str) -> DemoUser | None:
    return next((u for u in DEMO_USERS if u.sub == sub), None)
