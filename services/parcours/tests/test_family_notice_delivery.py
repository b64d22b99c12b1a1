"""Notices to the family go out by themselves (issue 14 item 6): an e-mail in the
guardian's language through a real SMTP server, retried when the server is away, left
to the référent when refused for good; a post notice's letter ready to print."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from relais_notifications.testing import SmtpSink
from relais_parcours.context import Parcours
from relais_parcours.service.family_notice_delivery import mail_due_notices
from relais_parcours.service.family_notices import announce_expiring_consents
from relais_runtime.testing import free_port

from .checks import CMPP, Harness
from .test_family_space import family_in_parcours, letter, pdf_text, session

pytestmark = pytest.mark.integration


def with_smtp(h: Harness, port: int) -> Parcours:
    ctx: Parcours = h.app.state.parcours
    return dataclasses.replace(ctx, settings=ctx.settings.model_copy(update={"smtp_port": port}))


async def notices(h: Harness) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (
        await h.http.get("/v1/family-notices", headers=h.auth("coordinator"))
    ).json()
    return found


@pytest.fixture
async def sink() -> Any:
    smtp = SmtpSink()
    smtp.start()
    yield smtp
    smtp.stop()


async def test_a_new_partner_is_e_mailed_to_the_parent_who_chose_e_mail_in_its_language(
    parcours: Harness, sink: SmtpSink
) -> None:
    h = parcours
    await family_in_parcours(h)  # the father has an e-mail address and reads Turkish

    sent = await mail_due_notices(with_smtp(h, sink.port))
    again = await mail_due_notices(with_smtp(h, sink.port))

    assert (sent, again) == (1, 0)
    [message] = sink.messages
    body = message.get_content()
    assert message["To"] == "karim@example.org"
    assert message["Subject"] == "PRE'den bir mesaj"
    assert message["Content-Language"] == "tr"
    assert f"Partenaire {CMPP}" in body
    assert "02 35 00 00 00" in body  # the PRE's contact
    for secret in ("NOTE-INTERNE", "Yasmine", "Nadia", "rue des Lilas", "06 11 22 33 44"):
        assert secret not in message.as_string()
    left = await notices(h)
    assert [(n["guardian"], n["channel"], n["automatic"]) for n in left] == [(0, "sms", False)]


async def test_an_absent_mail_server_is_tried_again_later_and_a_refusal_goes_to_the_referent(
    parcours: Harness,
) -> None:
    h = parcours
    await family_in_parcours(h)
    nobody = free_port()

    assert await mail_due_notices(with_smtp(h, nobody)) == 0
    [to_father] = [n for n in await notices(h) if n["channel"] == "email"]
    assert (to_father["automatic"], to_father["attempts"]) == (True, 1)
    assert to_father["last_failure"] == "connection_error"
    assert await mail_due_notices(with_smtp(h, nobody)) == 0  # not due yet

    refusing = SmtpSink(rcpt_replies=["550 5.1.1 no such mailbox"])
    refusing.start()
    try:
        later = datetime.now(UTC) + timedelta(minutes=2)
        assert await mail_due_notices(with_smtp(h, refusing.port), now=later) == 0
        much_later = later + timedelta(days=1)
        assert await mail_due_notices(with_smtp(h, refusing.port), now=much_later) == 0
    finally:
        refusing.stop()
    [to_father] = [n for n in await notices(h) if n["channel"] == "email"]
    assert (to_father["automatic"], to_father["last_failure"]) == (False, "rejected")
    assert refusing.messages == []


async def test_a_parent_who_chose_post_gets_a_letter_in_its_language_ready_to_print(
    parcours: Harness,
) -> None:
    h = parcours
    s = await family_in_parcours(h)
    mother = await session(h, await letter(h, s["situation_id"]))
    chose = await h.http.put("/v1/family/preferences", json={"channel": "post"}, headers=mother)
    assert chose.status_code == 204, chose.text
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
    await announce_expiring_consents(h.app.state.parcours.units.sweep(), h.app.state.parcours)
    [by_post] = [n for n in await notices(h) if n["channel"] == "post"]
    assert (by_post["guardian"], by_post["automatic"]) == (0, False)

    printed = await h.http.get(
        f"/v1/family-notices/{by_post['id']}/letter",
        headers=h.auth("referent", sub="claire-morel"),
    )

    assert printed.status_code == 200, printed.text
    assert printed.headers["cache-control"] == "no-store"
    text = pdf_text(printed.content)
    assert "Nadia Haddad" in text
    assert "12 rue des Lilas" in text  # for a window envelope
    assert "رسالة من البرنامج" in text  # « A message from the PRE », in Arabic
    assert "NOTE-INTERNE" not in text
    assert "Yasmine" not in text
    other = await h.http.get(
        f"/v1/family-notices/{by_post['id']}/letter",
        headers=h.auth("coordinator", tenant=h.other_tenant),
    )
    assert other.status_code == 404
