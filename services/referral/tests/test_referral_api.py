"""Service tests: the referral HTTP API against a real PostgreSQL (and broker for the runtime)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from relais_referral.adapters import fiches
from relais_referral.adapters.fiches import FICHE_COLUMNS, FICHE_JOIN
from relais_referral.config import ReferralSettings
from relais_referral.entrypoints.maintenance import idempotency_pruner
from relais_referral.entrypoints.schemas import ReferralRequest
from relais_referral.main import create_app
from relais_runtime.sealing import unseal

pytestmark = pytest.mark.integration

SCHOOL = "ecole-jules-ferry-rouen"
COLLEGE = "college-barbey-daurevilly"


async def post(app: Any, body: dict[str, Any], org: str = SCHOOL, **headers: str) -> Any:
    return await app.http.post(
        "/v1/referrals", json=body, headers=app.auth("institution", org) | headers
    )


async def test_a_referral_comes_back_to_its_sender_with_the_fiche_and_timeline(
    app: Any, fiche: Any
) -> None:
    await app.register(SCHOOL)
    r = await post(app, fiche())
    assert r.status_code == 201, r.text
    view = r.json()
    assert view["status"] == "received"
    assert view["channel"] == "http"
    assert [t["status"] for t in view["timeline"]] == ["received"]
    assert view["referral"]["child"]["first_name"] == "Éloïse"
    assert view["referral"]["guardians"][0]["phone"] == "0612345678"

    again = await app.http.get(
        f"/v1/referrals/{view['id']}", headers=app.auth("institution", SCHOOL)
    )
    assert again.json() == view


async def test_identity_is_encrypted_at_rest_and_sealed_on_the_wire(app: Any, fiche: Any) -> None:
    await app.register(SCHOOL)
    r = await post(app, fiche())
    async with app.runtime.pool.acquire() as conn:
        row = await conn.fetchrow(
            f"SELECT {FICHE_COLUMNS} FROM referrals r {FICHE_JOIN} WHERE r.id = $1::uuid",
            r.json()["id"],
        )
        values = []
        for table in (
            "referrals",
            "subjects",
            "subject_keys",
            "referral_timeline",
            "relais_outbox",
        ):
            for rec in await conn.fetch(f"SELECT * FROM {table}"):
                values += [
                    v.decode(errors="replace") if isinstance(v, bytes) else str(v)
                    for v in rec.values()
                ]
        columns = await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'referrals'"
        )
    everything = " ".join(values)
    for needle in ("Éloïse", "Eloise", "Le Gall", "2017-03-14", "0612345678", "durand@", "lecture"):
        assert needle not in everything
    # At rest: under the child's own key, opened through the wrapped key of its subject.
    assert row["identity"] is None
    opened = fiches.open_fiche(app.keys, "pre-76540", row)
    assert opened is not None
    assert opened["child"]["last_name"] == "Le Gall-Martin"
    # On the wire: sealed to the PRE (parcours opens it); no copy of that JWE is kept here.
    assert "sealed" not in {c["column_name"] for c in columns}
    [submitted] = await app.outbox("referral.submitted.v1")
    private = app.keys.pre_keys.private_keys("pre-76540")
    assert unseal(submitted["data"]["sealed"], private)["child"]["first_name"] == "Éloïse"
    assert submitted["data"]["facts"]["school_level"] == "ce2"


async def test_the_same_child_from_another_institution_is_a_known_subject_for_the_pre_only(
    app: Any, fiche: Any
) -> None:
    await app.register(SCHOOL)
    await app.register(COLLEGE)
    first = (await post(app, fiche())).json()
    body = fiche()
    body["child"] |= {"first_name": "ELOISE", "last_name": "le gall martin"}
    second = await post(app, body, org=COLLEGE)
    assert second.status_code == 201
    # The PRE learns it is the same child (on the wire, for parcours)...
    events = [e["data"] for e in await app.outbox("referral.submitted.v1")]
    assert [e["known_subject"] for e in events] == [False, True]
    assert events[0]["subject_id"] == events[1]["subject_id"]
    assert events[0]["referral_id"] == first["id"]

    other_child = fiche()
    other_child["child"] |= {"birth_date": "2016-03-14"}
    await post(app, other_child, org=COLLEGE)
    events = [e["data"] for e in await app.outbox("referral.submitted.v1")]
    assert events[-1]["known_subject"] is False


async def test_a_sender_is_never_told_that_the_pre_already_knows_the_child(
    app: Any, fiche: Any
) -> None:
    await app.register(SCHOOL)
    await app.register(COLLEGE)
    await post(app, fiche())
    college = app.auth("institution", COLLEGE)
    posted = await post(app, fiche(), org=COLLEGE)
    assert posted.status_code == 201, posted.text
    read = await app.http.get(f"/v1/referrals/{posted.json()['id']}", headers=college)
    listed = await app.http.get("/v1/referrals", headers=college)
    # Another institution's referral of the same child is none of this sender's business.
    for answer in (posted.json(), read.json(), listed.json()["items"][0]):
        assert "known_subject" not in answer
    assert "known_subject" not in json.dumps(listed.json())


async def test_concurrent_referrals_of_one_child_share_one_subject(app: Any, fiche: Any) -> None:
    await app.register(SCHOOL)
    await app.register(COLLEGE)
    results = await asyncio.gather(*(post(app, fiche(), org=o) for o in (SCHOOL, COLLEGE) * 3))
    assert all(r.status_code == 201 for r in results)
    subjects = {e["data"]["subject_id"] for e in await app.outbox("referral.submitted.v1")}
    assert len(subjects) == 1


async def test_an_idempotent_retry_returns_the_first_referral(app: Any, fiche: Any) -> None:
    await app.register(SCHOOL)
    await app.register(COLLEGE)
    first = await post(app, fiche(), **{"Idempotency-Key": "fiche-42"})
    retry = await post(app, fiche(), **{"Idempotency-Key": "fiche-42"})
    assert first.status_code == 201
    assert retry.status_code == 200
    assert retry.headers["Idempotent-Replayed"] == "true"
    # The first answer is what was written, the replay's is read back: the same view.
    assert retry.json() == first.json()
    assert len(await app.outbox("referral.submitted.v1")) == 1

    changed = fiche(axes=["health"])
    conflict = await post(app, changed, **{"Idempotency-Key": "fiche-42"})
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "idempotency_key_reused"
    assert "clé d'idempotence" in conflict.json()["message"]

    # Keys belong to one institution: another may use the same one for its own referral.
    elsewhere = await post(app, fiche(), org=COLLEGE, **{"Idempotency-Key": "fiche-42"})
    assert elsewhere.status_code == 201
    assert elsewhere.json()["id"] != first.json()["id"]


async def test_an_idempotency_key_past_its_retention_is_pruned_and_a_recent_one_is_kept(
    app: Any, fiche: Any, database_dsn: str, amqp_url: str, keys_dir: Any
) -> None:
    await app.register(SCHOOL)
    old = await post(app, fiche(), **{"Idempotency-Key": "fiche-old"})
    recent = await post(app, fiche(), **{"Idempotency-Key": "fiche-recent"})
    assert (old.status_code, recent.status_code) == (201, 201)
    async with app.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE relais_idempotency SET created_at = now() - interval '31 days' "
            "WHERE key = 'fiche-old'"
        )
    # A second replica, started through its lifespan, prunes it (default retention 30 days).
    settings = ReferralSettings(
        database_url=database_dsn,
        amqp_url=amqp_url,
        jwks_path=keys_dir / "jwks.json",
        keys_dir=keys_dir,
        idempotency_prune_batch=1,
        maintenance_interval_s=0.1,
    )
    assert settings.idempotency_retention_days == 30
    replica = create_app(settings)
    async with replica.router.lifespan_context(replica):

        async def pruned() -> bool:
            async with app.runtime.pool.acquire() as conn:
                keys = await conn.fetchval("SELECT array_agg(key) FROM relais_idempotency")
            return bool(keys == ["fiche-recent"])

        for _ in range(100):
            if await pruned():
                break
            await asyncio.sleep(0.1)
        assert await pruned()
    # Nothing left past its retention: the replica that runs next prunes nothing.
    assert await idempotency_pruner(app.runtime, settings).run_once() == 0
    # The pruned key no longer replays: a new referral, still recognised as the same child.
    again = await post(app, fiche(), **{"Idempotency-Key": "fiche-old"})
    assert again.status_code == 201, again.text
    assert again.json()["id"] != old.json()["id"]
    assert await app.known_subject(again.json()["id"]) is True
    kept = await post(app, fiche(), **{"Idempotency-Key": "fiche-recent"})
    assert kept.status_code == 200
    assert kept.json()["id"] == recent.json()["id"]


def test_the_idempotency_retention_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REFERRAL_IDEMPOTENCY_RETENTION_DAYS", "90")
    assert ReferralSettings().idempotency_retention_days == 90


async def test_concurrent_retries_with_one_key_create_one_referral(app: Any, fiche: Any) -> None:
    await app.register(SCHOOL)
    results = await asyncio.gather(
        *(post(app, fiche(), **{"Idempotency-Key": "same"}) for _ in range(5))
    )
    assert sorted(r.status_code for r in results) == [200, 200, 200, 200, 201]
    assert len({r.json()["id"] for r in results}) == 1


async def test_bad_input_gets_a_french_error_naming_the_field(app: Any, fiche: Any) -> None:
    await app.register(SCHOOL)
    body = fiche()
    body["referrer"]["email"] = "pas-une-adresse"
    body["guardians"][0]["phone"] = "0612"
    r = await post(app, body)
    assert r.status_code == 422
    errors = {e["field"]: e for e in r.json()["errors"]}
    assert errors["referrer.email"]["code"] == "email_invalid"
    assert errors["guardians.0.phone"]["code"] == "phone_invalid"
    assert "0612" not in r.text
    assert "pas-une-adresse" not in r.text

    bad_key = await post(app, fiche(), **{"Idempotency-Key": "a b"})
    assert bad_key.status_code == 422
    assert bad_key.json()["errors"][0]["field"] == "header.Idempotency-Key"


async def test_without_parental_agreement_there_is_no_referral(app: Any, fiche: Any) -> None:
    await app.register(SCHOOL)
    r = await post(app, fiche(parents_agree=False))
    assert r.status_code == 422
    assert r.json()["code"] == "parents_agreement_required"
    assert "accord des parents" in r.json()["message"]
    assert await app.outbox() == []


async def test_only_registered_active_institutions_of_the_pre_may_refer(
    app: Any, fiche: Any
) -> None:
    r = await post(app, fiche())
    assert (r.status_code, r.json()["code"]) == (403, "institution_not_registered")
    await app.register(SCHOOL)
    admin = app.auth("admin", "pre-76540-coordination")
    off = await app.http.post(f"/v1/institutions/{SCHOOL}/deactivate", headers=admin)
    assert off.json()["active"] is False
    r = await post(app, fiche())
    assert (r.status_code, r.json()["code"]) == (403, "institution_inactive")
    await app.http.post(f"/v1/institutions/{SCHOOL}/activate", headers=admin)
    assert (await post(app, fiche())).status_code == 201

    foreign = await app.http.post(
        "/v1/referrals",
        json=fiche(tenant="pre-14118"),
        headers=app.auth("institution", SCHOOL),
    )
    assert foreign.status_code == 403


async def test_an_institution_sees_only_its_own_referrals(app: Any, fiche: Any) -> None:
    await app.register(SCHOOL)
    await app.register(COLLEGE)
    mine = (await post(app, fiche())).json()
    await post(app, fiche(), org=COLLEGE)
    hidden = await app.http.get(
        f"/v1/referrals/{mine['id']}", headers=app.auth("institution", COLLEGE)
    )
    assert hidden.status_code == 404
    assert hidden.json()["code"] == "referral_not_found"
    other_tenant = await app.http.get(
        f"/v1/referrals/{mine['id']}", headers=app.auth("institution", SCHOOL, tenant="pre-14118")
    )
    assert other_tenant.status_code == 404
    page = (await app.http.get("/v1/referrals", headers=app.auth("institution", COLLEGE))).json()
    assert page["total"] == 1
    assert page["items"][0]["id"] != mine["id"]


async def test_the_list_filters_by_status_and_paginates(app: Any, fiche: Any) -> None:
    await app.register(SCHOOL)
    ids = [(await post(app, fiche())).json()["id"] for _ in range(3)]
    school = app.auth("institution", SCHOOL)
    await app.http.post(f"/v1/referrals/{ids[0]}/withdraw", headers=school)

    page = (await app.http.get("/v1/referrals?limit=2", headers=school)).json()
    assert (page["total"], len(page["items"]), page["limit"]) == (3, 2, 2)
    rest = (await app.http.get("/v1/referrals?limit=2&offset=2", headers=school)).json()
    assert len(rest["items"]) == 1
    assert {i["id"] for i in page["items"] + rest["items"]} == set(ids)
    assert page["items"][0]["child_first_name"] == "Éloïse"

    withdrawn = (await app.http.get("/v1/referrals?status=withdrawn", headers=school)).json()
    assert [i["id"] for i in withdrawn["items"]] == [ids[0]]
    both = await app.http.get("/v1/referrals?status=withdrawn&status=received", headers=school)
    assert both.json()["total"] == 3
    bad = await app.http.get("/v1/referrals?status=lost&limit=0", headers=school)
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"query.status.0", "query.limit"}


async def test_an_offset_beyond_any_page_is_refused_on_its_field(app: Any) -> None:
    await app.register(SCHOOL)
    admin = app.auth("admin", "pre-76540-coordination")
    for path, who in [
        ("/v1/referrals", app.auth("institution", SCHOOL)),
        ("/v1/institutions", admin),
    ]:
        # Larger than PostgreSQL's bigint: used to reach the database and give a 500.
        r = await app.http.get(f"{path}?offset={2**70}", headers=who)
        assert r.status_code == 422, r.text
        assert [(e["field"], e["code"]) for e in r.json()["errors"]] == [
            ("query.offset", "less_than_equal")
        ]


async def test_the_sender_withdraws_a_referral_not_yet_taken_up(app: Any, fiche: Any) -> None:
    await app.register(SCHOOL)
    await app.register(COLLEGE)
    referral = (await post(app, fiche())).json()
    url = f"/v1/referrals/{referral['id']}/withdraw"
    assert (await app.http.post(url, headers=app.auth("institution", COLLEGE))).status_code == 404

    r = await app.http.post(url, headers=app.auth("institution", SCHOOL))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "withdrawn"
    assert [t["status"] for t in r.json()["timeline"]] == ["received", "withdrawn"]
    [withdrawn] = await app.outbox("referral.withdrawn.v1")
    assert withdrawn["data"]["referral_id"] == referral["id"]
    assert withdrawn["sequence"] == 2
    changes = [e["data"] for e in await app.outbox("referral.status_changed.v1")]
    assert [(c["status"], c.get("previous_status")) for c in changes] == [
        ("received", None),
        ("withdrawn", "received"),
    ]
    again = await app.http.post(url, headers=app.auth("institution", SCHOOL))
    assert (again.status_code, again.json()["code"]) == (409, "referral_not_withdrawable")


async def test_a_referral_taken_up_can_no_longer_be_withdrawn(app: Any, fiche: Any) -> None:
    await app.register(SCHOOL)
    referral = (await post(app, fiche())).json()
    async with app.runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE referrals SET status = 'taken_up' WHERE id = $1::uuid", referral["id"]
        )
    r = await app.http.post(
        f"/v1/referrals/{referral['id']}/withdraw", headers=app.auth("institution", SCHOOL)
    )
    assert r.status_code == 409
    assert "déjà pris en charge" in r.json()["message"]


async def test_the_institutions_directory(app: Any) -> None:
    admin = app.auth("coordinator", "pre-76540-coordination")
    await app.register(SCHOOL, uai="0761234A")
    await app.register("ccas-rouen", "social_service", siret="21760540100017")
    one = await app.http.get(f"/v1/institutions/{SCHOOL}", headers=admin)
    assert one.json() | {"contacts": []} == {
        "id": SCHOOL,
        "pre_id": "pre-76540",
        "name": SCHOOL,
        "category": "school",
        "uai": "0761234A",
        "siret": None,
        "contacts": [],
        "active": True,
    }
    contacts = await app.http.put(
        f"/v1/institutions/{SCHOOL}/contacts",
        json=[{"name": "Secrétariat", "role": "accueil", "phone": "02 35 00 00 00"}],
        headers=admin,
    )
    assert contacts.json()["contacts"] == [
        {"name": "Secrétariat", "role": "accueil", "phone": "0235000000"}
    ]
    bad = await app.http.put(
        f"/v1/institutions/{SCHOOL}/contacts", json=[{"name": "X", "email": "x@"}], headers=admin
    )
    assert bad.json()["errors"][0]["field"] == "0.email"
    await app.http.post(f"/v1/institutions/{SCHOOL}/deactivate", headers=admin)
    active = (await app.http.get("/v1/institutions?active=true", headers=admin)).json()
    assert [i["id"] for i in active["items"]] == ["ccas-rouen"]
    page = (await app.http.get("/v1/institutions?limit=1", headers=admin)).json()
    assert (page["total"], len(page["items"])) == (2, 1)
    missing = await app.http.get("/v1/institutions/nope", headers=admin)
    assert (missing.status_code, missing.json()["code"]) == (404, "institution_not_found")
    elsewhere = await app.http.get(
        f"/v1/institutions/{SCHOOL}", headers=app.auth("admin", "x", tenant="pre-14118")
    )
    assert elsewhere.status_code == 404
    refused = await app.http.get("/v1/institutions", headers=app.auth("institution", SCHOOL))
    assert refused.status_code == 403
    bad_uai = await app.http.put(
        f"/v1/institutions/{SCHOOL}",
        json={"id": SCHOOL, "pre_id": "pre-76540", "name": "x", "category": "school", "uai": "1"},
        headers=admin,
    )
    assert bad_uai.json()["errors"][0] == {
        "field": "uai",
        "code": "uai_invalid",
        "message": bad_uai.json()["errors"][0]["message"],
    }


async def test_a_nul_character_is_refused_on_its_field_in_the_directory(app: Any) -> None:
    # PostgreSQL text and jsonb refuse U+0000: these used to reach the database and give a 500.
    admin = app.auth("admin", "pre-76540-coordination")
    await app.register(SCHOOL)
    body = {"id": SCHOOL, "pre_id": "pre-76540", "name": "École\u0000", "category": "school"}
    named = await app.http.put(f"/v1/institutions/{SCHOOL}", json=body, headers=admin)
    assert named.status_code == 422, named.text
    assert [(e["field"], e["code"]) for e in named.json()["errors"]] == [("name", "nul_character")]
    contacts = await app.http.put(
        f"/v1/institutions/{SCHOOL}/contacts", json=[{"name": "Secrétariat\u0000"}], headers=admin
    )
    assert contacts.status_code == 422, contacts.text
    assert contacts.json()["errors"][0]["field"] == "0.name"
    for path in ["/v1/institutions/a%00b", f"/v1/institutions/{'x' * 5000}/activate"]:
        r = await app.http.request(
            "POST" if path.endswith("activate") else "GET", path, headers=admin
        )
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == "path.institution_id"


async def test_the_intake_public_key_is_published(app: Any) -> None:
    r = await app.http.get("/.well-known/jwks.json")
    [key] = r.json()["keys"]
    assert key["kty"] == "EC"
    assert "d" not in key


def test_the_request_model_is_the_one_documented() -> None:
    assert "Idempotency" not in ReferralRequest.model_json_schema()["title"]
