"""Rules of the family's door: access letters, codes, languages, what a guardian may do.

A guardian is known by its position among the latest referral's guardians; its name
comes from the encrypted identity only when a page or letter needs it.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

#: The languages family texts exist in (gettext catalogues); French is the reference.
LANGUAGES: Final[tuple[str, ...]] = ("fr", "ar", "en", "tr", "pt")
RTL_LANGUAGES: Final = frozenset({"ar"})
#: Letters without ambiguous characters (no 0/O, 1/I/L): a code is read aloud and typed.
_CODE_ALPHABET: Final = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH: Final = 8
#: Wrong codes before a letter is locked (the référent prints a new one).
MAX_FAILED_ATTEMPTS: Final = 5


class Channel(StrEnum):
    """Comment un responsable souhaite recevoir les nouvelles du PRE."""

    POST = "post"
    EMAIL = "email"
    PHONE = "phone"
    SMS = "sms"


class RequestKind(StrEnum):
    """Ce qu'une famille peut demander sur ses données (RGPD, art. 16 et 17)."""

    CORRECTION = "correction"
    ERASURE = "erasure"


class LetterRefusal(StrEnum):
    """Why a link and code open nothing (each with its French message in the route)."""

    UNKNOWN = "letter_unknown"
    WRONG_CODE = "code_wrong"
    LOCKED = "letter_locked"
    EXPIRED = "letter_expired"
    USED = "letter_used"
    REVOKED = "letter_revoked"


def new_link_token() -> str:
    return secrets.token_urlsafe(32)


def new_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def normalise_code(code: str) -> str:
    """What a person typed: spaces, dashes and case do not matter."""
    return "".join(c for c in code.upper() if c.isalnum())


def link_hash(link_token: str) -> bytes:
    return hashlib.sha256(link_token.encode("utf-8")).digest()


def code_hash(link_token: str, code: str) -> bytes:
    # Keyed by the link: without the letter itself, a stolen table cannot test codes.
    return hmac.new(link_token.encode("utf-8"), normalise_code(code).encode(), "sha256").digest()


def code_matches(link_token: str, code: str, stored: bytes) -> bool:
    return hmac.compare_digest(code_hash(link_token, code), stored)


def letter_refusal(letter: Any, now: datetime) -> LetterRefusal | None:
    """Why this letter cannot open a session now (the code aside), if it cannot."""
    if letter is None:
        return LetterRefusal.UNKNOWN
    if letter["revoked_at"] is not None:
        locked = letter["failed_attempts"] >= MAX_FAILED_ATTEMPTS
        return LetterRefusal.LOCKED if locked else LetterRefusal.REVOKED
    if letter["used_at"] is not None:
        return LetterRefusal.USED
    if letter["expires_at"] <= now:
        return LetterRefusal.EXPIRED
    return None


def pick_language(guardian_languages: Iterable[str], chosen: str | None = None) -> str:
    """The guardian's choice, else its first language we have texts in, else French."""
    if chosen in LANGUAGES:
        return str(chosen)
    for language in guardian_languages:
        code = str(language).lower().split("-")[0]
        if code in LANGUAGES:
            return code
    return "fr"


def interpreter_needed(identity: Mapping[str, Any] | None) -> bool:
    """« interprète à prévoir »: a guardian of this identity needs an interpreter."""
    return any(g.get("interpreter_needed") for g in (identity or {}).get("guardians") or [])


def request_due_on(made_on: date) -> date:
    """One month to answer (RGPD art. 12.3): the same day next month, or its last day."""
    year, month = (
        (made_on.year + 1, 1) if made_on.month == 12 else (made_on.year, made_on.month + 1)
    )
    return date(year, month, min(made_on.day, calendar.monthrange(year, month)[1]))


def first_name(display_name: str) -> str:
    """The référent as the family knows them: the first name only."""
    return display_name.split()[0] if display_name.split() else display_name


def consent_label_for(
    consent_guardians: Sequence[Mapping[str, Any]], guardian: Mapping[str, Any]
) -> str | None:
    """Which of the consent's guardians this person is: by name in the label, else by
    relationship when exactly one guardian has it; None if they did not give it."""
    names = {
        str(guardian.get("first_name", "")).casefold(),
        str(guardian.get("last_name", "")).casefold(),
    }
    names.discard("")
    for entry in consent_guardians:
        words = {w.casefold() for w in str(entry.get("label", "")).replace("-", " ").split()}
        if names and names <= words:
            return str(entry["label"])
    same = [e for e in consent_guardians if e.get("relationship") == guardian.get("relationship")]
    return str(same[0]["label"]) if len(same) == 1 else None


def scope_without(
    scope: Sequence[Mapping[str, Any]], partner_id: str, directory: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The consent's scope once a family withdraws it for one partner.

    An entry naming the partner goes; an entry for its whole category becomes one entry
    per other partner of that category today (narrower, never wider, than before).
    """
    category = directory.get(partner_id, {}).get("category")
    narrowed: list[dict[str, Any]] = []
    for entry in scope:
        if entry.get("partner_id") == partner_id:
            continue
        if category is not None and entry.get("partner_category") == category:
            for other_id, other in sorted(directory.items()):
                if other_id != partner_id and other.get("category") == category:
                    narrowed.append(
                        {"partner_id": other_id, "data_categories": list(entry["data_categories"])}
                    )
            continue
        narrowed.append(dict(entry))
    return narrowed


def letter_expiry(created_at: datetime, days: int) -> datetime:
    return created_at + timedelta(days=days)
