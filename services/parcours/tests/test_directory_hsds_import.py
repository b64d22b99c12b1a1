"""A coordinator loads an Open Referral HSDS 3 directory (JSON or tabular CSV) into the PRE's."""

from __future__ import annotations

import copy
import csv
import io
import json
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest

from .checks import Harness
from .hsds_schema import problems as schema_problems

pytestmark = pytest.mark.integration

DEMO = Path(__file__).resolve().parents[3] / "scripts" / "demo" / "partners-pre-76540.hsds.json"
DEMO_SLUGS = [
    "cmpp-rouen-rive-gauche",
    "clas-saint-sever",
    "orthophonie-grammont",
    "us-quevilly-foot",
]


def demo() -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads(DEMO.read_text())
    return loaded


async def load(
    h: Harness, document: Any, *, dry_run: bool = False, role: str = "coordinator"
) -> Any:
    return await h.http.post(
        f"/v1/directory/import?dry_run={str(dry_run).lower()}",
        content=json.dumps(document),
        headers={**h.auth(role), "content-type": "application/json"},
    )


async def slugs(h: Harness) -> list[str]:
    r = await h.http.get("/v1/partners", headers=h.auth("coordinator"))
    return sorted(p["id"] for p in r.json())


def test_the_committed_demo_directory_is_valid_hsds() -> None:
    for organization in demo():
        assert schema_problems(organization, "organization") == [], organization["name"]


async def test_the_demo_directory_comes_from_an_hsds_import_and_exports_valid_hsds(
    parcours: Harness,
) -> None:
    h = parcours
    dry = await load(h, demo(), dry_run=True)
    assert dry.status_code == 200, dry.text
    assert dry.json()["counts"] == {"create": 4, "update": 0, "unchanged": 0, "invalid": 0}
    assert dry.json()["applied"] is False
    assert await slugs(h) == []

    done = await load(h, demo())
    assert done.status_code == 200, done.text
    assert done.json()["applied"] is True
    assert await slugs(h) == sorted(DEMO_SLUGS)
    for organization in demo():
        slug = next(
            r["partner_id"] for r in done.json()["records"] if r["hsds_id"] == organization["id"]
        )
        exported = await h.http.get(f"/v1/partners/{slug}/hsds", headers=h.auth("coordinator"))
        assert schema_problems(exported.json(), "organization") == [], slug
        assert exported.json()["id"] == organization["id"]
        assert [s["id"] for s in exported.json()["services"]] == [
            s["id"] for s in organization["services"]
        ]
    cmpp = (
        await h.http.get("/v1/partners/cmpp-rouen-rive-gauche", headers=h.auth("coordinator"))
    ).json()
    assert cmpp["category"] == "cmpp"
    assert cmpp["services"][0]["wait_time"] == "environ 8 mois"
    assert cmpp["services"][0]["wait_time_days"] == 240
    assert cmpp["locations"][0]["schedules"][0]["byday"] == ["MO", "TU", "WE", "TH", "FR"]

    again = await load(h, demo())
    assert again.json()["counts"] == {"create": 0, "update": 0, "unchanged": 4, "invalid": 0}


async def test_a_dry_run_lists_what_an_import_would_change_and_writes_nothing(
    parcours: Harness,
) -> None:
    h = parcours
    assert (await load(h, demo())).status_code == 200
    changed = copy.deepcopy(demo())
    changed[1]["description"] = "Nouveau projet pour l'année scolaire."
    changed[1]["services"][0]["name"] = "Aide aux devoirs et méthodologie"
    newcomer = {
        "id": str(uuid.uuid4()),
        "name": "Maison des parents de Rouen",
        "description": "Lieu d'accueil et d'écoute pour les parents.",
    }
    report = await load(h, [*changed, newcomer], dry_run=True)
    assert report.status_code == 200, report.text
    by_name = {r["name"]: r for r in report.json()["records"]}
    assert by_name["CLAS Saint-Sever"]["action"] == "update"
    assert by_name["CLAS Saint-Sever"]["changes"] == ["description", "services"]
    assert by_name["Maison des parents de Rouen"]["action"] == "create"
    assert by_name["Maison des parents de Rouen"]["partner_id"] == "maison-des-parents-de-rouen"
    assert by_name["CMPP Rouen rive gauche"]["action"] == "unchanged"
    assert "maison-des-parents-de-rouen" not in await slugs(h)
    clas = (await h.http.get("/v1/partners/clas-saint-sever", headers=h.auth("coordinator"))).json()
    assert clas["description"] != "Nouveau projet pour l'année scolaire."


