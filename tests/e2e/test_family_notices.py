"""Notices to the family on the real stack (issue 14 item 6): a handover to a partner the
family has not heard of reaches, by itself, the parent who chose e-mail, in its language,
from parcours (the address never crosses the broker); the parent without e-mail is left
to the référent (SMS), and nothing of another child or of the team's notes is written."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from relais_notifications.testing import SmtpSink
from relais_runtime.testing import eventually
from tests.e2e.test_family_web import (
    COORDINATION,
    OTHER_CHILD,
    hand_health_action_to_the_cmpp,
    load_directory,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from demo_family import REFERENT_ID, load_demo_family

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


async def mails_to(smtp: SmtpSink, address: str, timeout_s: float = 30) -> list[Any]:
    for _ in range(int(timeout_s * 4)):
        found = [m for m in smtp.messages if m["To"] == address]
        if found:
            return found
        await asyncio.sleep(0.25)
    raise AssertionError(f"no e-mail to {address} within {timeout_s} s")


@pytest.mark.timeout(600)
async def test_a_new_partner_is_e_mailed_to_each_parent_who_chose_e_mail_in_its_language(
    stack_factory: Any, smtp: SmtpSink, tmp_path: Path
) -> None:
    stack = await stack_factory(
        ["referral", "parcours"],
        extra_env={"PARCOURS_SMTP_PORT": str(smtp.port), "PARCOURS_SCHEDULER_INTERVAL_S": "1"},
    )
    parcours = stack.url("parcours")
    coordinator = stack.auth("coordinator", COORDINATION)
    referent = {"Authorization": "Bearer " + stack.token("referent", COORDINATION, sub=REFERENT_ID)}
    async with httpx.AsyncClient(timeout=30) as http:
        tokens = await load_directory(stack, http)
        urls = {"referral": stack.url("referral"), "parcours": parcours}
        await asyncio.to_thread(load_demo_family, urls, tokens, tmp_path / "ouali")
        await asyncio.to_thread(
            load_demo_family, urls, tokens, tmp_path / "martin", OTHER_CHILD, "famille-martin"
        )
        situations = (
            await http.get(f"{parcours}/v1/situations?stage=in_parcours", headers=coordinator)
        ).json()["items"]
        assert len(situations) == 2
        for situation in situations:
            await hand_health_action_to_the_cmpp(stack, http, situation["id"])

        [to_father] = await mails_to(smtp, "karim.ouali@example.org")
        [to_sofia] = await mails_to(smtp, "sofia.martin@example.org")
        assert to_father["Subject"] == "Un message du PRE"
        assert "Votre enfant va aussi être aidé par CMPP Rouen rive gauche" in (
            to_father.get_content()
        )
        assert to_sofia["Subject"] == "Uma mensagem do PRE"
        assert to_sofia["Content-Language"] == "pt"
        for message, others in (
            (to_father, ("Lucas", "Sofia", "Martin")),
            (to_sofia, ("Inès", "Ouali")),
        ):
            raw = message.as_string()
            assert "Bilan orthophonique" not in raw  # the team's words stay with the team
            for word in others:
                assert word not in raw
        assert len(smtp.messages) == 2  # once per parent and cause, never again

        async def only_the_sms_left() -> list[dict[str, Any]] | None:
            # The scheduler marks a notice sent in a transaction after the SMTP answer: the
            # mail may be in the sink a moment before its notice leaves the pending list.
            pending: list[dict[str, Any]] = (
                await http.get(f"{parcours}/v1/family-notices", headers=referent)
            ).json()
            channels = [(n["channel"], n["automatic"]) for n in pending]
            return pending if channels == [("sms", False)] else None

        pending = await eventually(only_the_sms_left, timeout=10)
        assert pending[0]["text_fr"].startswith("Votre enfant va aussi être aidé par")

    logs = stack.logs()
    for word in ("karim.ouali@example.org", "sofia.martin@example.org", "Ouali", "Martin"):
        assert word not in logs, f"{word!r} written to a service log"
