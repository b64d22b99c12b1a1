"""Reading an Open Referral HSDS 3 directory into Relais entries (ADR 0009).

Two shapes come in: JSON as the HSDS API gives it (a list of compiled organizations, or
a ``Page`` whose ``contents`` are), or the HSDS tabular files (``organizations.csv``,
``services.csv``...), which :func:`nest_tables` turns into the first. Each organization
becomes one :class:`Candidate`: the entry Relais would record, the HSDS id it keeps, or
the French reasons it cannot be read (each naming its HSDS field).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import uuid
import zipfile
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from relais_parcours.domain import hsds
from relais_parcours.domain.partner import PartnerBody, problems
from relais_runtime.errors import translate_validation_errors

#: The HSDS tabular files read, and the column linking each row to its parent.
TABLES = (
    "organizations",
    "organization_identifiers",
    "services",
    "locations",
    "addresses",
    "contacts",
    "phones",
    "schedules",
    "service_at_location",
    "attributes",
    "taxonomy_terms",
)
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
#: A Relais slug as the contract defines it (kept as is when a Relais export names one).
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


@dataclass
class Candidate:
    """One organization of the file, as Relais would record it (or why it cannot)."""

    position: int
    name: str | None
    hsds_id: uuid.UUID | None
    slug_hint: str | None
    entry: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def refuse(self, field_path: str, code: str, message: str) -> None:
        self.errors.append({"field": field_path, "code": code, "message": message})


class UnreadableError(Exception):
    """The file as a whole cannot be read (French message for people)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def organizations_of(document: Any) -> list[Any]:
    """The organizations of an HSDS API answer: a list, a ``Page``, or one organization."""
    if isinstance(document, list):
        return document
    if isinstance(document, dict) and isinstance(document.get("contents"), list):
        return list(document["contents"])
    if isinstance(document, dict) and "id" in document and "name" in document:
        return [document]
    raise UnreadableError(
        "not_hsds",
        "Ce fichier n'est pas un annuaire HSDS : attendu une liste d'organisations, ou une "
        "page de l'API HSDS (champ contents).",
    )


def slugify(name: str) -> str:
    """A Relais slug from a name: ``CMPP Rouen — rive gauche`` → ``cmpp-rouen-rive-gauche``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:63].strip("-")
    return slug or "partenaire"


def read_organization(position: int, tenant: str, org: Any) -> Candidate:
    """One HSDS organization → the Relais entry it becomes (or its errors)."""
    if not isinstance(org, dict):
        c = Candidate(position, None, None, None)
        c.refuse("", "not_an_object", "Cet enregistrement n'est pas un objet JSON.")
        return c
    name = org.get("name") if isinstance(org.get("name"), str) else None
    c = Candidate(position, name, _uuid(org.get("id")), _relais_slug(org))
    if c.hsds_id is None:
        c.refuse("id", "invalid_uuid", "L'identifiant HSDS doit être un UUID.")
    contacts = {str(x.get("id")): x for x in _list(org, "contacts")}
    services = []
    for n, s in enumerate(_list(org, "services")):
        for nested in _list(s, "contacts"):
            contacts.setdefault(str(nested.get("id")), nested)
        services.append(_service(c, n, s))
    locations = {str(x.get("id")): x for x in _list(org, "locations")}
    for s in _list(org, "services"):
        for link in _list(s, "service_at_locations"):
            place = _dict(link.get("location"))
            if place:
                locations.setdefault(str(place.get("id")), place)
    c.entry = {
        "id": c.slug_hint
        if _SLUG.fullmatch(c.slug_hint or "")
        else slugify(c.slug_hint or name or ""),
        "pre_id": tenant,
        "name": name,
        "category": _category(org),
        "description": org.get("description") or None,
        "website": org.get("website"),
        "email": org.get("email"),
        "services": services,
        "locations": [_location(c, loc) for loc in locations.values()],
        "contacts": [_contact(x) for x in contacts.values()],
    }
    return c


def check(c: Candidate) -> PartnerBody | None:
    """The entry if Relais's rules accept it; else the reasons, in French, on ``c``."""
    if c.errors:
        return None
    try:
        entry = PartnerBody.model_validate(_drop_none(c.entry))
    except ValidationError as exc:
        c.errors += translate_validation_errors(exc.errors())
        return None
    c.errors += [{"field": p.field, "code": p.code, "message": p.message} for p in problems(entry)]
    return None if c.errors else entry


