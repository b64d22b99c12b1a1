"""What reporting keeps of an event's payload: non-identifying facts only.

``sealed`` (identity and free text, encrypted to the PRE) is unreadable here and must not
rest here. ``redirected_to`` is the only other free-text field of the contract (a service
name typed by a person): reporting needs its category (``redirect_category``), not the text.
Only the types reporting reads keep a payload at all (``facts.READ_TYPES``); a test walks
their schemas and fails if a new free-text field appears unlisted.
Staff user ids (référents, notified users) are personal data of staff that no indicator
needs: not kept either (data minimisation).
"""

from __future__ import annotations

from typing import Any

#: Payload fields never stored by reporting, at any depth.
NOT_KEPT = frozenset(
    {"sealed", "redirected_to", "referent_id", "previous_referent_id", "recipient_user_id"}
)


def anonymous_data(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` without the fields reporting must not keep (nested objects included)."""
    return {k: _clean(v) for k, v in data.items() if k not in NOT_KEPT}


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return anonymous_data(value)
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value
