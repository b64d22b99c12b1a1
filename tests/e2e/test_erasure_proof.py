"""The erasure proof (issue 15): after a child is erased, nothing about it is left readable.

Two children are referred to the PRE, reviewed and taken up (the team writes a note, a
plan objective, a message to a partner, a consent's sole-guardian reason and witness for
each; a guardian writes a request, the coordinator answers it; the parcours is closed with a
reason in words), and a copy of each child's
``referral.submitted`` (its identity sealed to the PRE) lies parked in every service's
parking queue. The PRE erases one
child. Then every database of the stack is dumped (``pg_dump``) and every queue of its
vhost drained, and the dumps and bodies are searched for the child's identity (names,
birth date, phone, free text), and every ciphertext in them is tried with every key that
remains (PRE private keys, the referral service's intake and store keys, parcours's
master key, each remaining child's data key). The other child is the control: its fiche
must be found by that same search, or the search proves nothing.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import aio_pika
import asyncpg
import httpx
import pytest
from joserfc import jwe
from joserfc.jwk import ECKey, KeySet, OctKey

from relais_contracts.topology import PARKING_EXCHANGE, QUEUES
from relais_runtime.sealing import PreKeys, seal
from relais_runtime.vault import IdentityUnreadableError, SubjectVault
from tests.e2e.test_backbone_flow import eventually, referral_body
from tests.e2e.test_parcours_flow import CMPP, COORDINATION, PRE, SCHOOL, Flow, paris_today

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import demo_family  # a script beside the tests, not a package

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SERVICES = ("referral", "parcours", "notifications", "reporting")


@dataclass(frozen=True)
class Child:
    first: str
    last: str
    birth: str
    phone: str
    description: str
    note: str
    objective: str
    message: str  # the référent's words to a partner (handover)
    sole_reason: str  # why one guardian consents alone
    witness: str  # the oral consent's witness
    request: str  # the guardian's request, in its words
    answer: str  # the coordinator's answer
    exit_reason: str  # the closure's reason in words

    def sealed_texts(self) -> list[str]:
        """The texts parcours keeps under the child's own key."""
        return [
            *(self.note, self.objective, self.message, self.sole_reason, self.witness),
            *(self.request, self.answer, self.exit_reason),
        ]

    def body(self) -> dict[str, Any]:
        body = referral_body()
        body["child"] |= {"first_name": self.first, "last_name": self.last}
        body["child"]["birth_date"] = self.birth
        body["guardians"][0] |= {"last_name": self.last, "phone": self.phone}
        body["reasons"]["description"] = self.description
        return body

    def needles(self) -> list[str]:
        """What must not be found once erased; each text also as JSON escapes it."""
        digits = self.phone.replace(" ", "")
        texts = [self.first, self.last, self.birth, self.phone, digits, self.description]
        texts += self.sealed_texts()
        return sorted({t for text in texts for t in (text, json.dumps(text)[1:-1])})


ERASED = Child(
    "Maëlys",
    "Quennehen",
    "2016-11-23",
    "07 81 42 63 95",
    "Absences répétées le lundi, la maîtresse s'inquiète.",
    "Fratrie suivie par l'ASE, prudence au premier contact.",
    "Retrouver le goût d'aller à l'école",
    "La mère préfère être appelée après 18 h, ne pas laisser de message.",
    "Le père est incarcéré depuis 2024.",
    "Mme Tabet, infirmière scolaire à l'école Jean Macé",
    "Merci d'enlever la mention du divorce dans le dossier.",
    "La mention du divorce a été retirée le 4 décembre.",
    "Déménagement de la famille à Clermont-Ferrand.",
)
KEPT = Child(
    "Yanis",
    "Oukhemanou",
    "2015-02-07",
    "06 55 12 89 40",
    "Bagarres à la récréation depuis novembre.",
    "Père joignable le soir seulement.",
    "Apaiser les temps de récréation",
    "Rendez-vous plutôt le mercredi, garde alternée.",
    "La mère vit à l'étranger, sans contact.",
    "M. Rahmani, éducateur au centre social des Hauts",
    "Je voudrais corriger la date d'arrivée en France.",
    "La date d'arrivée est corrigée au 12 mars.",
    "Entrée en internat au lycée agricole.",
)


