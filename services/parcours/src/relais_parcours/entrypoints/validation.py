"""A refusal a route finds after parsing the body, answered like a field validator's."""

from __future__ import annotations

from fastapi.exceptions import RequestValidationError


def invalid_field(field: str, code: str, message: str) -> RequestValidationError:
    """A 422 shaped like a field validator's (field, code, French message).

    For checks a body model cannot make: "today" is the PRE's day (configured time zone),
    and some rules compare with what is stored (the consent's guardians, the day a
    handover was requested), so the route checks them once the body is parsed.
    """
    return RequestValidationError([{"type": code, "loc": ("body", field), "msg": message}])
