"""What every role's pages share: the APIs, rendering, ids in paths, API refusals on forms."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from relais_web.api import ApiError, Apis
from relais_web.labels import CODE_FIELD
from relais_web.session import NotFoundError, SignedIn
from relais_web.templating import templates


def apis(request: Request) -> Apis:
    found: Apis = request.app.state.apis
    return found


def render(
    request: Request,
    template: str,
    person: SignedIn | None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    return templates.TemplateResponse(
        request, template, {"person": person, **context}, status_code=status_code
    )


def render_form(
    request: Request,
    template: str,
    person: SignedIn,
    error: ApiError | None,
    *,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    **context: Any,
) -> Response:
    """A page with a form, sent back with the API's refusal when there is one: its status
    (:func:`form_status`), the values as typed and each field's French message."""
    return render(
        request,
        template,
        person,
        status_code=form_status(error) if error else 200,
        values=values or {},
        errors=field_errors(error) if errors is None else errors,
        error=error,
        **context,
    )


def see_other(url: str) -> Response:
    """After a successful POST: the browser GETs the result (no re-post on reload)."""
    return RedirectResponse(url, status_code=303)


def uuid_or_404(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise NotFoundError from None


def field_errors(error: ApiError | None) -> dict[str, str]:
    """Field → French message, with refusals the API gives without a field placed too."""
    if error is None:
        return {}
    errors = error.by_field()
    if error.code in CODE_FIELD:
        errors.setdefault(CODE_FIELD[error.code], error.message)
    return errors


def form_status(error: ApiError) -> int:
    """A form sent back with its errors: 422 for a validation error, else the API's 4xx."""
    return error.status if 400 <= error.status < 500 else 422
