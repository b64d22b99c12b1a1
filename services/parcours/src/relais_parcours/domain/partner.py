"""A partner's entry in the PRE's directory, shaped after Open Referral HSDS 3.

Relais keeps slugs for everything (the partner's slug is also its token's ``org`` claim);
``domain.hsds`` derives the UUIDs HSDS wants. These models are the rules an entry follows
whoever writes it: an administrator, the partner itself, or an HSDS import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, HttpUrl, StringConstraints

from relais_contracts.types import PartnerCategory, PreId, Slug
from relais_parcours.domain.departements import departement_of
from relais_runtime.bodies import Body as RuntimeBody


class Body(RuntimeBody):
    model_config = ConfigDict(str_strip_whitespace=True)


#: An e-mail address (light check: the directory is typed by staff, not a delivery target).
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]
#: A local time of day, ``HH:MM`` (the PRE's time zone).
TimeOfDay = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
Weekday = Literal["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


class HsdsPhone(Body):
    number: str = Field(min_length=3, max_length=40)


class HsdsContact(Body):
    """HSDS 3 ``contact`` (un·e professionnel·le du partenaire, jamais une famille)."""

    id: Slug
    name: str | None = Field(default=None, max_length=200)
    title: str | None = Field(default=None, max_length=200)
    email: Email | None = None
    phones: list[HsdsPhone] = Field(default_factory=list, max_length=5)


class HsdsAddress(Body):
    address_1: str = Field(min_length=1, max_length=200)
    address_2: str | None = Field(default=None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    postal_code: str = Field(pattern=r"^[0-9]{5}$")
    country: str = Field(default="FR", pattern=r"^[A-Z]{2}$")
    state_province: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Département ; déduit du code postal s'il manque.",
    )
    address_type: Literal["physical", "postal"] | None = Field(
        default=None, description="Déduit du type du lieu s'il manque."
    )


class HsdsSchedule(Body):
    """Horaires d'ouverture, une règle hebdomadaire (HSDS ``schedule``, termes de la RFC 5545)."""

    byday: list[Weekday] = Field(min_length=1, max_length=7)
    opens_at: TimeOfDay
    closes_at: TimeOfDay
    description: str | None = Field(default=None, max_length=300)


class HsdsLocation(Body):
    """HSDS 3 ``location`` avec son adresse physique et ses horaires d'ouverture."""

    id: Slug
    location_type: Literal["physical", "virtual", "postal"] = "physical"
    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    addresses: list[HsdsAddress] = Field(default_factory=list, max_length=3)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    schedules: list[HsdsSchedule] = Field(default_factory=list, max_length=14)


class HsdsService(Body):
    """HSDS 3 ``service``, avec le délai d'attente tel que le partenaire l'énonce et en jours."""

    id: Slug
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    status: Literal["active", "inactive", "defunct", "temporarily closed"] = "active"
    url: HttpUrl | None = None
    email: Email | None = None
    minimum_age: int | None = Field(default=None, ge=0, le=25)
    maximum_age: int | None = Field(default=None, ge=0, le=25)
    wait_time: str | None = Field(
        default=None, max_length=200, description="Délai d'attente tel que le partenaire l'énonce."
    )
    wait_time_days: int | None = Field(
        default=None, ge=0, le=3650, description="Attente habituelle en jours (extension Relais)."
    )
    location_ids: list[Slug] = Field(default_factory=list, max_length=20)
    contact_ids: list[Slug] = Field(default_factory=list, max_length=20)
    schedules: list[HsdsSchedule] = Field(default_factory=list, max_length=14)


class PartnerBody(Body):
    """Une organisation partenaire, sur le modèle de l'``organization`` d'Open Referral HSDS 3."""

    model_config = ConfigDict(validate_by_name=True, serialize_by_alias=True)

    id: Slug
    tenant: PreId = Field(alias="pre_id")
    name: str = Field(min_length=1, max_length=200)
    category: PartnerCategory
    description: str | None = Field(default=None, max_length=2000)
    website: HttpUrl | None = None
    email: Email | None = None
    services: list[HsdsService] = Field(default_factory=list, max_length=50)
    locations: list[HsdsLocation] = Field(default_factory=list, max_length=50)
    contacts: list[HsdsContact] = Field(default_factory=list, max_length=50)


