"""The family's door (issue 14): access letters, the guardian's session and what it may
see and do, documents in the guardian's language read back from the PDF."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pypdf import PdfReader

from relais_parcours.service.deadlines import fire_due_deadlines
from relais_parcours.service.family_notices import announce_expiring_consents

from .checks import CMPP, Harness, field_error

pytestmark = pytest.mark.integration

CLAS = "clas-saint-sever"
FAMILY = {
    "child": {"first_name": "Yasmine", "last_name": "Haddad", "birth_date": "2016-05-02"},
    "guardians": [
        {
            "first_name": "Nadia",
            "last_name": "Haddad",
            "relationship": "mother",
            "phone": "06 11 22 33 44",
            "address": "12 rue des Lilas, 76600 Le Havre",
            "languages": ["ar", "fr"],
            "interpreter_needed": True,
        },
        {
            "first_name": "Karim",
            "last_name": "Haddad",
            "relationship": "father",
            "email": "karim@example.org",
            "languages": ["tr"],
        },
    ],
    "referrer": {"name": "Mme Durand", "role": "directrice"},
    "description": "Ne parle pas en classe depuis la rentrée.",
}


def pdf_text(content: bytes) -> str:
    assert content[:5] == b"%PDF-"
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


async def family_in_parcours(h: Harness, identity: dict[str, Any] = FAMILY) -> dict[str, str]:
    """A taken-up situation for the Haddad family: consent for the CMPP (health) and the
    CLAS (schooling), one health action handed over to the CMPP and read by it."""
    await h.add_partner(CMPP, "cmpp")
    await h.add_partner(CLAS, "clas")
    _, situation_id = await h.open_situation(identity=identity)
    assert (await h.decide(situation_id)).status_code == 201
    referent_id = await h.add_referent("claire-morel")
    coordinator = h.auth("coordinator")
    await h.http.put(
        f"/v1/referents/{referent_id}",
        json={"user_sub": "claire-morel", "display_name": "Claire Morel"},
        headers=coordinator,
    )
    r = await h.http.put(
        f"/v1/situations/{situation_id}/referent",
        json={"referent_id": referent_id},
        headers=coordinator,
    )
    assert r.status_code == 200, r.text
    await h.http.put(
        "/v1/family-contact",
        json={"name": "PRE du Havre", "phone": "02 35 00 00 00", "hours": "lundi-vendredi 9h-17h"},
        headers=coordinator,
    )
    consent = await h.give_consent(
        situation_id,
        [
            {"partner_id": CMPP, "data_categories": ["identity_and_contact", "health"]},
            {"partner_category": "clas", "data_categories": ["schooling"]},
        ],
        referent_sub="claire-morel",
        guardians=[
            {"label": "Nadia Haddad", "relationship": "mother"},
            {"label": "Karim Haddad", "relationship": "father"},
        ],
    )
    assert consent.status_code == 201, consent.text
    referent = h.auth("referent", sub="claire-morel")
    base = f"/v1/situations/{situation_id}/plan"
    objective = await h.http.post(
        f"{base}/objectives",
        json={"axis": "health", "title": "Bilan orthophonique"},
        headers=referent,
    )
    action = await h.http.post(
        f"{base}/objectives/{objective.json()['id']}/actions",
        json={"title": "Séances chez l'orthophoniste"},
        headers=referent,
    )
    handover = await h.http.post(
        f"/v1/situations/{situation_id}/handovers",
        json={
            "action_id": action.json()["id"],
            "partner_id": CMPP,
            "data_categories": ["identity_and_contact", "health"],
            "message": "NOTE-INTERNE mère épuisée, à voir vite.",
        },
        headers=referent,
    )
    assert handover.status_code == 201, handover.text
    partner = h.auth("partner", CMPP)
    url = f"/v1/handovers/{handover.json()['id']}"
    await h.http.post(f"{url}/acceptance", json={"starts_on": "2026-12-07"}, headers=partner)
    assert (await h.http.get(f"{url}/sheet", headers=partner)).status_code == 200
    return {
        "situation_id": situation_id,
        "consent_id": consent.json()["id"],
        "sheet": f"{url}/sheet",
    }


async def letter(h: Harness, situation_id: str, guardian: int = 0) -> dict[str, Any]:
    r = await h.http.post(
        f"/v1/situations/{situation_id}/family-letters",
        json={"guardian": guardian},
        headers=h.auth("referent", sub="claire-morel"),
    )
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    issued: dict[str, Any] = r.json()
    return issued


async def session(h: Harness, issued: dict[str, Any]) -> dict[str, str]:
    r = await h.http.post(
        "/v1/family/sessions", json={"link": issued["link"], "code": issued["code"]}
    )
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def test_a_guardian_opens_its_space_with_link_and_code_and_sees_it_in_plain_words(
    parcours: Harness,
) -> None:
    h = parcours
    s = await family_in_parcours(h)
    issued = await letter(h, s["situation_id"])
    assert issued["language"] == "ar"
    assert "Haddad" not in issued["link"]
    assert s["situation_id"] not in issued["link"]

    space = await h.http.get("/v1/family/space", headers=await session(h, issued))

    assert space.status_code == 200, space.text
    view = space.json()
    assert view["guardian"]["first_name"] == "Nadia"
    assert view["referent_first_name"] == "Claire"
    assert view["pre_contact"]["phone"] == "02 35 00 00 00"
    assert {p["partner_id"]: p["data_categories"] for p in view["consent"]["partners"]} == {
        CLAS: ["schooling"],
        CMPP: ["health", "identity_and_contact"],
    }
    assert view["plan"][0]["actions"][0]["title"] == "Séances chez l'orthophoniste"
    assert [line["partner_name"] for line in view["ledger"]] == [f"Partenaire {CMPP}"]
    assert "NOTE-INTERNE" not in space.text
    assert "rue des Lilas" not in space.text


async def test_a_letter_opens_once_and_a_wrong_code_five_times_locks_it(
    parcours: Harness,
) -> None:
    h = parcours
    s = await family_in_parcours(h)
    issued = await letter(h, s["situation_id"])
    await session(h, issued)

    again = await h.http.post(
        "/v1/family/sessions", json={"link": issued["link"], "code": issued["code"]}
    )
    fresh = await letter(h, s["situation_id"])
    wrong = [
        await h.http.post("/v1/family/sessions", json={"link": fresh["link"], "code": "AAAA-AAAA"})
        for _ in range(5)
    ]
    right_too_late = await h.http.post(
        "/v1/family/sessions", json={"link": fresh["link"], "code": fresh["code"]}
    )

    assert again.status_code == 403
    assert again.json()["code"] == "letter_used"
    assert [w.status_code for w in wrong] == [401, 401, 401, 401, 403]
    assert wrong[0].json()["message"].startswith("Ce lien ou ce code n'est pas reconnu")
    assert right_too_late.json()["code"] == "letter_locked"
    assert "nouvelle lettre" in right_too_late.json()["message"]


async def test_a_revoked_letter_ends_its_session_and_opens_nothing(parcours: Harness) -> None:
    h = parcours
    s = await family_in_parcours(h)
    issued = await letter(h, s["situation_id"])
    unused = await letter(h, s["situation_id"], guardian=1)
    guardian = await session(h, issued)
    referent = h.auth("referent", sub="claire-morel")
    base = f"/v1/situations/{s['situation_id']}/family-letters"

    for one in (issued, unused):
        r = await h.http.post(f"{base}/{one['id']}/revocation", headers=referent)
        assert r.status_code == 204
    listed = (await h.http.get(base, headers=referent)).json()

    ended = await h.http.get("/v1/family/space", headers=guardian)
    refused = await h.http.post(
        "/v1/family/sessions", json={"link": unused["link"], "code": unused["code"]}
    )
    assert ended.status_code == 403
    assert ended.json()["code"] == "letter_revoked"
    assert refused.status_code == 403
    assert refused.json()["message"] == (
        "Cette lettre a été annulée. Demandez une nouvelle lettre à votre référent·e."
    )
    assert {entry["status"] for entry in listed} == {"revoked"}
    assert "code" not in listed[0]
    assert "link" not in listed[0]


async def test_an_expired_letter_is_refused_in_french(parcours: Harness) -> None:
    h = parcours
    s = await family_in_parcours(h)
    issued = await letter(h, s["situation_id"])
    async with h.db() as conn:
        await conn.execute(
            "UPDATE family_letters SET expires_at = $2 WHERE id = $1",
            uuid.UUID(issued["id"]),
            datetime.now(UTC) - timedelta(minutes=1),
        )

    r = await h.http.post(
        "/v1/family/sessions", json={"link": issued["link"], "code": issued["code"]}
    )

    assert r.status_code == 403
    assert r.json() == {
        "code": "letter_expired",
        "message": "Cette lettre a expiré. Demandez une nouvelle lettre à votre référent·e.",
    }


async def test_a_guardian_session_opens_no_staff_route_and_no_other_child(
    parcours: Harness,
) -> None:
    h = parcours
    s = await family_in_parcours(h)
    other_family = {**FAMILY, "child": {**FAMILY["child"], "first_name": "Adam"}}
    _, other_situation = await h.open_situation(identity=other_family)
    guardian = await session(h, await letter(h, s["situation_id"]))

    staff_routes = [
        await h.http.get(f"/v1/situations/{s['situation_id']}", headers=guardian),
        await h.http.get(f"/v1/situations/{other_situation}", headers=guardian),
        await h.http.get("/v1/situations", headers=guardian),
        await h.http.get(s["sheet"], headers=guardian),
        await h.http.get(f"/v1/situations/{s['situation_id']}/disclosures", headers=guardian),
    ]
    staff_on_family = await h.http.get("/v1/family/space", headers=h.auth("referent"))

    assert [r.status_code for r in staff_routes] == [403] * len(staff_routes)
    assert staff_on_family.status_code == 403


async def test_withdrawing_for_one_partner_cuts_it_off_at_once_and_keeps_the_others(
    parcours: Harness,
) -> None:
    h = parcours
    s = await family_in_parcours(h)
    guardian = await session(h, await letter(h, s["situation_id"]))

    r = await h.http.post(
        "/v1/family/consent/withdrawal", json={"partner_id": CMPP}, headers=guardian
    )

    assert r.status_code == 200, r.text
    assert r.json() == {"partners_cut_off": [CMPP]}
    refused = await h.http.get(s["sheet"], headers=h.auth("partner", CMPP))
    assert refused.status_code == 403
    given = await h.event("consent.given", supersedes_consent_id=s["consent_id"])
    assert given["data"]["scope"] == [{"partner_id": CLAS, "data_categories": ["schooling"]}]
    await h.event("handover.cancelled", reason="consent_withdrawn")
    ledger = (
        await h.http.get(
            f"/v1/situations/{s['situation_id']}/consents", headers=h.auth("coordinator")
        )
    ).json()
    assert [c["status"] for c in ledger] == ["superseded", "active"]
    space = (await h.http.get("/v1/family/space", headers=guardian)).json()
    assert [p["partner_id"] for p in space["consent"]["partners"]] == [CLAS]
    again = await h.http.post(
        "/v1/family/consent/withdrawal", json={"partner_id": CMPP}, headers=guardian
    )
    assert field_error(again)["field"] == "partner_id"


async def test_withdrawing_everything_is_the_same_event_as_when_staff_record_it(
    parcours: Harness,
) -> None:
    h = parcours
    s = await family_in_parcours(h)
    guardian = await session(h, await letter(h, s["situation_id"], guardian=1))

    r = await h.http.post("/v1/family/consent/withdrawal", json={}, headers=guardian)

    assert r.status_code == 200, r.text
    withdrawn = await h.event("consent.withdrawn", consent_id=s["consent_id"])
    assert withdrawn["data"]["partner_ids"] == [CMPP]
    ledger = (
        await h.http.get(
            f"/v1/situations/{s['situation_id']}/consents", headers=h.auth("coordinator")
        )
    ).json()
    assert ledger[-1]["status"] == "withdrawn"
    assert (await h.http.get(s["sheet"], headers=h.auth("partner", CMPP))).status_code == 403


async def test_a_request_for_erasure_reaches_the_coordinators_with_a_month_to_answer(
    parcours: Harness,
) -> None:
    h = parcours
    s = await family_in_parcours(h)
    guardian = await session(h, await letter(h, s["situation_id"]))

    made = await h.http.post(
        "/v1/family/requests",
        json={"kind": "erasure", "details": "Je veux que l'école ne garde rien."},
        headers=guardian,
    )
    listed = await h.http.get("/v1/family-requests?status=open", headers=h.auth("coordinator"))
    answered = await h.http.post(
        f"/v1/family-requests/{made.json()['id']}/answer",
        json={"answer": "Nous effaçons la fiche le 15 décembre."},
        headers=h.auth("coordinator"),
    )
    referent_cannot = await h.http.get("/v1/family-requests", headers=h.auth("referent"))
    space = (await h.http.get("/v1/family/space", headers=guardian)).json()

    assert made.status_code == 201, made.text
    made_on = datetime.fromisoformat(made.json()["made_at"]).date()
    due = datetime.fromisoformat(made.json()["due_on"]).date()
    assert 28 <= (due - made_on).days <= 31
    [item] = listed.json()
    assert item["kind"] == "erasure"
    assert item["overdue"] is False
    assert answered.status_code == 204
    assert referent_cannot.status_code == 403
    assert space["requests"][0]["answer"] == "Nous effaçons la fiche le 15 décembre."
    async with h.db() as conn:
        deadline = await conn.fetchrow(
            "SELECT kind, due_on, resolved_at FROM deadlines WHERE family_request_id = $1",
            uuid.UUID(made.json()["id"]),
        )
    assert deadline["kind"] == "family_request"
    assert deadline["resolved_at"] is not None


async def test_a_guardian_chooses_language_and_only_a_channel_it_can_be_reached_on(
    parcours: Harness,
) -> None:
    h = parcours
    s = await family_in_parcours(h)
    guardian = await session(h, await letter(h, s["situation_id"]))

    email = await h.http.put(
        "/v1/family/preferences", json={"language": "pt", "channel": "email"}, headers=guardian
    )
    sms = await h.http.put(
        "/v1/family/preferences", json={"language": "pt", "channel": "sms"}, headers=guardian
    )
    space = (await h.http.get("/v1/family/space", headers=guardian)).json()

    error = field_error(email)
    assert error["field"] == "channel"
    assert "adresse e-mail" in error["message"]
    assert sms.status_code == 204
    assert (space["language"], space["channel"]) == ("pt", "sms")


async def test_the_access_letter_is_printed_in_the_guardians_language_with_its_code(
    parcours: Harness,
) -> None:
    h = parcours
    s = await family_in_parcours(h)
    r = await h.http.post(
        f"/v1/situations/{s['situation_id']}/family-letters",
        json={"guardian": 0},
        headers={**h.auth("referent", sub="claire-morel"), "Accept": "application/pdf"},
    )

    assert r.status_code == 201, r.text
    assert r.headers["content-type"] == "application/pdf"
    text = pdf_text(r.content)
    assert "رسالة الدخول إلى فضاء العائلة" in text  # title, in Arabic
    assert "Nadia Haddad" in text
    assert "Claire" in text
    assert "02 35 00 00 00" in text
    [listed] = (
        await h.http.get(
            f"/v1/situations/{s['situation_id']}/family-letters",
            headers=h.auth("referent", sub="claire-morel"),
        )
    ).json()
    assert listed["status"] == "usable"


async def test_documents_follow_each_guardian_and_print_nothing_outside_the_consent(
    parcours: Harness,
) -> None:
    h = parcours
    s = await family_in_parcours(h)
    referent = h.auth("referent", sub="claire-morel")
    base = f"/v1/situations/{s['situation_id']}/family-documents"
    await h.add_partner("maison-des-ados", "other")

    consent_fr = await h.http.get(f"{base}/consent_form?guardian=0", headers=referent)
    consent_tr = await h.http.get(f"{base}/consent_form?guardian=1", headers=referent)
    ledger = await h.http.get(f"{base}/ledger?guardian=1", headers=referent)
    plan = await h.http.get(f"{base}/plan?guardian=1", headers=referent)

    arabic = pdf_text(consent_fr.content)
    turkish = pdf_text(consent_tr.content)
    assert "موافقة على مشاركة المعلومات" in arabic
    assert "Nadia Haddad" in arabic
    assert "Bilgi paylaşımı için onay" in turkish
    assert "Karim Haddad" in turkish
    for text in (arabic, turkish):
        assert f"Partenaire {CMPP}" in text
        assert f"Partenaire {CLAS}" in text
        assert "maison-des-ados" not in text
    ledger_text = pdf_text(ledger.content)
    assert "Çocuğunuzla ilgili kim neyi okudu" in ledger_text
    assert f"Partenaire {CMPP}" in ledger_text
    assert "sağlık" in ledger_text
    plan_text = pdf_text(plan.content)
    assert "Sağlık" in plan_text
    assert "Bilan orthophonique" in plan_text
    for content in (consent_fr, consent_tr, ledger, plan):
        text = pdf_text(content.content)
        assert "NOTE-INTERNE" not in text
        assert "rue des Lilas" not in text
        assert "06 11 22 33 44" not in text
        assert "Ne parle pas en classe" not in text


async def test_a_guardian_reads_its_ledger_in_arabic_from_its_own_space(
    parcours: Harness,
) -> None:
    h = parcours
    s = await family_in_parcours(h)
    guardian = await session(h, await letter(h, s["situation_id"]))

    r = await h.http.get("/v1/family/documents/ledger", headers=guardian)

    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    text = pdf_text(r.content)
    assert "من قرأ ماذا عن طفلكم" in text
    assert f"Partenaire {CMPP}" in text


async def test_an_unanswered_request_falls_overdue_after_a_month_for_the_coordinators(
    parcours: Harness,
) -> None:
    h = parcours
    s = await family_in_parcours(h)
    guardian = await session(h, await letter(h, s["situation_id"]))
    made = await h.http.post(
        "/v1/family/requests",
        json={"kind": "correction", "details": "La date de naissance est fausse."},
        headers=guardian,
    )
    due = datetime.fromisoformat(made.json()["due_on"]).replace(hour=12, tzinfo=UTC)
    ctx = h.app.state.parcours

    before = await fire_due_deadlines(ctx.units.sweep(), ctx, now=due)
    after = await fire_due_deadlines(ctx.units.sweep(), ctx, now=due + timedelta(days=1))

    assert before == 0
    assert after == 1
    overdue = await h.event("deadline.overdue", deadline_kind="family_request")
    assert overdue["data"]["situation_id"] == s["situation_id"]
    assert "date de naissance" not in str(overdue)


async def test_erasure_ends_every_letter_and_clears_the_familys_words(parcours: Harness) -> None:
    h = parcours
    s = await family_in_parcours(h)
    issued = await letter(h, s["situation_id"])
    unused = await letter(h, s["situation_id"], guardian=1)
    guardian = await session(h, issued)
    made = await h.http.post(
        "/v1/family/requests",
        json={"kind": "erasure", "details": "Effacez tout, merci."},
        headers=guardian,
    )
    assert made.status_code == 201

    erased = await h.http.post(
        f"/v1/situations/{s['situation_id']}/erasure",
        json={"reason": "data_subject_request"},
        headers=h.auth("coordinator"),
    )

    assert erased.status_code < 300, erased.text
    assert (await h.http.get("/v1/family/space", headers=guardian)).status_code == 403
    refused = await h.http.post(
        "/v1/family/sessions", json={"link": unused["link"], "code": unused["code"]}
    )
    assert refused.status_code == 403
    [request] = (await h.http.get("/v1/family-requests", headers=h.auth("coordinator"))).json()
    assert request["details"] is None


async def test_a_handover_to_a_new_partner_is_told_to_each_parent_once_in_its_language(
    parcours: Harness,
) -> None:
    h = parcours
    s = await family_in_parcours(h)  # one handover to the CMPP
    mother = await session(h, await letter(h, s["situation_id"]))
    referent = h.auth("referent", sub="claire-morel")

    pending = (await h.http.get("/v1/family-notices", headers=referent)).json()
    space = (await h.http.get("/v1/family/space", headers=mother)).json()

    assert {(n["guardian"], n["channel"], n["language"]) for n in pending} == {
        (0, "sms", "ar"),
        (1, "email", "tr"),
    }
    [to_father] = [n for n in pending if n["guardian"] == 1]
    assert f"Partenaire {CMPP}" in to_father["text"]
    assert to_father["text_fr"].startswith("Votre enfant va aussi être aidé par")
    [notice] = space["notices"]
    assert notice["text"].startswith("سيساعد")
    assert "NOTE-INTERNE" not in str(pending) + str(space)
    sent = await h.http.post(f"/v1/family-notices/{to_father['id']}/sent", headers=referent)
    assert sent.status_code == 204
    left = (await h.http.get("/v1/family-notices", headers=referent)).json()
    assert [n["guardian"] for n in left] == [0]
    other_referent = await h.http.get(
        "/v1/family-notices", headers=h.auth("referent", sub="referente-1")
    )
    assert other_referent.status_code == 403  # not a référent of this PRE's list


async def test_a_consent_ending_within_a_month_is_announced_once_to_each_parent(
    parcours: Harness,
) -> None:
    h = parcours
    s = await family_in_parcours(h)
    ends = (datetime.now(UTC) + timedelta(days=20)).date()
    again = await h.give_consent(
        s["situation_id"],
        [{"partner_id": CMPP, "data_categories": ["health"]}],
        referent_sub="claire-morel",
        valid_until=ends.isoformat(),
        guardians=[
            {"label": "Nadia Haddad", "relationship": "mother"},
            {"label": "Karim Haddad", "relationship": "father"},
        ],
    )
    assert again.status_code == 201, again.text
    ctx = h.app.state.parcours

    first = await announce_expiring_consents(ctx.units.sweep(), ctx)
    second = await announce_expiring_consents(ctx.units.sweep(), ctx)

    assert (first, second) == (2, 0)
    pending = (await h.http.get("/v1/family-notices", headers=h.auth("coordinator"))).json()
    expiring = [n for n in pending if n["kind"] == "consent_expiring"]
    assert len(expiring) == 2
    assert all(str(ends.year) in n["text_fr"] for n in expiring)