async def refer_and_take_up(flow: Flow, child: Child) -> tuple[str, str]:
    """Referred, reviewed (with a note), taken up, with a référent, a plan objective, a
    consent and a health action handed over to the CMPP with a message."""
    created = await flow.http.post(
        f"{flow.stack.url('referral')}/v1/referrals", json=child.body(), headers=flow.institution
    )
    assert created.status_code == 201, created.text
    referral_id = created.json()["id"]

    async def in_inbox() -> list[dict[str, Any]]:
        page = await flow.call("GET", "/v1/situations", flow.coordinator)
        return [s for s in page["items"] if referral_id in s["referral_ids"]]

    [situation] = await eventually(in_inbox)
    meeting = await flow.call(
        "POST",
        "/v1/reviews",
        flow.coordinator,
        json={
            "meets_on": paris_today(),
            "attendees": [{"name": "Mme Leroy", "organisation": "PRE", "role": "coord."}],
            "situation_ids": [situation["id"]],
        },
    )
    await flow.call(
        "POST",
        f"/v1/reviews/{meeting['id']}/decisions",
        flow.coordinator,
        json={
            "situation_id": situation["id"],
            "decision": "take_up",
            "axes": ["schooling"],
            "note": child.note,
        },
    )
    await flow.until_status(referral_id, "taken_up")
    await flow.call(
        "PUT",
        f"/v1/situations/{situation['id']}/referent",
        flow.coordinator,
        json={"referent_id": flow.referent_id},
    )
    await flow.call(
        "POST",
        f"/v1/situations/{situation['id']}/plan/objectives",
        flow.referent,
        json={"axis": "schooling", "title": child.objective},
    )
    _, action_id = await flow.consent_and_action(situation["id"])
    await flow.call(  # the child's own consent replaces it: one guardian, oral, a witness
        "POST",
        f"/v1/situations/{situation['id']}/consents",
        flow.referent,
        json={
            "form": "oral_witnessed",
            "given_at": datetime.now(UTC).isoformat(),
            "guardians": [{"label": "Mère", "relationship": "mother"}],
            "sole_guardian_reason": child.sole_reason,
            "witness": child.witness,
            "scope": [{"partner_id": CMPP, "data_categories": ["identity_and_contact", "health"]}],
        },
    )
    await flow.call(
        "POST",
        f"/v1/situations/{situation['id']}/handovers",
        flow.referent,
        json={
            "action_id": action_id,
            "partner_id": CMPP,
            "data_categories": ["health"],
            "message": child.message,
        },
    )
    await family_request_answered(flow, situation["id"], child)
    await flow.call(
        "POST",
        f"/v1/situations/{situation['id']}/closure",
        flow.referent,
        json={
            "exit_reason": "other",
            "exit_reason_text": child.exit_reason,
            "final_review_held": True,
        },
    )
    return referral_id, situation["id"]


async def family_request_answered(flow: Flow, situation_id: str, child: Child) -> None:
    """A guardian opens its space with its letter and writes a request; the PRE answers."""
    parcours = flow.stack.url("parcours")
    letter = await flow.call(
        "POST", f"/v1/situations/{situation_id}/family-letters", flow.referent, json={"guardian": 0}
    )
    session = await flow.http.post(
        f"{parcours}/v1/family/sessions", json={"link": letter["link"], "code": letter["code"]}
    )
    assert session.status_code == 200, session.text
    guardian = {"Authorization": f"Bearer {session.json()['access_token']}"}
    made = await flow.http.post(
        f"{parcours}/v1/family/requests",
        json={"kind": "correction", "details": child.request},
        headers=guardian,
    )
    assert made.status_code == 201, made.text
    answered = await flow.http.post(
        f"{parcours}/v1/family-requests/{made.json()['id']}/answer",
        json={"answer": child.answer},
        headers=flow.coordinator,
    )
    assert answered.status_code == 204, answered.text


