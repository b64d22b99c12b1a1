"""E-mail to a family: the runtime's SMTP sender with parcours' settings. The answer is a
failure code or None (never the server's text: it may echo the address)."""

from __future__ import annotations

from relais_runtime.smtp import send_email as send

__all__ = ["send"]
