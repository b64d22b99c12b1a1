"""A directory entry in Open Referral HSDS 3 terms (the compiled ``organization``).

Ids (ADR 0009): HSDS wants UUIDs, Relais keeps slugs. An organization's UUID is the one
an HSDS import brought, else uuid5(NAMESPACE, "organization/<slug>"); a service, location
or contact slug that is itself a UUID (imported) is its id, else uuid5(<organization
UUID>, "<kind>/<slug>"); addresses, phones and schedules have no slug and take their
position under their parent (uuid5(<parent UUID>, "<kind>/<n>")). Same entry, same ids.

Absent values are left out (HSDS types them, ``null`` is not a string). The waiting time
follows HSDS 3, which deprecates ``service.wait_time``: an ``attribute`` of the service,
term ``delai-attente`` of the Relais taxonomy, whose value is the partner's words; the
figure in days is the Relais extension ``relais_wait_time_days``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from relais_parcours.domain.departements import departement_named, departement_of
from relais_parcours.domain.partner import (
    HsdsAddress,
    HsdsContact,
    HsdsLocation,
    HsdsSchedule,
    HsdsService,
    PartnerBody,
)

HSDS_VERSION = "3.0"
#: Fixed forever: every derived id hangs from it.
NAMESPACE = uuid.UUID("3e2a6fec-ea6c-4e16-abba-43536af01d32")

#: French names of partner categories (the wire carries the codes).
CATEGORY_LABELS: Mapping[str, str] = {
    "cmpp": "Centre médico-psycho-pédagogique (CMPP)",
    "cmp": "Centre médico-psychologique (CMP)",
    "speech_therapist": "Orthophoniste",
    "psychomotor_therapist": "Psychomotricien·ne",
    "psychologist": "Psychologue",
    "family_guidance": "Guidance familiale",
    "pmi": "Protection maternelle et infantile (PMI)",
    "social_service": "Service social",
    "child_protection": "Aide sociale à l'enfance",
    "school_services": "Services de l'Éducation nationale",
    "sports_association": "Association sportive",
    "cultural_association": "Association culturelle",
    "clas": "Accompagnement à la scolarité (CLAS)",
    "other": "Autre",
}
CATEGORY_TAXONOMY = "relais-categories-partenaires"
SERVICE_TAXONOMY = "relais-caracteristiques-service"
WAIT_TIME_TERM = "delai-attente"
WAIT_TIME_EXTENSION = "relais_wait_time_days"
RELAIS_IDENTIFIER_TYPE = "Identifiant Relais"


def taxonomy_id(code: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"taxonomy/{code}")


def term_id(taxonomy: str, code: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"taxonomy_term/{taxonomy}/{code}")


def category_term_id(category: str) -> uuid.UUID:
    return term_id(CATEGORY_TAXONOMY, category)


def organization_id(slug: str, stored: uuid.UUID | None = None) -> uuid.UUID:
    return stored or uuid.uuid5(NAMESPACE, f"organization/{slug}")


def child_id(parent: uuid.UUID, kind: str, slug: str) -> uuid.UUID:
    """The UUID of a service, location or contact of an organization (see module doc)."""
    try:
        return uuid.UUID(slug)
    except ValueError:
        return uuid.uuid5(parent, f"{kind}/{slug}")


def position_id(parent: uuid.UUID, kind: str, position: int) -> uuid.UUID:
    return uuid.uuid5(parent, f"{kind}/{position}")


def present(**fields: Any) -> dict[str, Any]:
    """The fields that have a value: HSDS leaves a field out rather than send ``null``."""
    return {k: v for k, v in fields.items() if v is not None}


def taxonomies() -> list[dict[str, Any]]:
    """The Relais taxonomies this directory's attributes use (HSDS ``taxonomy``)."""
    return [
        {
            "id": str(taxonomy_id(CATEGORY_TAXONOMY)),
            "name": "Catégories de partenaires (Relais)",
            "description": "Le type d'organisation qui reçoit les relais d'un PRE.",
            "version": "1",
        },
        {
            "id": str(taxonomy_id(SERVICE_TAXONOMY)),
            "name": "Caractéristiques de service (Relais)",
            "description": "Ce qu'un PRE a besoin de savoir d'un service, tel le délai d'attente.",
            "version": "1",
        },
    ]


def taxonomy_terms() -> list[dict[str, Any]]:
    """Every term of the Relais taxonomies (HSDS ``taxonomy_term``)."""
    categories = [
        _term(CATEGORY_TAXONOMY, code, label, "Catégorie de partenaire.")
        for code, label in CATEGORY_LABELS.items()
    ]
    wait = _term(
        SERVICE_TAXONOMY,
        WAIT_TIME_TERM,
        "Délai d'attente",
        "Le délai avant une première prise en charge, dans les mots du partenaire.",
    )
    return [*categories, wait]


