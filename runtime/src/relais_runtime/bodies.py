"""Rules every request body and list route shares, so that bad input is a 4xx, never a 500."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import Query
from pydantic import BaseModel, ConfigDict, field_validator
from pydantic_core import PydanticCustomError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Default limit of a request body; a referral with its fiche is a few kilobytes.
MAX_BODY_BYTES: Final = 1024 * 1024

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


# -- size of a body ---------------------------------------------------------------------------


def _size_fr(n: int) -> str:
    if n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} Mio"
    if n % 1024 == 0:
        return f"{n // 1024} Kio"
    return f"{n} octets"


class BodyTooLarge(HTTPException):
    """413 ``payload_too_large`` (the shared handler's code for 413); closes the connection."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            status_code=413,
            detail="Le corps de la requête dépasse la taille maximale acceptée "
            f"({_size_fr(max_bytes)}).",
            # The rest of the body is never read: the client must not reuse the connection.
            headers={"Connection": "close"},
        )

    def response(self) -> JSONResponse:
        return JSONResponse(
            {"code": "payload_too_large", "message": self.detail},
            status_code=self.status_code,
            headers=self.headers,
        )


class BodyLimit:
    """Pure ASGI middleware refusing a body over ``max_bytes`` (413) before reading it.

    A declared ``Content-Length`` over the limit is answered at once, without reading a byte
    and without calling the route; a chunked body is counted as it arrives and refused as
    soon as it passes the limit, so at most ``max_bytes`` (plus one chunk) is ever read.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            # Answered here, before the route: not one byte of the body is read.
            await BodyTooLarge(self.max_bytes).response()(scope, receive, send)
            return
        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, counted_receive, send)
