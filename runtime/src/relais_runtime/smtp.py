"""E-mail through SMTP (aiosmtplib), one sender for every service that mails.

A service's settings inherit :class:`SmtpSettings` (the fields take the service's env
prefix: ``PARCOURS_SMTP_HOST``, ``NOTIFICATIONS_SMTP_HOST``). :func:`send_email` answers a
failure code or None, never the server's text: it may echo the address.
"""

from __future__ import annotations

import ssl
from email.message import EmailMessage
from enum import StrEnum

import aiosmtplib
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

__all__ = ["SmtpFailure", "SmtpSettings", "send_email"]


class SmtpSettings(BaseSettings):
    """The SMTP server's settings, mixed into a service's settings."""

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    #: Upgrade the connection with STARTTLS (port 587); ``smtp_tls``: implicit TLS (465).
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_s: float = Field(default=15.0, gt=0)
    #: CA bundle to trust for the SMTP server's certificate (else the system's).
    smtp_ca_file: str | None = None


class SmtpFailure(StrEnum):
    #: Refused for good (5xx: address unknown, policy).
    REJECTED = "rejected"
    #: Refused for now (4xx: greylisting, mailbox full): another try may pass.
    REFUSED_FOR_NOW = "refused_for_now"
    TIMEOUT = "timeout"
    CONNECTION_ERROR = "connection_error"


async def send_email(settings: SmtpSettings, message: EmailMessage) -> SmtpFailure | None:
    """Send ``message`` (built by the caller); None when the server took it."""
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    try:
        await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            start_tls=settings.smtp_starttls,
            use_tls=settings.smtp_tls,
            username=settings.smtp_username,
            password=password,
            timeout=settings.smtp_timeout_s,
            tls_context=ssl.create_default_context(cafile=settings.smtp_ca_file),
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        # Final only if every recipient is refused for good.
        final = all(500 <= r.code < 600 for r in exc.recipients)
        return SmtpFailure.REJECTED if final else SmtpFailure.REFUSED_FOR_NOW
    except aiosmtplib.SMTPResponseException as exc:
        return SmtpFailure.REJECTED if 500 <= exc.code < 600 else SmtpFailure.REFUSED_FOR_NOW
    except aiosmtplib.SMTPTimeoutError:
        return SmtpFailure.TIMEOUT
    except (aiosmtplib.SMTPException, OSError):
        return SmtpFailure.CONNECTION_ERROR
    return None