def _service(c: Candidate, n: int, s: Any) -> dict[str, Any]:
    if not isinstance(s, dict):
        c.refuse(f"services.{n}", "not_an_object", "Ce service n'est pas un objet JSON.")
        return {}
    wait_words = s.get("wait_time")
    for a in _list(s, "attributes"):
        term = _dict(a.get("taxonomy_term"))
        wait_term = str(hsds.term_id(hsds.SERVICE_TAXONOMY, hsds.WAIT_TIME_TERM))
        if a.get("taxonomy_term_id") == wait_term or term.get("code") == hsds.WAIT_TIME_TERM:
            wait_words = a.get("value") or wait_words
    return {
        **_pick(s, "name", "description", "status", "url", "email", "minimum_age", "maximum_age"),
        "id": _child_slug(s.get("id")),
        "wait_time": wait_words,
        "wait_time_days": s.get(hsds.WAIT_TIME_EXTENSION),
        "location_ids": [
            _child_slug(link.get("location_id") or _dict(link.get("location")).get("id"))
            for link in _list(s, "service_at_locations")
        ],
        "contact_ids": [_child_slug(x.get("id")) for x in _list(s, "contacts")],
        "schedules": _schedules(c, f"services.{n}", _list(s, "schedules")),
    }


def _location(c: Candidate, loc: Any) -> dict[str, Any]:
    return {
        **_pick(loc, "location_type", "name", "description", "latitude", "longitude"),
        "id": _child_slug(loc.get("id")),
        "addresses": [
            _pick(a, *_ADDRESS_FIELDS)
            for a in _list(loc, "addresses")
            if a.get("address_type") != "virtual"
        ],
        "schedules": _schedules(c, f"locations.{loc.get('id')}", _list(loc, "schedules")),
    }


def _contact(x: Any) -> dict[str, Any]:
    return {
        **_pick(x, "name", "title", "email"),
        "id": _child_slug(x.get("id")),
        "phones": [{"number": p.get("number")} for p in _list(x, "phones")],
    }


