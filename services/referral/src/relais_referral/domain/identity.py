"""Finding the same child again without keeping names in clear: a keyed blind index.

Two referrals of one child rarely spell it the same way: accents dropped by one keyboard,
capitals, a compound name with a hyphen or a space. The identity is normalised, then
hashed with HMAC-SHA256 under a secret key of the PRE: equal identities give equal
indexes, and without the key the index can't be recomputed from a guessed name (a plain
hash could, by trying every first name with every birth date).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from datetime import date

#: Characters that separate the words of a name, however they were typed.
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—'’`´.,_]+")


def normalise_name(name: str) -> str:
    """``"  Éloïse-Marie "`` → ``"eloise marie"``: no accents, no case, one space per break."""
    decomposed = unicodedata.normalize("NFKD", name)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    # ß, œ and æ have no decomposition: casefold spells ß as ss, the ligatures by hand.
    folded = stripped.casefold().replace("œ", "oe").replace("æ", "ae")
    return _SEPARATORS.sub(" ", folded).strip()


def identity_key(first_name: str, last_name: str, birth_date: date) -> bytes:
    """The normalised identity the index is computed over (never stored)."""
    parts = (normalise_name(first_name), normalise_name(last_name), birth_date.isoformat())
    return "\x1f".join(parts).encode()


def blind_index(secret: bytes, first_name: str, last_name: str, birth_date: date) -> str:
    """HMAC-SHA256 of the normalised identity under the PRE's index key, hex-encoded."""
    if len(secret) < 32:
        raise ValueError("the blind index key must be at least 256 bits")
    message = identity_key(first_name, last_name, birth_date)
    return hmac.new(secret, message, hashlib.sha256).hexdigest()
