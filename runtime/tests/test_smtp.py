"""The shared SMTP sender: settings mixed into a service's, failure codes without remote text."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from pydantic_settings import SettingsConfigDict

from relais_runtime.settings import RelaisSettings
from relais_runtime.smtp import SmtpFailure, SmtpSettings, send_email
from relais_runtime.testing import free_port


class MailingSettings(SmtpSettings, RelaisSettings):
    model_config = SettingsConfigDict(env_prefix="MAILING_")


def test_smtp_settings_take_the_service_prefix_and_keep_the_shared_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAILING_SMTP_PORT", "2525")
    monkeypatch.setenv("RELAIS_AMQP_URL", "amqp://elsewhere/")

    settings = MailingSettings(not_a_setting="ignored")  # type: ignore[call-arg]

    assert settings.smtp_port == 2525
    assert settings.amqp_url == "amqp://elsewhere/"


async def test_a_server_that_does_not_answer_is_a_connection_error() -> None:
    message = EmailMessage()
    message["From"] = "relais@example.org"
    message["To"] = "famille@example.org"
    message.set_content("Bonjour")
    settings = MailingSettings(smtp_port=free_port(), smtp_timeout_s=2)

    assert await send_email(settings, message) is SmtpFailure.CONNECTION_ERROR
