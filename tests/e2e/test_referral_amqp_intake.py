"""An institution integrated over AMQP submits a referral on relais.intake."""

from __future__ import annotations

from typing import Any

import aio_pika
import httpx
import pytest
from joserfc.jwk import ECKey

from relais_contracts.envelope import new_event
from relais_contracts.topology import CLOUDEVENTS_CONTENT_TYPE, INTAKE_EXCHANGE
from relais_contracts.v1.referral import ReferralFacts, SubmitReferral
from relais_runtime.parking import ParkingLot
from relais_runtime.sealing import seal
from tests.e2e.test_backbone_flow import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PRE = "pre-76540"
SCHOOL = "ecole-jules-ferry-rouen"


def identity(birth_date: str = "2015-09-01") -> dict[str, Any]:
    return {
        "child": {"first_name": "Yanis", "last_name": "Haddad", "birth_date": birth_date},
        "guardians": [{"first_name": "Nadia", "last_name": "Haddad", "phone": "07 00 00 00 01"}],
        "referrer": {"name": "M. Petit", "role": "CPE", "phone": "02 35 00 00 02"},
        "description": "Décrochage depuis novembre.",
    }


async def register_and_get_intake_key(http: httpx.AsyncClient, stack: Any) -> ECKey:
    r = await http.put(
        f"{stack.url('referral')}/v1/institutions/{SCHOOL}",
        json={"id": SCHOOL, "pre_id": PRE, "name": "École", "category": "school"},
        headers=stack.auth("admin", "pre-76540-coordination"),
    )
    assert r.status_code == 200, r.text
    # The sender seals the identity to the key the referral service publishes.
    jwks = (await http.get(f"{stack.url('referral')}/.well-known/jwks.json")).json()
    return ECKey.import_key(jwks["keys"][0])


async def publish_command(
    stack: Any, key: ECKey, sealed_identity: dict[str, Any], external_ref: str
) -> str:
    command = SubmitReferral(
        tenant=PRE,
        institution_id=SCHOOL,
        external_ref=external_ref,
        parents_informed=True,
        parents_agree=True,
        facts=ReferralFacts(
            age_years=11,
            sex="male",
            school_level="6e",
            lives_in_qpv="no",
            source_category="school",
            reason_categories=["school_absenteeism"],
            axes=["schooling", "wellbeing"],
        ),
        sealed=seal(sealed_identity, key),
    )
    event = new_event(
        command, source=f"/institutions/{SCHOOL}", tenant=PRE, subject=external_ref, sequence=1
    )
    connection = await aio_pika.connect(stack.amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(INTAKE_EXCHANGE, ensure=False)
        await exchange.publish(
            aio_pika.Message(
                event.model_dump_json().encode(),
                content_type=CLOUDEVENTS_CONTENT_TYPE,
                message_id=str(event.id),
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=event.routing_key(),
        )
    return str(event.id)


async def test_a_referral_submitted_over_amqp_reaches_the_pre_and_its_sender_hears_back(
    stack_factory: Any,
) -> None:
    stack = await stack_factory()
    school = stack.auth("institution", SCHOOL)
    async with httpx.AsyncClient(timeout=10) as http:
        key = await register_and_get_intake_key(http, stack)
        await publish_command(stack, key, identity(), "ENT-2026-0042")

        async def under_review() -> dict[str, Any] | None:
            page = (await http.get(f"{stack.url('referral')}/v1/referrals", headers=school)).json()
            items = [i for i in page["items"] if i["status"] == "under_review"]
            return items[0] if items else None

        item = await eventually(under_review)
        view = (
            await http.get(f"{stack.url('referral')}/v1/referrals/{item['id']}", headers=school)
        ).json()
        assert view["channel"] == "amqp"
        assert view["external_ref"] == "ENT-2026-0042"
        assert view["referral"]["child"]["first_name"] == "Yanis"
        assert "Haddad" not in stack.logs()


async def test_a_refused_amqp_referral_is_parked_and_its_sender_reads_why_in_its_feed(
    stack_factory: Any,
) -> None:
    stack = await stack_factory()
    school = stack.auth("institution", SCHOOL)
    async with httpx.AsyncClient(timeout=10) as http:
        key = await register_and_get_intake_key(http, stack)
        # A birth date that makes the child 25: the fiche can never be accepted as it is.
        command_id = await publish_command(
            stack, key, identity(birth_date="2001-01-01"), "ENT-2026-0099"
        )

        async def told() -> list[dict[str, Any]]:
            feed = (await http.get(f"{stack.url('notifications')}/v1/feed", headers=school)).json()
            return [i for i in feed["items"] if "ENT-2026-0099" in i["title"]]

        [item] = await eventually(told)
        assert "refusée" in item["title"]
        page = (await http.get(f"{stack.url('referral')}/v1/referrals", headers=school)).json()
        assert page["items"] == []
    # The command waits in the parking queue with its reason, for the operator.
    parked = await ParkingLot(stack.amqp_url).browse("referral.intake")
    assert [(m.message_id, m.reason) for m in parked] == [(command_id, "invalid_referral")]
    assert "child.birth_date:age_out_of_range" in parked[0].error
    logs = stack.logs()
    assert "Yanis" not in logs
    assert "Haddad" not in logs
    assert "Yanis" not in str(item)
