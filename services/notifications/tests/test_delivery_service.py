"""Subscriptions and deliveries against real peers on 127.0.0.1: webhook, SMTP, AMQP."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import aio_pika
import jsonschema
import pytest

from relais_contracts.topology import delivery_queue
from relais_contracts.v1.parcours import HandoverRequested
from relais_contracts.v1.referral import ReferralStatusChanged, ReferralSubmitRejected
from relais_notifications.testing import SmtpSink, WebhookReceiver, free_port

from .conftest import ServiceFactory, SmtpFactory, Tap, eventually
from .samples import example

pytestmark = pytest.mark.integration

SCHOOL = "ecole-jules-ferry"
PARTNER = "cmpp-rouen-rive-gauche"
STATUS_CHANGED = "fr.relais.referral.status_changed.v1"
#: The published JSON Schema of a webhook body and of a ``deliver.<org>`` message.
DELIVERY_SCHEMA = Path(__file__).parents[3] / "docs/schemas/notification.delivery.v1.json"


def assert_published_shape(payload: Any) -> None:
    schema = json.loads(DELIVERY_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(payload)


@pytest.fixture
def smtp(start_smtp: SmtpFactory) -> SmtpSink:
    return start_smtp()


async def test_a_sender_gets_one_signed_webhook_per_status_change_even_if_redelivered(
    start_service: ServiceFactory, receiver: WebhookReceiver, tap_notifications: Tap
) -> None:
    service = await start_service()
    school = service.token("institution", SCHOOL)
    r = await service.http.post("/v1/webhooks", json={"url": receiver.url}, headers=school)
    assert r.status_code == 201, r.text
    hook = r.json()
    assert hook["secret"].startswith("whsec_")

    event_id = uuid.uuid4()
    for _ in range(3):
        await service.publish(example(ReferralStatusChanged, 0), event_id=event_id)
    await eventually(lambda: _async(len(receiver.received) >= 1))
    await asyncio.sleep(0.5)  # a second delivery would have arrived by now
    [payload] = receiver.verified(hook["secret"])
    assert payload["type"] == STATUS_CHANGED
    assert payload["data"]["reference"] == "O-0B9A2F5E"
    assert payload["data"]["link"].startswith("https://referral.example/v1/referrals/")
    assert receiver.received[0].headers["webhook-id"] == payload["data"]["notification_id"]
    assert_published_shape(payload)

    log = await service.http.get(f"/v1/webhooks/{hook['id']}/attempts", headers=school)
    assert [(a["attempt"], a["http_status"]) for a in log.json()["items"]] == [(1, 200)]
    await eventually(
        lambda: _async("fr.relais.notification.delivered.v1" in tap_notifications.types())
    )
    delivered = [e for e in tap_notifications.seen if e["data"]["channel"] == "webhook"]
    assert delivered[0]["data"]["recipient_org_id"] == SCHOOL
    assert receiver.url not in json.dumps(tap_notifications.seen)
    # Another organisation sees neither the endpoint nor its log.
    other = service.token("institution", "college-voisin")
    hidden = await service.http.get(f"/v1/webhooks/{hook['id']}/attempts", headers=other)
    assert hidden.status_code == 404


async def test_a_failing_endpoint_is_retried_then_disabled_and_its_owner_told(
    start_service: ServiceFactory, receiver: WebhookReceiver, tap_notifications: Tap
) -> None:
    service = await start_service(delivery_backoff_s=[0.1, 0.1, 0.1, 0.1], webhook_disable_after=3)
    receiver.status = 503
    partner = service.token("partner", PARTNER)
    hook = (
        await service.http.post("/v1/webhooks", json={"url": receiver.url}, headers=partner)
    ).json()
    await service.publish(example(HandoverRequested))

    async def disabled() -> bool:
        r = await service.http.get(f"/v1/webhooks/{hook['id']}", headers=partner)
        return not r.json()["enabled"]

    await eventually(disabled)
    assert len(receiver.received) == 3
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert len(ids) == 1  # the same delivery retried, not three deliveries
    log = (await service.http.get(f"/v1/webhooks/{hook['id']}/attempts", headers=partner)).json()
    assert [a["http_status"] for a in log["items"]] == [503, 503, 503]
    failed = (await service.http.get("/v1/deliveries?status=failed", headers=partner)).json()
    # Given up because the endpoint was disabled, and it says so.
    assert failed["items"][0]["last_failure"] == "endpoint_disabled"
    feed = (await service.http.get("/v1/feed", headers=partner)).json()
    assert any("Webhook désactivé" in i["title"] for i in feed["items"])

    def failures() -> list[tuple[int, bool]]:
        return [
            (e["data"]["attempts"], e["data"]["will_retry"])
            for e in tap_notifications.seen
            if e["type"] == "fr.relais.notification.failed.v1"
        ]

    # Three attempts (the last one retryable), then given up when the endpoint was disabled.
    await eventually(lambda: _async(len(failures()) == 4))
    assert sorted(failures()) == [(1, True), (2, True), (3, False), (3, True)]
    [given_up] = [
        e["data"]["failure"]
        for e in tap_notifications.seen
        if e["type"] == "fr.relais.notification.failed.v1" and not e["data"]["will_retry"]
    ]
    assert given_up == "endpoint_disabled"

    # Once fixed and re-enabled, new events flow again.
    receiver.status = 204
    enabled = await service.http.post(f"/v1/webhooks/{hook['id']}/enable", headers=partner)
    assert enabled.json()["enabled"] is True
    await service.publish(example(HandoverRequested, handover_id=str(uuid.uuid4())))
    await eventually(lambda: _async(len(receiver.received) == 4))


async def test_an_email_subscription_reaches_the_smtp_server_without_identity(
    start_service: ServiceFactory, smtp: SmtpSink
) -> None:
    service = await start_service(smtp_port=smtp.port, mail_from="Relais <relais@pre.example>")
    school = service.token("institution", SCHOOL)
    r = await service.http.post(
        "/v1/subscriptions",
        json={
            "channel": "email",
            "email": "direction@ecole.example",
            "event_types": [STATUS_CHANGED],
        },
        headers=school,
    )
    assert r.status_code == 201, r.text
    await service.publish(example(ReferralStatusChanged, 0))
    await eventually(lambda: _async(len(smtp.messages) == 1))
    [mail] = smtp.messages
    assert mail["To"] == "direction@ecole.example"
    assert mail["Subject"] == "Orientation O-0B9A2F5E : non retenue par l'équipe du PRE."
    body = mail.get_payload(decode=True).decode()
    assert "https://referral.example/v1/referrals/0b9a2f5e" in body
    assert "hors du territoire" in body
    assert mail["Message-ID"].endswith("@relais.notifications>")

    async def delivered() -> bool:
        r = await service.http.get("/v1/deliveries?status=delivered", headers=school)
        return len(r.json()["items"]) == 1

    await eventually(delivered)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_smtp_auth_is_used_when_configured(
    start_service: ServiceFactory, start_smtp: SmtpFactory
) -> None:
    sink = start_smtp(auth=("relais", "s3cret"))
    service = await start_service(
        smtp_port=sink.port, smtp_username="relais", smtp_password="s3cret"
    )
    school = service.token("institution", SCHOOL)
    await service.http.post(
        "/v1/subscriptions",
        json={"channel": "email", "email": "a@ecole.example"},
        headers=school,
    )
    await service.publish(example(ReferralStatusChanged, 0))
    await eventually(lambda: _async(len(sink.messages) == 1))


async def test_an_organisation_integrating_over_amqp_gets_its_own_queue(
    start_service: ServiceFactory,
) -> None:
    service = await start_service()
    partner = service.token("partner", PARTNER)
    r = await service.http.post("/v1/subscriptions", json={"channel": "amqp"}, headers=partner)
    assert r.status_code == 201, r.text
    await service.publish(example(HandoverRequested))
    connection = await aio_pika.connect(service.amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(delivery_queue(PARTNER))

        async def got() -> Any:
            return await queue.get(fail=False)

        message = await eventually(got)
        await message.ack()
    payload = json.loads(message.body)
    assert payload["type"] == "fr.relais.handover.requested.v1"
    assert message.message_id == payload["data"]["notification_id"]
    assert_published_shape(payload)


async def test_declaring_an_amqp_queue_while_the_broker_is_down_is_a_503_to_retry(
    start_service: ServiceFactory,
) -> None:
    service = await start_service()
    partner = service.token("partner", PARTNER)
    reachable = service.runtime.settings.amqp_url
    closed = free_port()  # nothing listens there: the broker is down
    service.runtime.settings.amqp_url = f"amqp://guest:guest@127.0.0.1:{closed}/"
    try:
        r = await service.http.post("/v1/subscriptions", json={"channel": "amqp"}, headers=partner)
    finally:
        service.runtime.settings.amqp_url = reachable

    assert r.status_code == 503, r.text
    assert r.headers["Retry-After"] == "5"
    assert r.json()["code"] == "broker_unavailable"
    assert "RabbitMQ" in r.json()["message"]
    listed = await service.http.get("/v1/subscriptions", headers=partner)
    assert listed.json()["items"] == []  # nothing half-made


async def test_subscriptions_are_validated_in_french_and_scoped(
    start_service: ServiceFactory,
) -> None:
    service = await start_service()
    school = service.token("institution", SCHOOL)
    bad = await service.http.post(
        "/v1/subscriptions",
        json={"channel": "email", "email": "x@y.example", "event_types": ["fr.relais.nope.v1"]},
        headers=school,
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["code"] == "unknown_event_type"
    missing = await service.http.post(
        "/v1/subscriptions", json={"channel": "email"}, headers=school
    )
    assert missing.json()["code"] == "email_required"
    watch = await service.http.post(
        "/v1/subscriptions",
        json={"channel": "amqp", "situation_id": str(uuid.uuid4())},
        headers=school,
    )
    assert watch.status_code == 403
    assert "équipe du PRE" in watch.json()["message"]
    created = await service.http.post(
        "/v1/subscriptions",
        json={"channel": "email", "email": "a@b.example", "personal": True},
        headers=school,
    )
    sid = created.json()["id"]
    other = service.token("institution", "college-voisin")
    assert (await service.http.get("/v1/subscriptions", headers=other)).json()["items"] == []
    gone = await service.http.delete(f"/v1/subscriptions/{sid}", headers=other)
    assert gone.status_code == 404
    ok = await service.http.delete(f"/v1/subscriptions/{sid}", headers=school)
    assert ok.status_code == 204


async def test_a_coordinator_following_a_referent_hears_of_their_handovers(
    start_service: ServiceFactory, smtp: SmtpSink
) -> None:
    service = await start_service(smtp_port=smtp.port)
    referent = "c4d9e2f1-6a3b-4c8d-9e0f-1a2b3c4d5e6f"
    coordinator = service.token("coordinator", "pre-76540-coordination")
    r = await service.http.post(
        "/v1/subscriptions",
        json={
            "channel": "email",
            "email": "coord@pre.example",
            "personal": True,
            "referent_id": referent,
        },
        headers=coordinator,
    )
    assert r.status_code == 201, r.text
    await service.publish(example(HandoverRequested))  # addressed to the partner only
    await eventually(lambda: _async(len(smtp.messages) == 1))
    assert smtp.messages[0]["To"] == "coord@pre.example"


async def _async(value: bool) -> bool:
    return value


async def test_a_digest_subscription_gets_one_daily_email(
    start_service: ServiceFactory, smtp: SmtpSink
) -> None:
    from datetime import UTC, datetime, timedelta

    from relais_notifications.service.digest import send_digests

    service = await start_service(smtp_port=smtp.port)
    partner = service.token("partner", PARTNER)
    r = await service.http.post(
        "/v1/subscriptions",
        json={"channel": "email", "email": "accueil@cmpp.example", "digest": True},
        headers=partner,
    )
    assert r.status_code == 201, r.text
    await service.publish(example(HandoverRequested))
    await service.publish(example(HandoverRequested, handover_id=str(uuid.uuid4())))

    async def held() -> bool:
        rows = await service.fetch("SELECT 1 FROM deliveries WHERE status = 'digested'")
        return len(rows) == 2

    await eventually(held)
    await asyncio.sleep(0.3)
    assert smtp.messages == []  # nothing sent one by one
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    assert await send_digests(service.runtime, service.settings, tomorrow) == 1
    assert await send_digests(service.runtime, service.settings, tomorrow) == 0
    await eventually(lambda: _async(len(smtp.messages) == 1))
    [mail] = smtp.messages
    assert "(2 notifications)" in str(mail["Subject"])
    body = mail.get_content()
    assert body.count("Nouveau relais R-") == 2
    assert "https://parcours.example/v1/handovers/" in body


async def test_delivery_attempts_are_counted_on_the_metrics_page(
    start_service: ServiceFactory, receiver: WebhookReceiver
) -> None:
    service = await start_service()
    school = service.token("institution", SCHOOL)
    await service.http.post("/v1/webhooks", json={"url": receiver.url}, headers=school)
    await service.publish(example(ReferralStatusChanged, 0))
    await eventually(lambda: _async(len(receiver.received) == 1))

    async def counted() -> bool:
        page = (await service.http.get("/metrics")).text
        return 'relais_notification_attempts_total{channel="webhook",outcome="delivered"}' in page

    await eventually(counted)


def _self_signed(directory: Any) -> tuple[str, str]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


async def test_email_goes_over_starttls_with_auth_when_configured(
    start_service: ServiceFactory, start_smtp: SmtpFactory, tmp_path: Any
) -> None:
    import ssl

    cert, key = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    sink = start_smtp(auth=("relais", "s3cret"), tls=server_tls)
    service = await start_service(
        smtp_port=sink.port,
        smtp_starttls=True,
        smtp_ca_file=cert,
        smtp_username="relais",
        smtp_password="s3cret",
    )
    school = service.token("institution", SCHOOL)
    await service.http.post(
        "/v1/subscriptions",
        json={"channel": "email", "email": "a@ecole.example"},
        headers=school,
    )
    await service.publish(example(ReferralStatusChanged, 0))
    await eventually(lambda: _async(len(sink.messages) == 1))


async def test_an_untrusted_smtp_certificate_is_refused(
    start_service: ServiceFactory, start_smtp: SmtpFactory, tmp_path: Any
) -> None:
    import ssl

    cert, key = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    sink = start_smtp(tls=server_tls)
    service = await start_service(smtp_port=sink.port, smtp_starttls=True)
    school = service.token("institution", SCHOOL)
    await service.http.post(
        "/v1/subscriptions",
        json={"channel": "email", "email": "a@ecole.example"},
        headers=school,
    )
    await service.publish(example(ReferralStatusChanged, 0))

    async def failed_once() -> Any:
        rows = await service.fetch("SELECT last_failure FROM deliveries")
        return rows and rows[0]["last_failure"]

    assert await eventually(failed_once) == "connection_error"
    assert sink.messages == []


async def test_a_refused_amqp_referral_reaches_its_sender_with_the_facts_to_act_on(
    start_service: ServiceFactory, receiver: WebhookReceiver, smtp: SmtpSink
) -> None:
    # The sender configured nothing about refusals: its webhook and e-mail cover them.
    service = await start_service(smtp_port=smtp.port)
    school = service.token("institution", SCHOOL)
    hook = (
        await service.http.post("/v1/webhooks", json={"url": receiver.url}, headers=school)
    ).json()
    await service.http.post(
        "/v1/subscriptions",
        json={"channel": "email", "email": "it@ecole.example"},
        headers=school,
    )
    rejected = example(ReferralSubmitRejected)
    await service.publish(rejected)

    await eventually(lambda: _async(len(receiver.received) == 1 and len(smtp.messages) == 1))
    [payload] = receiver.verified(hook["secret"])
    assert payload["type"] == "fr.relais.referral.submit_rejected.v1"
    assert payload["data"]["reference"] == "ENT-2026-0042"
    assert payload["data"]["link"] is None
    assert payload["data"]["facts"] == {
        "ref": "ENT-2026-0042",
        "command_id": rejected.command_id,
        "external_ref": "ENT-2026-0042",
        "code": "invalid_referral",
        "fields": ["child.birth_date:age_out_of_range", "referrer.email:missing"],
    }
    body = smtp.messages[0].get_content()
    assert "la date de naissance de l'enfant (âge hors de la tranche du PRE)" in body
    feed = (await service.http.get("/v1/feed", headers=school)).json()
    assert (
        feed["items"][0]["title"] == "Orientation ENT-2026-0042 refusée : à corriger puis renvoyer."
    )


async def test_a_greylisted_email_is_retried_then_delivered(
    start_service: ServiceFactory, start_smtp: SmtpFactory
) -> None:
    # 450 on RCPT is "try again later" (greylisting), not a refusal for good.
    sink = start_smtp(rcpt_replies=["450 4.2.0 Greylisted, try again later"])
    service = await start_service(smtp_port=sink.port, delivery_backoff_s=[0.2, 0.2])
    school = service.token("institution", SCHOOL)
    await service.http.post(
        "/v1/subscriptions",
        json={"channel": "email", "email": "a@ecole.example"},
        headers=school,
    )
    await service.publish(example(ReferralStatusChanged, 0))
    await eventually(lambda: _async(len(sink.messages) == 1))

    async def delivered() -> Any:
        rows = await service.fetch("SELECT status, attempts FROM deliveries")
        return [tuple(r) for r in rows if r["status"] == "delivered"]

    assert await eventually(delivered) == [("delivered", 2)]


async def test_an_email_address_refused_for_good_is_not_retried(
    start_service: ServiceFactory, start_smtp: SmtpFactory
) -> None:
    sink = start_smtp(rcpt_replies=["550 5.1.1 No such user"])
    service = await start_service(smtp_port=sink.port, delivery_backoff_s=[0.1, 0.1])
    school = service.token("institution", SCHOOL)
    await service.http.post(
        "/v1/subscriptions",
        json={"channel": "email", "email": "gone@ecole.example"},
        headers=school,
    )
    await service.publish(example(ReferralStatusChanged, 0))

    async def failed() -> Any:
        rows = await service.fetch("SELECT status, attempts, last_failure FROM deliveries")
        return [tuple(r) for r in rows if r["status"] == "failed"]

    assert await eventually(failed) == [("failed", 1, "rejected")]


async def test_an_endpoint_failing_several_deliveries_at_once_is_disabled_and_told_once(
    start_service: ServiceFactory, receiver: WebhookReceiver
) -> None:
    # A long interval: the dispatch round is run by hand, with all three deliveries in it.
    service = await start_service(
        webhook_disable_after=1, delivery_backoff_s=[600.0], dispatch_interval_s=60.0
    )
    dispatcher = service.app.state.dispatcher

    # The loop's first round runs at start-up; under load it can still be running when the
    # deliveries arrive and claim some of them. Wait for it: the next is 60 s away.
    async def first_round_done() -> bool:
        return dispatcher.rounds >= 1

    await eventually(first_round_done)
    receiver.status = 503
    partner = service.token("partner", PARTNER)
    hook = (
        await service.http.post("/v1/webhooks", json={"url": receiver.url}, headers=partner)
    ).json()
    for _ in range(3):
        await service.publish(example(HandoverRequested, handover_id=str(uuid.uuid4())))

    async def pending() -> bool:
        return len(await service.fetch("SELECT 1 FROM deliveries WHERE status = 'pending'")) == 3

    await eventually(pending)
    assert await dispatcher.run_once() == 3
    assert len(receiver.received) == 3
    assert not (await service.http.get(f"/v1/webhooks/{hook['id']}", headers=partner)).json()[
        "enabled"
    ]
    feed = (await service.http.get("/v1/feed", headers=partner)).json()["items"]
    assert [i["title"] for i in feed].count(
        "Webhook désactivé après 1 échec successif : vérifiez votre point de réception puis "
        "réactivez-le."
    ) == 1


async def test_an_item_held_after_its_digest_went_out_waits_for_the_next_one(
    start_service: ServiceFactory, smtp: SmtpSink
) -> None:
    from datetime import UTC, datetime, timedelta

    from relais_notifications.service.digest import send_digests

    service = await start_service(smtp_port=smtp.port)
    partner = service.token("partner", PARTNER)
    await service.http.post(
        "/v1/subscriptions",
        json={"channel": "email", "email": "accueil@cmpp.example", "digest": True},
        headers=partner,
    )

    async def held(n: int) -> bool:
        rows = await service.fetch("SELECT 1 FROM deliveries WHERE status = 'digested'")
        return len(rows) == n

    await service.publish(example(HandoverRequested))
    await eventually(lambda: held(1))
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    assert await send_digests(service.runtime, service.settings, tomorrow) == 1
    # Committed after that digest was made, yet created before its time (a transaction
    # spanning the digest hour): it must not be marked sent inside a digest that has gone.
    await service.publish(example(HandoverRequested, handover_id=str(uuid.uuid4())))
    await eventually(lambda: held(1))
    assert await send_digests(service.runtime, service.settings, tomorrow) == 0
    assert (
        await service.fetch(
            "SELECT 1 FROM deliveries d WHERE status = 'in_digest' "
            "AND NOT EXISTS (SELECT 1 FROM deliveries g WHERE g.id = d.digest_id)"
        )
        == []
    )
    after = tomorrow + timedelta(days=1)
    assert await send_digests(service.runtime, service.settings, after) == 1
    await eventually(lambda: _async(len(smtp.messages) == 2))
    assert "(1 notification)" in str(smtp.messages[1]["Subject"])


async def test_an_owner_deletes_its_webhook_and_what_waited_for_it_is_given_up(
    start_service: ServiceFactory, receiver: WebhookReceiver, tap_notifications: Tap
) -> None:
    service = await start_service(delivery_backoff_s=[600.0])
    receiver.status = 503  # the first attempt fails: the delivery waits for its retry
    partner = service.token("partner", PARTNER)
    hook = (
        await service.http.post("/v1/webhooks", json={"url": receiver.url}, headers=partner)
    ).json()
    await service.publish(example(HandoverRequested))

    async def waiting() -> bool:
        rows = await service.fetch("SELECT attempts FROM deliveries WHERE status = 'pending'")
        return [r["attempts"] for r in rows] == [1]

    await eventually(waiting)
    other = service.token("partner", "clas-saint-sever")
    refused = await service.http.delete(f"/v1/webhooks/{hook['id']}", headers=other)
    assert refused.status_code == 404
    assert refused.json()["code"] == "webhook_not_found"
    deleted = await service.http.delete(f"/v1/webhooks/{hook['id']}", headers=partner)
    assert deleted.status_code == 204
    again = await service.http.delete(f"/v1/webhooks/{hook['id']}", headers=partner)
    assert again.status_code == 404
    assert (
        await service.http.get(f"/v1/webhooks/{hook['id']}", headers=partner)
    ).status_code == 404
    failed = (await service.http.get("/v1/deliveries?status=failed", headers=partner)).json()
    assert [(d["last_failure"], d["attempts"]) for d in failed["items"]] == [
        ("endpoint_deleted", 1)
    ]

    def given_up() -> list[Any]:
        return [
            e["data"]
            for e in tap_notifications.seen
            if e["type"] == "fr.relais.notification.failed.v1" and not e["data"]["will_retry"]
        ]

    await eventually(lambda: _async(len(given_up()) == 1))
    assert given_up()[0]["failure"] == "endpoint_deleted"
    # Nothing more goes to it, nor is sent from its subscription.
    await service.publish(example(HandoverRequested, handover_id=str(uuid.uuid4())))
    await eventually(lambda: _unread(service, partner, 2))
    await asyncio.sleep(0.5)
    assert len(receiver.received) == 1
    assert len(await service.fetch("SELECT 1 FROM deliveries")) == 1


async def test_a_rotated_secret_is_shown_once_and_both_secrets_sign_during_the_grace_period(
    start_service: ServiceFactory, receiver: WebhookReceiver
) -> None:
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    service = await start_service()
    school = service.token("institution", SCHOOL)
    hook = (
        await service.http.post("/v1/webhooks", json={"url": receiver.url}, headers=school)
    ).json()
    old = hook["secret"]
    other = service.token("institution", "college-voisin")
    hidden = await service.http.post(f"/v1/webhooks/{hook['id']}/secret", headers=other)
    assert hidden.status_code == 404
    r = await service.http.post(f"/v1/webhooks/{hook['id']}/secret", headers=school)
    assert r.status_code == 200, r.text
    rotated = r.json()
    new = rotated["secret"]
    assert new.startswith("whsec_")
    assert new != old
    assert rotated["previous_secret_valid_until"] is not None
    assert (
        "secret"
        not in (await service.http.get(f"/v1/webhooks/{hook['id']}", headers=school)).json()
    )

    await service.publish(example(ReferralStatusChanged, 0))
    await eventually(lambda: _async(len(receiver.received) == 1))
    assert len(receiver.received[0].headers["webhook-signature"].split(" ")) == 2
    assert len(receiver.verified(new)) == len(receiver.verified(old)) == 1

    # Once the grace period is over (here: none), only the new secret signs.
    quick = await start_service(webhook_secret_grace_hours=0)
    r = await quick.http.post(f"/v1/webhooks/{hook['id']}/secret", headers=school)
    assert r.json()["previous_secret_valid_until"] is None
    newest = r.json()["secret"]
    await quick.publish(example(ReferralStatusChanged, 1))
    await eventually(lambda: _async(len(receiver.received) >= 2))
    last = receiver.received[-1]
    assert Webhook(newest).verify(last.body, last.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new).verify(last.body, last.headers)


async def test_deliveries_can_be_listed_by_any_status_and_an_unknown_one_is_refused_in_french(
    start_service: ServiceFactory,
) -> None:
    service = await start_service()
    partner = service.token("partner", PARTNER)
    for status in ("pending", "sending", "delivered", "failed", "digested", "in_digest"):
        r = await service.http.get(f"/v1/deliveries?status={status}", headers=partner)
        assert r.status_code == 200, (status, r.text)
    bad = await service.http.get("/v1/deliveries?status=lost", headers=partner)
    assert bad.status_code == 422
    [error] = bad.json()["errors"]
    assert error["field"] == "query.status"
    assert error["message"].startswith("Valeur non autorisée. Valeurs possibles :")
    assert "'in_digest'" in error["message"]


async def _unread(service: Any, headers: dict[str, str], count: int) -> bool:
    body = (await service.http.get("/v1/feed", headers=headers)).json()
    return bool(body["unread"] == count)