def _schedules(c: Candidate, where: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Weekly opening hours; other rules (monthly, dated events) are noted, not read."""
    kept = []
    for row in rows:
        days = [d.strip()[-2:] for d in str(row.get("byday") or "").split(",") if d.strip()]
        opens, closes = _hhmm(row.get("opens_at")), _hhmm(row.get("closes_at"))
        if row.get("freq", "WEEKLY") != "WEEKLY" or not days or not opens or not closes:
            c.notes.append(f"{where} : horaire non hebdomadaire ou incomplet, non repris.")
            continue
        kept.append(
            {
                "byday": list(dict.fromkeys(d for d in days if d in _WEEKDAYS)) or days,
                "opens_at": opens,
                "closes_at": closes,
                "description": row.get("description"),
            }
        )
    return kept


def _hhmm(value: Any) -> str | None:
    match = re.match(r"^([01][0-9]|2[0-3]):([0-5][0-9])", str(value or ""))
    return f"{match.group(1)}:{match.group(2)}" if match else None


def _category(org: Mapping[str, Any]) -> str:
    by_id = {str(hsds.category_term_id(code)): code for code in hsds.CATEGORY_LABELS}
    for a in _list(org, "attributes"):
        term = _dict(a.get("taxonomy_term"))
        if a.get("taxonomy_term_id") in by_id:
            return by_id[a["taxonomy_term_id"]]
        if term.get("taxonomy") == hsds.CATEGORY_TAXONOMY and term.get("code") in by_id.values():
            return str(term["code"])
    return "other"


def _relais_slug(org: Mapping[str, Any]) -> str | None:
    """The Relais slug an organization exported by Relais carries (a round trip keeps it)."""
    for ident in _list(org, "organization_identifiers"):
        if ident.get("identifier_type") == hsds.RELAIS_IDENTIFIER_TYPE:
            value = ident.get("identifier")
            return value if isinstance(value, str) else None
    return None


def _child_slug(value: Any) -> Any:
    # A UUID is a valid slug in lower case: the child keeps its HSDS id (hsds.child_id).
    return value.lower() if isinstance(value, str) else value


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


_ADDRESS_FIELDS = (
    "address_1",
    "address_2",
    "city",
    "postal_code",
    "country",
    "state_province",
    "address_type",
)


def _pick(source: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    """The fields Relais reads of an HSDS object (absent ones left to Relais's defaults)."""
    return {k: source[k] for k in keys if k in source}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(parent: Any, key: str) -> list[dict[str, Any]]:
    value = parent.get(key) if isinstance(parent, dict) else None
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


def _drop_none(value: Any) -> Any:
    """HSDS leaves absent fields out or empty; Relais's defaults then apply."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None and v != ""}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


# --- the tabular form -------------------------------------------------------------------------


def nest_tables(tables: Mapping[str, str]) -> list[dict[str, Any]]:
    """HSDS tabular files (name without .csv → CSV text) → organizations as the API nests them."""
    if "organizations" not in tables:
        raise UnreadableError(
            "organizations_missing", "Le fichier organizations.csv manque : rien à importer."
        )
    rows = {name: _rows(name, text) for name, text in tables.items() if name in TABLES}
    by = _index(rows)
    terms = {t["id"]: t for t in rows.get("taxonomy_terms", [])}

    def attributes(link_id: str) -> list[dict[str, Any]]:
        found = []
        for a in by["attributes", "link_id"].get(link_id, []):
            term = terms.get(a.get("taxonomy_term_id", ""))
            found.append({**a, "taxonomy_term": term} if term else a)
        return found

    def contact(x: dict[str, Any]) -> dict[str, Any]:
        return {**x, "phones": by["phones", "contact_id"].get(x["id"], [])}

    def location(loc: dict[str, Any]) -> dict[str, Any]:
        return {
            **loc,
            "latitude": _number(loc.get("latitude")),
            "longitude": _number(loc.get("longitude")),
            "addresses": by["addresses", "location_id"].get(loc["id"], []),
            "schedules": by["schedules", "location_id"].get(loc["id"], []),
        }

    def service(s: dict[str, Any]) -> dict[str, Any]:
        return {
            **s,
            "minimum_age": _number(s.get("minimum_age")),
            "maximum_age": _number(s.get("maximum_age")),
            hsds.WAIT_TIME_EXTENSION: _number(s.get(hsds.WAIT_TIME_EXTENSION)),
            "service_at_locations": by["service_at_location", "service_id"].get(s["id"], []),
            "contacts": [contact(x) for x in by["contacts", "service_id"].get(s["id"], [])],
            "schedules": by["schedules", "service_id"].get(s["id"], []),
            "attributes": attributes(s["id"]),
        }

    return [
        {
            **org,
            "organization_identifiers": by["organization_identifiers", "organization_id"].get(
                org["id"], []
            ),
            "services": [service(s) for s in by["services", "organization_id"].get(org["id"], [])],
            "locations": [
                location(loc) for loc in by["locations", "organization_id"].get(org["id"], [])
            ],
            "contacts": [contact(x) for x in by["contacts", "organization_id"].get(org["id"], [])],
            "attributes": attributes(org["id"]),
        }
        for org in rows["organizations"]
    ]


def _rows(name: str, text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if reader.fieldnames is None or "id" not in reader.fieldnames:
        raise UnreadableError("csv_without_id", f"Le fichier {name}.csv n'a pas de colonne id.")
    # An empty cell is an absent value, as HSDS's JSON leaves the field out.
    return [{k: v for k, v in row.items() if k and v not in (None, "")} for row in reader]


def _index(rows: Mapping[str, list[dict[str, Any]]]) -> dict[tuple[str, str], dict[str, list[Any]]]:
    index: dict[tuple[str, str], dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    links = {
        "organization_identifiers": ["organization_id"],
        "services": ["organization_id"],
        "locations": ["organization_id"],
        "addresses": ["location_id"],
        "contacts": ["organization_id", "service_id"],
        "phones": ["contact_id"],
        "schedules": ["service_id", "location_id"],
        "service_at_location": ["service_id"],
        "attributes": ["link_id"],
    }
    for table, columns in links.items():
        for row in rows.get(table, []):
            for column in columns:
                if row.get(column):
                    index[table, column][row[column]].append(row)
    return index


def _number(value: Any) -> Any:
    """A number of a CSV cell; left as text when it is not one (refused on its field)."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return value
    return int(number) if number.is_integer() else number


#: A directory's tabular files are small; more is a mistake or a zip bomb.
MAX_UNZIPPED_BYTES = 20_000_000


def tables_from_zip(data: bytes) -> dict[str, str]:
    """The HSDS CSV files of a zip (any folder), by table name; other files are ignored."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if m.filename.lower().endswith(".csv")]
        if sum(m.file_size for m in members) > MAX_UNZIPPED_BYTES:
            raise UnreadableError(
                "archive_too_large", "Les fichiers CSV de cette archive dépassent 20 Mo."
            )
        tables = {}
        for m in members:
            name = m.filename.rsplit("/", 1)[-1][: -len(".csv")].lower()
            if name in TABLES:
                tables[name] = archive.read(m).decode("utf-8")
    except zipfile.BadZipFile:
        raise UnreadableError("bad_archive", "Cette archive zip est illisible.") from None
    except UnicodeDecodeError:
        raise UnreadableError(
            "not_utf8", "Les fichiers CSV doivent être encodés en UTF-8."
        ) from None
    return tables