async def test_each_invalid_record_gets_a_french_error_and_nothing_is_imported(
    parcours: Harness,
) -> None:
    h = parcours
    valid = demo()[0]
    no_uuid = {**demo()[1], "id": "clas-42"}
    broken = copy.deepcopy(demo()[2])
    del broken["services"][0]["name"]
    broken["email"] = "pas-une-adresse"
    r = await load(h, [valid, no_uuid, broken])
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "import_refused"
    assert body["message"].startswith("2 organisation(s) du fichier sont invalides")
    fields = {(e["field"], e["code"]) for e in body["errors"]}
    assert ("organizations.1.id", "invalid_uuid") in fields
    assert ("organizations.2.services.0.name", "missing") in fields
    assert ("organizations.2.email", "string_pattern_mismatch") in fields
    assert all(e["message"] and e["message"][0].isupper() for e in body["errors"])
    assert [x["action"] for x in body["records"]] == ["create", "invalid", "invalid"]
    assert await slugs(h) == []

    dry = await load(h, [valid, no_uuid], dry_run=True)
    assert dry.status_code == 200
    assert dry.json()["counts"]["invalid"] == 1


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


async def test_the_hsds_tabular_csv_files_import_like_the_json(parcours: Harness) -> None:
    h = parcours
    org, svc, loc, addr, contact = (str(uuid.uuid4()) for _ in range(5))
    terms = await h.http.get("/hsds/pre-76540/taxonomy_terms", headers=h.auth("coordinator"))
    term = {t["code"]: t for t in terms.json()["contents"]}
    tables = {
        "organizations": [{"id": org, "name": "PMI Rouen Sud", "description": "Consultations"}],
        "services": [
            {
                "id": svc,
                "organization_id": org,
                "name": "Consultations infantiles",
                "status": "active",
                "minimum_age": "0",
                "maximum_age": "6",
            }
        ],
        "locations": [
            {
                "id": loc,
                "organization_id": org,
                "location_type": "physical",
                "name": "Centre PMI",
                "latitude": "49.42",
            }
        ],
        "addresses": [
            {
                "id": addr,
                "location_id": loc,
                "address_1": "5 rue de l'Exemple",
                "city": "Rouen",
                "postal_code": "76100",
                "state_province": "Seine-Maritime",
                "country": "FR",
                "address_type": "physical",
            }
        ],
        "contacts": [{"id": contact, "organization_id": org, "name": "Accueil PMI"}],
        "phones": [{"id": str(uuid.uuid4()), "contact_id": contact, "number": "02 35 00 00 09"}],
        "schedules": [
            {
                "id": str(uuid.uuid4()),
                "location_id": loc,
                "freq": "WEEKLY",
                "byday": "TU,TH",
                "opens_at": "09:00:00+01:00",
                "closes_at": "12:00:00+01:00",
            },
            {"id": str(uuid.uuid4()), "service_id": svc, "freq": "MONTHLY", "byday": "1MO"},
        ],
        "service_at_location": [{"id": str(uuid.uuid4()), "service_id": svc, "location_id": loc}],
        "attributes": [
            {
                "id": str(uuid.uuid4()),
                "link_id": org,
                "link_entity": "organization",
                "taxonomy_term_id": term["pmi"]["id"],
            },
            {
                "id": str(uuid.uuid4()),
                "link_id": svc,
                "link_entity": "service",
                "taxonomy_term_id": term["delai-attente"]["id"],
                "value": "3 semaines",
            },
        ],
    }
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        for name, rows in tables.items():
            z.writestr(f"hsds/{name}.csv", _csv(rows))
    r = await h.http.post(
        "/v1/directory/import",
        content=archive.getvalue(),
        headers={**h.auth("coordinator"), "content-type": "application/zip"},
    )
    assert r.status_code == 200, r.text
    [record] = r.json()["records"]
    assert (record["action"], record["partner_id"]) == ("create", "pmi-rouen-sud")
    assert record["notes"] == ["services.0 : horaire non hebdomadaire ou incomplet, non repris."]
    entry = (await h.http.get("/v1/partners/pmi-rouen-sud", headers=h.auth("coordinator"))).json()
    assert entry["category"] == "pmi"
    service = entry["services"][0]
    assert (service["minimum_age"], service["maximum_age"], service["wait_time"]) == (
        0,
        6,
        "3 semaines",
    )
    assert service["location_ids"] == [loc]
    assert entry["locations"][0]["schedules"] == [
        {"byday": ["TU", "TH"], "opens_at": "09:00", "closes_at": "12:00", "description": None}
    ]
    assert entry["contacts"][0]["phones"] == [{"number": "02 35 00 00 09"}]
    exported = (
        await h.http.get("/v1/partners/pmi-rouen-sud/hsds", headers=h.auth("coordinator"))
    ).json()
    assert schema_problems(exported, "organization") == []
    assert (exported["id"], exported["services"][0]["id"]) == (org, svc)


