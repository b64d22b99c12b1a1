"""Masking of personal data in free text (error messages, log values, parked-message reasons)."""

from __future__ import annotations

import re

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "[email]"),
    # French numbers: 0X XX XX XX XX, +33 X XX XX XX XX, with spaces, dots or dashes.
    (re.compile(r"(?:\+33\s?|0)[1-9](?:[\s.-]?\d{2}){4}"), "[phone]"),
    (re.compile(r"\b\d{1,2}[/.-]\d{1,2}[/.-]\d{4}\b"), "[date]"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "[date]"),
    # PostgreSQL constraint details echo the offending values: "Key (x)=(value)".
    (re.compile(r"\)=\([^)]*\)"), ")=([redacted])"),
)


def scrub_text(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
