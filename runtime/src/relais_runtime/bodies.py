"""Rules every request body and list route shares, so that bad input is a 422, never a 500."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, ConfigDict, field_validator
from pydantic_core import PydanticCustomError

#: Bounded: PostgreSQL's OFFSET is a bigint (a larger value was a 500); no page lies that far.
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


def has_nul(value: Any) -> bool:
    """True if a string in ``value`` (lists, tuples, sets, dict keys and values) holds U+0000."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple | set | frozenset):
        return any(has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    return False  # nested bodies check their own fields


class Body(BaseModel):
    """A request body: unknown fields refused, no NUL character in any text.

    Services add their own settings (``model_config = ConfigDict(str_strip_whitespace=True)``
    in a subclass merges with these).
    """

    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _no_nul_character(cls, value: Any) -> Any:
        # PostgreSQL text and jsonb refuse U+0000: without this check, a 500.
        if has_nul(value):
            raise PydanticCustomError(
                "nul_character", "Ce texte ne peut pas contenir de caractère nul (U+0000)."
            )
        return value
