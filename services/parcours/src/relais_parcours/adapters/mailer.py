"""E-mail to a family through SMTP (aiosmtplib): the message is built by the caller, the
answer is a failure code or None (never the server's text: it may echo the address)."""

from __future__ import annotations

import ssl
from email.message import EmailMessage

import aiosmtplib

from relais_parcours.config import ParcoursSettings


async def send(settings: ParcoursSettings, message: EmailMessage) -> str | None:
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
        final = all(500 <= r.code < 600 for r in exc.recipients)
        return "rejected" if final else "refused_for_now"
    except aiosmtplib.SMTPResponseException as exc:
        return "rejected" if 500 <= exc.code < 600 else "refused_for_now"
    except aiosmtplib.SMTPTimeoutError:
        return "timeout"
    except (aiosmtplib.SMTPException, OSError):
        return "connection_error"
    return None
