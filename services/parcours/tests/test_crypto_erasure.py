"""Crypto-erasure of the team's words about a child (issue 15): the review note, the
caseload override reason and the message to a partner rest under the child's key, never
in clear, and are gone with it."""

from __future__ import annotations

import asyncio
import json
import uuid

import aio_pika
import pytest

from relais_contracts.topology import PARKING_EXCHANGE
from relais_parcours.service import child_texts
from relais_runtime.parking import ParkingLot

from .checks import CMPP, Harness
from .test_family_space import family_in_parcours, letter, session

pytestmark = pytest.mark.integration

NOTE = "NOTE-EPS famille en grande difficulté"
OVERRIDE = "MOTIF-DEPASSEMENT fratrie déjà suivie"


async def seal_clear_texts(h: Harness) -> int:
    """The scheduler's step that moves texts written in clear under the child's key."""
    ctx = h.app.state.parcours
    return await child_texts.seal_clear_texts(ctx.units.sweep(), ctx)


async def dump(dsn: str) -> str:
    """The whole database as pg_dump writes it (data included)."""
    proc = await asyncio.create_subprocess_exec(
        "pg_dump", "--data-only", "--inserts", dsn, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    return out.decode()


async def test_the_note_and_override_reason_never_rest_in_clear_and_die_with_the_childs_key(
    parcours: Harness, database_dsn: str
) -> None:
    h = parcours
    coordinator = h.auth("coordinator")
    _, situation_id = await h.open_situation()
    decided = await h.decide(situation_id, decision="take_up", axes=["health"], note=NOTE)
    assert decided.status_code == 201, decided.text
    referent_id = await h.add_referent("referente-1", limit=1)
    _, other = await h.open_situation()
    assert (await h.decide(other)).status_code == 201
    full = await h.http.put(
        f"/v1/situations/{other}/referent", json={"referent_id": referent_id}, headers=coordinator
    )
    assert full.status_code == 200, full.text
    assigned = await h.http.put(
        f"/v1/situations/{situation_id}/referent",
        json={"referent_id": referent_id, "override_reason": OVERRIDE},
        headers=coordinator,
    )
    assert assigned.status_code == 200, assigned.text
    async with h.db() as conn:
        meeting_id = await conn.fetchval(
            "SELECT meeting_id FROM review_decisions WHERE situation_id = $1",
            uuid.UUID(situation_id),
        )
    meeting = (await h.http.get(f"/v1/reviews/{meeting_id}", headers=coordinator)).json()
    history = f"/v1/situations/{situation_id}/referents"
    assert meeting["agenda"][0]["note"] == NOTE  # the team still reads its words…
    assert (await h.http.get(history, headers=coordinator)).json()[0]["override_reason"] == (
        OVERRIDE
    )
    before = await dump(database_dsn)
    assert NOTE not in before  # …which never rest in clear
    assert OVERRIDE not in before

    erased = await h.http.post(
        f"/v1/situations/{situation_id}/erasure",
        json={"reason": "data_subject_request"},
        headers=coordinator,
    )

    assert erased.status_code == 204, erased.text
    meeting = (await h.http.get(f"/v1/reviews/{meeting_id}", headers=coordinator)).json()
    assert meeting["agenda"][0]["note"] is None
    assert (await h.http.get(history, headers=coordinator)).json()[0]["override_reason"] is None
    after = await dump(database_dsn)
    assert "Benaliouche" not in after
    async with h.db() as conn:
        keys = await conn.fetchval(
            "SELECT count(*) FROM subject_keys k JOIN situations s "
            "ON s.subject_id = k.subject_id WHERE s.id = $1",
            uuid.UUID(situation_id),
        )
    assert keys == 0


async def test_notes_written_in_clear_before_are_moved_under_the_key_or_cleared_if_erased(
    parcours: Harness, database_dsn: str
) -> None:
    h = parcours
    coordinator = h.auth("coordinator")
    _, kept = await h.open_situation()
    _, erased = await h.open_situation()
    for situation_id in (kept, erased):
        decided = await h.decide(
            situation_id, decision="take_up", axes=["health"], note="placeholder"
        )
        assert decided.status_code == 201, decided.text
    async with h.db() as conn:
        # as an earlier version wrote them: in clear
        for situation_id in (kept, erased):
            await conn.execute(
                "UPDATE review_decisions SET note = $2, note_enc = NULL WHERE situation_id = $1",
                uuid.UUID(situation_id),
                f"{NOTE} {situation_id}",
            )
        await conn.execute(
            "UPDATE situations SET stage = 'erased', erased_at = now() WHERE id = $1",
            uuid.UUID(erased),
        )
        meeting_id = await conn.fetchval(
            "SELECT meeting_id FROM review_decisions WHERE situation_id = $1", uuid.UUID(kept)
        )

    # (the scheduler's start-up pass may have run too: the outcome is what counts)
    await seal_clear_texts(h)

    assert await seal_clear_texts(h) == 0
    assert NOTE not in await dump(database_dsn)
    meeting = (await h.http.get(f"/v1/reviews/{meeting_id}", headers=coordinator)).json()
    assert meeting["agenda"][0]["note"] == f"{NOTE} {kept}"


async def test_an_erasure_drops_the_parked_messages_about_the_child_and_keeps_the_others(
    parcours: Harness,
) -> None:
    h = parcours
    referral, situation_id = await h.open_situation()
    other = str(uuid.uuid4())
    channel = await h.amqp.channel(publisher_confirms=True)
    parking = await channel.get_exchange(PARKING_EXCHANGE)
    for message_id, subject in (("about-child", str(referral.subject_id)), ("other", other)):
        body = {
            "type": "fr.relais.referral.submitted.v1",
            "subject": "x",
            "data": {"subject_id": subject, "sealed": "eyJ...sealed"},
        }
        await parking.publish(
            aio_pika.Message(json.dumps(body).encode(), message_id=message_id),
            routing_key="parcours.referrals",
            mandatory=True,
        )
    await channel.close()

    erased = await h.http.post(
        f"/v1/situations/{situation_id}/erasure",
        json={"reason": "data_subject_request"},
        headers=h.auth("coordinator"),
    )

    assert erased.status_code == 204, erased.text
    lot = ParkingLot(h.app.state.runtime.settings.amqp_url)
    left = await lot.browse("parcours.referrals")
    assert [p.message_id for p in left] == ["other"]


async def written_in_clear_then_moved(
    h: Harness, table: str, column: str, text: str, situation_id: str, key: str = "situation_id"
) -> None:
    """The situation's rows hold ``text`` in clear, as before the column had a sealed twin;
    then the scheduler's pass moves every clear text under its child's key."""
    async with h.db() as conn:
        await conn.execute(
            f"UPDATE {table} SET {column} = $2, {column}_enc = NULL WHERE {key} = $1",
            uuid.UUID(situation_id),
            text,
        )
    while await seal_clear_texts(h):
        pass


async def test_the_message_to_a_partner_rests_under_the_childs_key_and_dies_with_it(
    parcours: Harness, database_dsn: str
) -> None:
    h = parcours
    s = await family_in_parcours(h)  # the référent's message: "NOTE-INTERNE mère épuisée…"
    partner = h.auth("partner", CMPP)
    sheet = (await h.http.get(s["sheet"], headers=partner)).json()
    assert sheet["message"].startswith("NOTE-INTERNE")  # the partner reads it…
    assert "NOTE-INTERNE" not in await dump(database_dsn)  # …it never rests in clear
    # A row as an earlier version wrote it (clear) is moved under the key.
    await written_in_clear_then_moved(
        h, "handovers", "message", "NOTE-ANCIENNE à déplacer", s["situation_id"]
    )
    assert "NOTE-ANCIENNE" not in await dump(database_dsn)
    sheet = (await h.http.get(s["sheet"], headers=partner)).json()
    assert sheet["message"] == "NOTE-ANCIENNE à déplacer"

    erased = await h.http.post(
        f"/v1/situations/{s['situation_id']}/erasure",
        json={"reason": "data_subject_request"},
        headers=h.auth("coordinator"),
    )

    assert erased.status_code == 204, erased.text
    async with h.db() as conn:
        row = await conn.fetchrow(
            "SELECT message, message_enc FROM handovers WHERE situation_id = $1",
            uuid.UUID(s["situation_id"]),
        )
    assert (row["message"], row["message_enc"]) == (None, None)


async def test_the_plans_titles_rest_under_the_childs_key_and_die_with_it(
    parcours: Harness, database_dsn: str
) -> None:
    h = parcours
    s = await family_in_parcours(h)  # « Bilan orthophonique », « Séances chez l'orthophoniste »
    coordinator = h.auth("coordinator")
    plan_url = f"/v1/situations/{s['situation_id']}/plan"
    [objective] = (await h.http.get(plan_url, headers=coordinator)).json()["objectives"]
    assert objective["title"] == "Bilan orthophonique"  # the team reads them…
    sheet = (await h.http.get(s["sheet"], headers=h.auth("partner", CMPP))).json()
    assert sheet["action"]["title"] == "Séances chez l'orthophoniste"  # …so does the partner
    [listed] = (await h.http.get("/v1/handovers", headers=h.auth("partner", CMPP))).json()["items"]
    assert listed["action_title"] == "Séances chez l'orthophoniste"
    assert "orthophon" not in await dump(database_dsn)  # …they never rest in clear
    # Rows as an earlier version wrote them (clear) are moved under the key.
    await written_in_clear_then_moved(
        h, "plan_objectives", "title", "TITRE-ANCIEN", s["situation_id"]
    )
    assert "TITRE-ANCIEN" not in await dump(database_dsn)
    [objective] = (await h.http.get(plan_url, headers=coordinator)).json()["objectives"]
    assert objective["title"] == "TITRE-ANCIEN"

    erased = await h.http.post(
        f"/v1/situations/{s['situation_id']}/erasure",
        json={"reason": "data_subject_request"},
        headers=coordinator,
    )

    assert erased.status_code == 204, erased.text
    [objective] = (await h.http.get(plan_url, headers=coordinator)).json()["objectives"]
    assert objective["title"] == "[effacé]"
    async with h.db() as conn:
        left = await conn.fetchval(
            "SELECT count(*) FROM plan_objectives WHERE situation_id = $1 "
            "AND (title IS NOT NULL OR title_enc IS NOT NULL)",
            uuid.UUID(s["situation_id"]),
        )
    assert left == 0


# Free texts of migration 0024: (table, column, the column naming the situation).
TEXTS_0024 = (
    ("situations", "exit_reason_text", "id"),
    ("consents", "sole_guardian_reason", "situation_id"),
    ("consents", "witness", "situation_id"),
    ("family_requests", "details", "situation_id"),
    ("family_requests", "answer", "situation_id"),
)


async def test_the_closure_consent_and_family_request_texts_rest_under_the_key_and_die_with_it(
    parcours: Harness, database_dsn: str
) -> None:
    h = parcours
    s = await family_in_parcours(h)
    situation_id = s["situation_id"]
    url = f"/v1/situations/{situation_id}"
    coordinator = h.auth("coordinator")
    referent = h.auth("referent", sub="claire-morel")
    consent = await h.give_consent(
        situation_id,
        [{"partner_id": CMPP, "data_categories": ["identity_and_contact", "health"]}],
        referent_sub="claire-morel",
        form="oral_witnessed",
        guardians=[{"label": "Mère", "relationship": "mother"}],
        sole_guardian_reason="SEUL-MOTIF père incarcéré",
        witness="TEMOIN-Mme Leroy, assistante sociale au collège Brassens",
    )
    assert consent.status_code == 201, consent.text
    guardian = await session(h, await letter(h, situation_id))
    made = await h.http.post(
        "/v1/family/requests",
        json={"kind": "correction", "details": "DEMANDE-FAMILLE mon fils est suivi au CMP"},
        headers=guardian,
    )
    assert made.status_code == 201, made.text
    answered = await h.http.post(
        f"/v1/family-requests/{made.json()['id']}/answer",
        json={"answer": "REPONSE-PRE nous corrigeons la fiche"},
        headers=coordinator,
    )
    assert answered.status_code == 204, answered.text
    closed = await h.http.post(
        f"{url}/closure",
        json={
            "exit_reason": "other",
            "exit_reason_text": "SORTIE-MOTIF placement en foyer",
            "final_review_held": True,
        },
        headers=referent,
    )
    assert closed.status_code == 200, closed.text

    async def reads() -> tuple[object, ...]:
        file = (await h.http.get(url, headers=coordinator)).json()
        ledger = (await h.http.get(f"{url}/consents", headers=coordinator)).json()
        [request] = (await h.http.get("/v1/family-requests", headers=coordinator)).json()
        return (
            file["exit_reason_text"],
            ledger[-1]["sole_guardian_reason"],
            ledger[-1]["witness"],
            request["details"],
            request["answer"],
        )

    written = (
        "SORTIE-MOTIF placement en foyer",
        "SEUL-MOTIF père incarcéré",
        "TEMOIN-Mme Leroy, assistante sociale au collège Brassens",
        "DEMANDE-FAMILLE mon fils est suivi au CMP",
        "REPONSE-PRE nous corrigeons la fiche",
    )
    assert await reads() == written  # the team reads them…
    space = (await h.http.get("/v1/family/space", headers=guardian)).json()
    assert space["requests"][0]["answer"] == "REPONSE-PRE nous corrigeons la fiche"  # …the family
    before = await dump(database_dsn)
    for marker in ("SORTIE-MOTIF", "SEUL-MOTIF", "TEMOIN-", "DEMANDE-FAMILLE", "REPONSE-PRE"):
        assert marker not in before  # …they never rest in clear
    # Rows as an earlier version wrote them (clear) are moved under the key.
    for table, column, key in TEXTS_0024:
        await written_in_clear_then_moved(
            h, table, column, f"ANCIEN-{column}", situation_id, key=key
        )
    assert "ANCIEN-" not in await dump(database_dsn)
    assert await reads() == tuple(f"ANCIEN-{column}" for _, column, _ in TEXTS_0024)

    erased = await h.http.post(
        f"{url}/erasure", json={"reason": "data_subject_request"}, headers=coordinator
    )

    assert erased.status_code == 204, erased.text
    assert await reads() == (None,) * 5
    async with h.db() as conn:
        for table, column, key in TEXTS_0024:
            left = await conn.fetchval(
                f"SELECT count(*) FROM {table} WHERE {key} = $1 "
                f"AND ({column} IS NOT NULL OR {column}_enc IS NOT NULL)",
                uuid.UUID(situation_id),
            )
            assert left == 0, (table, column)
