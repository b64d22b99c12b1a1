"""Request bodies' common rules, and refusals a route finds after parsing the body."""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ConfigDict

from relais_contracts.types import Slug
from relais_parcours.service.dates import FieldRefused
from relais_runtime.bodies import Body as RuntimeBody
from relais_runtime.bodies import Offset

__all__ = ["Body", "Offset", "PartnerId", "install_field_refusals", "invalid_field"]

#: Partner ids are slugs: anything else (a NUL byte, 10 000 characters) is refused as such.
PartnerId = Annotated[Slug, Path()]


class Body(RuntimeBody):
    """A request body: unknown fields refused, text stripped, no NUL character."""

    model_config = ConfigDict(str_strip_whitespace=True)


def invalid_field(field: str, code: str, message: str) -> RequestValidationError:
    """A 422 shaped like a field validator's (field, code, French message).

    For refusals a route finds once the body is parsed (the consent's guardians named in a
    withdrawal); the rules that compare with the PRE's day or with what is stored raise
    :class:`FieldRefused` in the use case, answered the same way.
    """
    return RequestValidationError([{"type": code, "loc": ("body", field), "msg": message}])


def install_field_refusals(app: FastAPI) -> None:
    """A use case's :class:`FieldRefused` is answered like a body validator's error."""

    async def on_field_refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, FieldRefused)
        answer = request.app.exception_handlers[RequestValidationError]
        response: Response = await answer(request, invalid_field(exc.field, exc.code, exc.message))
        return response

    app.add_exception_handler(FieldRefused, on_field_refused)
