"""Subscriptions and deliveries against real peers on 127.0.0.1: webhook, SMTP, AMQP."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import pytest

from relais_contracts.topology import delivery_queue
from relais_contracts.v1.parcours import HandoverRequested
from relais_contracts.v1.referral import ReferralStatusChanged
from relais_notifications.testing import SmtpSink, WebhookReceiver

from .conftest import ServiceFactory, Tap, eventually
from .samples import example

pytestmark = pytest.mark.integration

SCHOOL = "ecole-jules-ferry"
PARTNER = "cmpp-rouen-rive-gauche"
STATUS_CHANGED = "fr.relais.referral.status_changed.v1"


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    peer = WebhookReceiver()
    await peer.start()
    yield peer
    await peer.stop()


@pytest.fixture
def smtp() -> Any:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


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
    assert failed["items"][0]["last_failure"] == "invalid_endpoint"
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
async def test_smtp_auth_is_used_when_configured(start_service: ServiceFactory) -> None:
    sink = SmtpSink(auth=("relais", "s3cret"))
    sink.start()
    try:
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
    finally:
        sink.stop()


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
    start_service: ServiceFactory, tmp_path: Any
) -> None:
    import ssl

    cert, key = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    sink = SmtpSink(auth=("relais", "s3cret"), tls=server_tls)
    sink.start()
    try:
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
    finally:
        sink.stop()


async def test_an_untrusted_smtp_certificate_is_refused(
    start_service: ServiceFactory, tmp_path: Any
) -> None:
    import ssl

    cert, key = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    sink = SmtpSink(tls=server_tls)
    sink.start()
    try:
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
    finally:
        sink.stop()