@dataclass(frozen=True)
class Problem:
    """A rule an entry breaks, naming its field (``services.0.location_ids``)."""

    field: str
    code: str
    message: str


def problems(entry: PartnerBody) -> list[Problem]:
    """Rules across fields, which a field's own type cannot check (empty: the entry holds)."""
    found: list[Problem] = []
    for kind, ids in (
        ("services", [s.id for s in entry.services]),
        ("locations", [loc.id for loc in entry.locations]),
        ("contacts", [c.id for c in entry.contacts]),
    ):
        seen: set[str] = set()
        for i, slug in enumerate(ids):
            if slug in seen:
                # HSDS ids derive from these slugs: two alike would be one id for two records.
                found.append(
                    Problem(f"{kind}.{i}.id", "duplicate_id", "Cet identifiant est déjà pris.")
                )
            seen.add(slug)
    locations = {loc.id for loc in entry.locations}
    contacts = {c.id for c in entry.contacts}
    for i, service in enumerate(entry.services):
        where = f"services.{i}"
        if not set(service.location_ids) <= locations:
            found.append(
                Problem(
                    f"{where}.location_ids",
                    "unknown_location",
                    "Ce service renvoie à un lieu absent de la fiche.",
                )
            )
        if not set(service.contact_ids) <= contacts:
            found.append(
                Problem(
                    f"{where}.contact_ids",
                    "unknown_contact",
                    "Ce service renvoie à un contact absent de la fiche.",
                )
            )
        if (
            service.minimum_age is not None
            and service.maximum_age is not None
            and service.maximum_age < service.minimum_age
        ):
            found.append(
                Problem(
                    f"{where}.maximum_age",
                    "ages_reversed",
                    "L'âge maximum ne peut pas être inférieur à l'âge minimum.",
                )
            )
        found += _schedule_problems(where, service.schedules)
    for i, location in enumerate(entry.locations):
        where = f"locations.{i}"
        found += _schedule_problems(where, location.schedules)
        for j, address in enumerate(location.addresses):
            if (
                address.state_province is None
                and address.country == "FR"
                and departement_of(address.postal_code) is None
            ):
                found.append(
                    Problem(
                        f"{where}.addresses.{j}.postal_code",
                        "unknown_departement",
                        "Aucun département ne correspond à ce code postal : indiquez-le "
                        "(state_province).",
                    )
                )
    return found


def _schedule_problems(where: str, schedules: list[HsdsSchedule]) -> list[Problem]:
    found = []
    for k, schedule in enumerate(schedules):
        if schedule.closes_at <= schedule.opens_at:
            found.append(
                Problem(
                    f"{where}.schedules.{k}.closes_at",
                    "closes_before_opening",
                    "L'heure de fermeture doit suivre l'heure d'ouverture.",
                )
            )
        if len(set(schedule.byday)) != len(schedule.byday):
            found.append(
                Problem(
                    f"{where}.schedules.{k}.byday",
                    "duplicate_day",
                    "Un jour est indiqué deux fois.",
                )
            )
    return found


class EntryProposal(Body):
    """Ce qu'un partenaire peut modifier de sa propre fiche ; un champ absent garde sa valeur.

    Le nom et la catégorie sont fixés par le PRE ; les délais d'attente et les horaires
    d'ouverture se trouvent dans les services et les lieux.
    """

    description: str | None = Field(default=None, max_length=2000)
    website: HttpUrl | None = None
    email: Email | None = None
    services: list[HsdsService] | None = Field(default=None, max_length=50)
    locations: list[HsdsLocation] | None = Field(default=None, max_length=50)
    contacts: list[HsdsContact] | None = Field(default=None, max_length=50)

    def applied_to(self, entry: PartnerBody) -> PartnerBody:
        given = {k: getattr(self, k) for k in self.model_fields_set}
        for listed in ("services", "locations", "contacts"):
            if listed in given and given[listed] is None:
                given[listed] = []
        return entry.model_copy(update=given)


class WaitTime(Body):
    """Le délai d'attente actuel d'un service, tel que le partenaire l'énonce et en jours."""

    wait_time: str | None = Field(default=None, max_length=200)
    wait_time_days: int | None = Field(default=None, ge=0, le=3650)