async def test_a_new_organization_gets_a_slug_no_other_pre_uses(parcours: Harness) -> None:
    h = parcours
    elsewhere = {"id": "cmpp-rouen", "pre_id": h.other_tenant, "name": "CMPP", "category": "cmpp"}
    r = await h.http.put(
        "/v1/partners/cmpp-rouen",
        json=elsewhere,
        headers=h.auth("coordinator", tenant=h.other_tenant),
    )
    assert r.status_code == 200, r.text
    twins = [
        {"id": str(uuid.uuid4()), "name": "CMPP Rouen", "description": ""},
        {"id": str(uuid.uuid4()), "name": "CMPP  Rouen !", "description": ""},
    ]
    report = (await load(h, {"contents": twins, "total_items": 2})).json()
    assert [x["partner_id"] for x in report["records"]] == ["cmpp-rouen-2", "cmpp-rouen-3"]
    assert await slugs(h) == ["cmpp-rouen-2", "cmpp-rouen-3"]


async def test_an_unreadable_file_or_a_reader_is_refused_in_french(parcours: Harness) -> None:
    h = parcours
    coordinator = h.auth("coordinator")
    bad_json = await h.http.post(
        "/v1/directory/import",
        content=b"{nope",
        headers={**coordinator, "content-type": "application/json"},
    )
    assert (bad_json.status_code, bad_json.json()["code"]) == (400, "invalid_json")
    not_hsds = await load(h, {"organisations": []})
    assert (not_hsds.status_code, not_hsds.json()["code"]) == (400, "not_hsds")
    pdf = await h.http.post(
        "/v1/directory/import",
        content=b"%PDF",
        headers={**coordinator, "content-type": "application/pdf"},
    )
    assert pdf.status_code == 415
    assert "Formats acceptés" in pdf.json()["message"]
    empty_zip = io.BytesIO()
    with zipfile.ZipFile(empty_zip, "w") as z:
        z.writestr("services.csv", "id,name\n")
    no_orgs = await h.http.post(
        "/v1/directory/import",
        content=empty_zip.getvalue(),
        headers={**coordinator, "content-type": "application/zip"},
    )
    assert (no_orgs.status_code, no_orgs.json()["code"]) == (400, "organizations_missing")
    assert (await load(h, demo(), role="referent")).status_code == 403
    assert (await load(h, demo(), role="partner")).status_code == 403