async def subject_of(stack: Any, situation_id: str) -> str:
    conn = await asyncpg.connect(stack.dsn("parcours"))
    try:
        subject: uuid.UUID = await conn.fetchval(
            "SELECT subject_id FROM situations WHERE id = $1", uuid.UUID(situation_id)
        )
    finally:
        await conn.close()
    return str(subject)


async def park_sealed_copies(stack: Any, child: Child, subject_id: str, referral_id: str) -> None:
    """A ``referral.submitted`` of the child parked in every parking queue of the stack."""
    pre_key = PreKeys(stack.keys_dir).public_key(PRE)
    body = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "type": "fr.relais.referral.submitted.v1",
        "source": "/relais/referral",
        "subject": referral_id,
        "data": {
            "referral_id": referral_id,
            "subject_id": subject_id,
            "sealed": seal(child.body(), pre_key),
        },
    }
    connection = await aio_pika.connect(stack.amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        parking = await channel.get_exchange(PARKING_EXCHANGE)
        for queue in QUEUES:
            await parking.publish(
                aio_pika.Message(json.dumps(body).encode(), message_id=body["id"]),
                routing_key=queue,
                mandatory=True,
            )


def pg_dump(dsn: str) -> str:
    return subprocess.run(
        ["pg_dump", "--no-owner", dsn], check=True, capture_output=True, text=True, timeout=120
    ).stdout


def vhost_queues(amqp_url: str) -> list[str]:
    vhost = unquote(urlsplit(amqp_url).path.lstrip("/"))
    out = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "--no-table-headers", "name"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return out.split()


async def drain(amqp_url: str) -> dict[str, list[str]]:
    """Every message of every queue of the vhost, consumed (bodies as text)."""
    bodies: dict[str, list[str]] = {}
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for name in await asyncio.to_thread(vhost_queues, amqp_url):
            queue = await channel.declare_queue(name, passive=True)
            while (message := await queue.get(no_ack=True, fail=False)) is not None:
                bodies.setdefault(name, []).append(message.body.decode(errors="replace"))
    return bodies


class RemainingKeys:
    """Every key the stack still holds, and what each ciphertext in a text opens to."""

    def __init__(self, keys_dir: Path, wrapped: list[tuple[str, uuid.UUID, bytes, str]]) -> None:
        private = [
            json.loads(path.read_text())
            for pattern in ("pre-*.private*.jwk.json", "referral/intake.private*.jwk.json")
            for path in sorted(keys_dir.glob(pattern))
        ]
        self.jwe_keys = KeySet([ECKey.import_key(k) for k in private])
        store: list[dict[str, Any]] = []
        vaults: list[tuple[str, SubjectVault]] = []
        for path in sorted((keys_dir / "referral").glob("*.referral.json")):
            keys = json.loads(path.read_text())["store"]
            store += keys
            masters = {k["kid"]: _b64(k["k"]) for k in keys}
            newest = keys[0]
            vaults.append(
                ("referral", SubjectVault(_b64(newest["k"]), kid=newest["kid"], previous=masters))
            )
        master = (keys_dir / "parcours-master.key").read_text().strip()
        vaults.append(("parcours", SubjectVault(_b64(master))))
        self.store_keys = KeySet([OctKey.import_key(k) for k in store])
        #: (vault, subject, wrapped data key, master kid) for every child key left.
        self.data_keys = [
            (vault, subject, key, kid)
            for service, subject, key, kid in wrapped
            for owner, vault in vaults
            if owner == service
        ]

    def opened(self, text: str) -> list[str]:
        """The plaintext of every ciphertext in ``text`` that a remaining key opens."""
        found = []
        for token in set(re.findall(r"eyJ[\w-]+\.[\w-]*\.[\w-]+\.[\w-]+\.[\w-]+", text)):
            for keys in (self.jwe_keys, self.store_keys):
                try:
                    plain = jwe.decrypt_compact(token, keys).plaintext or b""
                except Exception:
                    continue
                found.append(plain.decode(errors="replace"))
        # bytea in a pg_dump's COPY lines: \\x then hex.
        for hexa in set(re.findall(r"\\\\x([0-9a-f]{40,})", text)):
            blob = bytes.fromhex(hexa)
            for vault, subject, wrapped, kid in self.data_keys:
                try:
                    opened = vault.decrypt(wrapped, subject, blob, master_kid=kid)
                except (IdentityUnreadableError, ValueError):
                    continue
                found.append(json.dumps(opened, ensure_ascii=False))
        return found


def _b64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


async def remaining_child_keys(stack: Any) -> list[tuple[str, uuid.UUID, bytes, str]]:
    keys = []
    for service in ("referral", "parcours"):
        conn = await asyncpg.connect(stack.dsn(service))
        try:
            rows = await conn.fetch("SELECT subject_id, wrapped_key, master_kid FROM subject_keys")
        finally:
            await conn.close()
        keys += [(service, r["subject_id"], r["wrapped_key"], r["master_kid"]) for r in rows]
    return keys


async def test_an_erased_child_is_in_no_database_dump_and_no_queue_nor_opens_with_any_key_left(
    stack_factory: Any,
) -> None:
    stack = await stack_factory()
    async with httpx.AsyncClient(timeout=15) as http:
        flow = Flow(stack, http)
        await flow.set_up()
        erased_referral, erased_situation = await refer_and_take_up(flow, ERASED)
        kept_referral, kept_situation = await refer_and_take_up(flow, KEPT)
        erased_subject = await subject_of(stack, erased_situation)
        kept_subject = await subject_of(stack, kept_situation)
        await park_sealed_copies(stack, ERASED, erased_subject, erased_referral)
        await park_sealed_copies(stack, KEPT, kept_subject, kept_referral)

        r = await http.post(
            f"{stack.url('parcours')}/v1/situations/{erased_situation}/erasure",
            json={"reason": "data_subject_request"},
            headers=stack.auth("coordinator", COORDINATION),
        )
        assert r.status_code == 204, r.text

        async def sender_copy_gone() -> bool:
            view = await http.get(
                f"{stack.url('referral')}/v1/referrals/{erased_referral}", headers=flow.institution
            )
            return view.json()["referral"] is None

        await eventually(sender_copy_gone)

        async def parked_left() -> bool:
            # Each service dropped the erased child's copy from its own parking queue:
            # what is left parked is the other child's copy, one per queue.
            return all([await _dlq_count(stack.amqp_url, q) == 1 for q in QUEUES])

        await eventually(parked_left, timeout=60)
    stack.stack.stop()  # nothing consumes or writes any more while we look

    keys = RemainingKeys(stack.keys_dir, await remaining_child_keys(stack))
    dumps = {s: await asyncio.to_thread(pg_dump, stack.dsn(s)) for s in SERVICES}
    queues = await drain(stack.amqp_url)
    places = dumps | {f"queue {q}": "\n".join(b) for q, b in queues.items()}

    for place, text in places.items():
        readable = [text, *keys.opened(text)]
        for needle in ERASED.needles():
            assert not any(needle in t for t in readable), f"{needle!r} still in {place}"
    # The control: the same search finds the other child, in clear nowhere but opened by
    # the keys left, in referral's and parcours's tables and in every parking queue.
    for place in ("referral", "parcours", *(f"queue {q}.dlq" for q in QUEUES)):
        opened = keys.opened(places[place])
        assert any(KEPT.last in t for t in opened), f"the control is not found in {place}"
        assert KEPT.last not in places[place]
    for text in KEPT.sealed_texts():  # under the child's key, not in clear
        assert any(text in t for t in keys.opened(places["parcours"])), text
        assert text not in places["parcours"], text


async def _dlq_count(amqp_url: str, queue: str) -> int:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(f"{queue}.dlq", passive=True)
        return declared.declaration_result.message_count or 0


async def test_an_erased_family_with_a_consent_and_access_letters_leaves_nothing_readable(
    stack_factory: Any, tmp_path: Path
) -> None:
    """The demo family (two guardians, a signed consent naming them, a letter each to their
    space, the PRE's contact) erased: its names, phone, e-mail and free text are gone."""
    stack = await stack_factory()
    coordinator = stack.auth("coordinator", COORDINATION)
    async with httpx.AsyncClient(timeout=30) as http:
        flow = Flow(stack, http)
        await flow.set_up()
        await flow.call(
            "PUT",
            f"/v1/referents/{demo_family.REFERENT_ID}",
            coordinator,
            json={"display_name": "Camille Morel"},
        )
        tokens = {
            "coordinator": coordinator["Authorization"].split()[1],
            "referent": stack.token("referent", COORDINATION, sub=demo_family.REFERENT_ID),
            "institution": stack.token("institution", SCHOOL),
        }
        await asyncio.to_thread(
            demo_family.load_demo_family,
            {"referral": stack.url("referral"), "parcours": stack.url("parcours")},
            tokens,
            tmp_path / "lettres",
        )
        _, kept_situation = await refer_and_take_up(flow, KEPT)
        page = await flow.call("GET", "/v1/situations?limit=200", coordinator)
        [family] = [s for s in page["items"] if s["id"] != kept_situation]
        # Before the erasure the same search finds the family (or it would prove nothing).
        before = RemainingKeys(stack.keys_dir, await remaining_child_keys(stack))
        for service in ("referral", "parcours"):
            dump = await asyncio.to_thread(pg_dump, stack.dsn(service))
            assert any("Ouali" in t for t in [dump, *before.opened(dump)]), service
        r = await http.post(
            f"{stack.url('parcours')}/v1/situations/{family['id']}/erasure",
            json={"reason": "data_subject_request"},
            headers=coordinator,
        )
        assert r.status_code == 204, r.text

        async def sender_copy_gone() -> bool:
            views = [
                (
                    await http.get(
                        f"{stack.url('referral')}/v1/referrals/{rid}", headers=flow.institution
                    )
                ).json()
                for rid in family["referral_ids"]
            ]
            return all(v["referral"] is None for v in views)

        await eventually(sender_copy_gone)
        await eventually(lambda: asyncio.to_thread(stack.broker_idle), timeout=60)
    stack.stack.stop()

    keys = RemainingKeys(stack.keys_dir, await remaining_child_keys(stack))
    dumps = {s: await asyncio.to_thread(pg_dump, stack.dsn(s)) for s in SERVICES}
    queues = await drain(stack.amqp_url)
    places = dumps | {f"queue {q}": "\n".join(b) for q, b in queues.items()}
    referral = demo_family.REFERRAL
    needles = [
        referral["child"]["first_name"],
        referral["child"]["last_name"],
        referral["child"]["birth_date"],
        "06 98 76 54 32",
        "0698765432",
        referral["guardians"][1]["email"],
        referral["guardians"][1]["first_name"],
        referral["reasons"]["description"],
    ]
    needles += [json.dumps(n)[1:-1] for n in needles]
    for place, text in places.items():
        readable = [text, *keys.opened(text)]
        for needle in needles:
            assert not any(needle in t for t in readable), f"{needle!r} still in {place}"
    # The control: the other child's fiche and note still open with the keys left.
    assert any(KEPT.last in t for t in keys.opened(places["referral"]))
    for text in KEPT.sealed_texts():  # under the child's key, not in clear
        assert any(text in t for t in keys.opened(places["parcours"])), text
        assert text not in places["parcours"], text