def _term(taxonomy: str, code: str, name: str, description: str) -> dict[str, Any]:
    return {
        "id": str(term_id(taxonomy, code)),
        "code": code,
        "name": name,
        "description": description,
        "taxonomy": taxonomy,
        "taxonomy_id": str(taxonomy_id(taxonomy)),
        "language": "fr",
    }


def _attribute(
    link_id: uuid.UUID, link_entity: str, taxonomy: str, code: str, value: str | None = None
) -> dict[str, Any]:
    term = next(t for t in taxonomy_terms() if t["taxonomy"] == taxonomy and t["code"] == code)
    return present(
        id=str(uuid.uuid5(link_id, f"attribute/{taxonomy}/{code}")),
        link_id=str(link_id),
        link_type="category" if taxonomy == CATEGORY_TAXONOMY else code,
        link_entity=link_entity,
        taxonomy_term_id=term["id"],
        value=value,
        taxonomy_term=term,
    )


class Directory:
    """One partner's entry seen in HSDS terms: its ids and each HSDS object."""

    def __init__(
        self,
        entry: PartnerBody,
        *,
        updated_at: datetime,
        hsds_id: uuid.UUID | None = None,
        with_contacts: bool = True,
    ) -> None:
        """``with_contacts`` False: no contact (a contact may name a person) for the public."""
        self.entry = entry
        self.with_contacts = with_contacts
        self.updated_at = updated_at
        self.id = organization_id(entry.id, hsds_id)
        self._locations = {loc.id: loc for loc in entry.locations}
        self._contacts = {c.id: c for c in entry.contacts}

    # --- ids ------------------------------------------------------------------------------

    def service_id(self, service: HsdsService) -> uuid.UUID:
        return child_id(self.id, "service", service.id)

    def location_id(self, location: HsdsLocation) -> uuid.UUID:
        return child_id(self.id, "location", location.id)

    def contact_id(self, contact: HsdsContact) -> uuid.UUID:
        return child_id(self.id, "contact", contact.id)

    def service_at_location_id(self, service: HsdsService, location_slug: str) -> uuid.UUID:
        return uuid.uuid5(self.service_id(service), f"service_at_location/{location_slug}")

    # --- objects --------------------------------------------------------------------------

    def organization(self) -> dict[str, Any]:
        """The compiled ``organization``: services, locations and contacts nested."""
        e = self.entry
        return {
            **self.organization_summary(),
            "organization_identifiers": [
                {
                    "id": str(uuid.uuid5(self.id, "identifier/relais")),
                    "organization_id": str(self.id),
                    "identifier_type": RELAIS_IDENTIFIER_TYPE,
                    "identifier": e.id,
                }
            ],
            "attributes": [
                _attribute(self.id, "organization", CATEGORY_TAXONOMY, e.category.value)
            ],
            "services": [self.service(s) for s in e.services],
            "locations": [self.location(loc) for loc in e.locations],
            "contacts": [self.contact(c) for c in e.contacts] if self.with_contacts else [],
        }

    def organization_summary(self) -> dict[str, Any]:
        """The one-to-one fields of an ``organization`` (HSDS ``organization_list``)."""
        e = self.entry
        return present(
            id=str(self.id),
            name=e.name,
            description=e.description or "",
            email=e.email,
            website=str(e.website) if e.website else None,
        )

    def service_summary(self, service: HsdsService) -> dict[str, Any]:
        """The one-to-one fields of a ``service`` (HSDS ``service_list``)."""
        extension = {WAIT_TIME_EXTENSION: service.wait_time_days}
        return present(
            id=str(self.service_id(service)),
            organization_id=str(self.id),
            name=service.name,
            description=service.description,
            url=str(service.url) if service.url else None,
            email=service.email,
            status=service.status,
            minimum_age=service.minimum_age,
            maximum_age=service.maximum_age,
            last_modified=self.updated_at.isoformat(),
            **extension,
        )

    def service(self, service: HsdsService) -> dict[str, Any]:
        """A compiled ``service`` with its places, contacts, hours and attributes."""
        sid = self.service_id(service)
        attributes = [_attribute(sid, "service", CATEGORY_TAXONOMY, self.entry.category.value)]
        if service.wait_time is not None or service.wait_time_days is not None:
            words = service.wait_time or f"{service.wait_time_days} jours"
            attributes.append(_attribute(sid, "service", SERVICE_TAXONOMY, WAIT_TIME_TERM, words))
        return {
            **self.service_summary(service),
            "service_at_locations": [
                self.service_at_location(service, self._locations[slug])
                for slug in service.location_ids
                if slug in self._locations
            ],
            "contacts": [
                self.contact(self._contacts[slug])
                for slug in service.contact_ids
                if slug in self._contacts and self.with_contacts
            ],
            "schedules": self._schedules(sid, "service_id", service.schedules),
            "attributes": attributes,
        }

    def service_at_location(
        self, service: HsdsService, location: HsdsLocation, *, nested: bool = True
    ) -> dict[str, Any]:
        """A service at one of its places; ``nested`` False: its one-to-one fields only."""
        link = {
            "id": str(self.service_at_location_id(service, location.id)),
            "service_id": str(self.service_id(service)),
            "location_id": str(self.location_id(location)),
        }
        return {**link, "location": self.location(location)} if nested else link

    def places(self, service: HsdsService) -> list[HsdsLocation]:
        return [self._locations[s] for s in service.location_ids if s in self._locations]

    def term_ids(self, service: HsdsService) -> set[uuid.UUID]:
        """The taxonomy terms a service carries (what ``taxonomy_term_id`` filters on)."""
        terms = {category_term_id(self.entry.category.value)}
        if service.wait_time is not None or service.wait_time_days is not None:
            terms.add(term_id(SERVICE_TAXONOMY, WAIT_TIME_TERM))
        return terms

    def service_text(self, service: HsdsService) -> str:
        """What a ``search`` looks into for a service: its words and its organization's name."""
        places = " ".join(
            f"{loc.name or ''} {' '.join(a.city for a in loc.addresses)}"
            for loc in self.places(service)
        )
        parts = (self.entry.name, service.name, service.description, service.wait_time, places)
        return " ".join(p for p in parts if p)

    def location(self, location: HsdsLocation) -> dict[str, Any]:
        lid = self.location_id(location)
        return {
            **present(
                id=str(lid),
                location_type=location.location_type,
                organization_id=str(self.id),
                name=location.name,
                description=location.description,
                latitude=location.latitude,
                longitude=location.longitude,
            ),
            "addresses": [
                _address(lid, n, a, location.location_type)
                for n, a in enumerate(location.addresses)
            ],
            "schedules": self._schedules(lid, "location_id", location.schedules),
        }

    def contact(self, contact: HsdsContact) -> dict[str, Any]:
        cid = self.contact_id(contact)
        return {
            **present(
                id=str(cid),
                organization_id=str(self.id),
                name=contact.name,
                title=contact.title,
                email=contact.email,
            ),
            "phones": [
                {
                    "id": str(position_id(cid, "phone", n)),
                    "contact_id": str(cid),
                    "number": phone.number,
                }
                for n, phone in enumerate(contact.phones)
            ],
        }

    @staticmethod
    def _schedules(
        parent: uuid.UUID, link: str, schedules: list[HsdsSchedule]
    ) -> list[dict[str, Any]]:
        # Times are the PRE's local time: HSDS' timezone is a fixed UTC offset, which
        # French summer time would make wrong half of the year.
        return [
            present(
                id=str(position_id(parent, "schedule", n)),
                **{link: str(parent)},
                freq="WEEKLY",
                wkst="MO",
                byday=",".join(s.byday),
                opens_at=s.opens_at,
                closes_at=s.closes_at,
                description=s.description,
            )
            for n, s in enumerate(schedules)
        ]


def _address(
    location: uuid.UUID, position: int, address: HsdsAddress, location_type: str
) -> dict[str, Any]:
    departement = (
        departement_named(address.state_province)
        if address.state_province
        else departement_of(address.postal_code)
        if address.country == "FR"
        else None
    )
    state = address.state_province or (departement.name if departement else None)
    return present(
        id=str(position_id(location, "address", position)),
        location_id=str(location),
        address_1=address.address_1,
        address_2=address.address_2,
        city=address.city,
        region=departement.region if departement else None,
        # Required by HSDS; a foreign address without a stated province keeps its city.
        state_province=state or address.city,
        postal_code=address.postal_code,
        country=address.country,
        address_type=address.address_type
        or ("postal" if location_type == "postal" else "physical"),
    )


def page(contents: list[dict[str, Any]], total: int, number: int, per_page: int) -> dict[str, Any]:
    """The HSDS API's paging envelope (``Page`` of its OpenAPI document) around a page."""
    pages = -(-total // per_page)
    return {
        "total_items": total,
        "total_pages": pages,
        "page_number": number,
        "size": len(contents),
        "first_page": number == 1,
        "last_page": number >= pages,
        "empty": total == 0,
        "contents": contents,
    }
