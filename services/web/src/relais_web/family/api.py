"""Calls to parcours's family routes with the guardian's token (ADR 0012).

A refusal of the letter or the token (401, or 403 with a ``letter_*`` code: revoked,
expired…) ends the session; another refusal is an :class:`ApiError` shown on the page.
Bodies are never logged.
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import Request

from relais_runtime.logging import get_logger
from relais_web.api import ApiError, ApiUnavailableError, error_body
from relais_web.family.session import FamilySessionEndedError, Guardian
from relais_web.session import NotFoundError

log = get_logger(__name__)


def _base(request: Request) -> str:
    return str(request.app.state.settings.parcours_url).rstrip("/")


async def open_session(request: Request, link: str, code: str) -> dict[str, Any]:
    """Exchange the letter's link and code; a refusal is an ApiError with parcours's code."""
    opened: dict[str, Any] = await _send(
        request, "POST", "/v1/family/sessions", None, {"link": link, "code": code}
    )
    return opened


async def call(request: Request, who: Guardian, method: str, path: str, json: Any = None) -> Any:
    return await _send(request, method, path, who, json)


async def document(request: Request, who: Guardian, kind: str) -> bytes:
    response = await _request(request, "GET", f"/v1/family/documents/{kind}", who, None)
    _raise_for(response, who)
    return response.content


async def _request(
    request: Request, method: str, path: str, who: Guardian | None, json: Any
) -> httpx.Response:
    client: httpx.AsyncClient = request.app.state.http
    headers = {"Accept": "application/json"}
    if who is not None:
        headers["Authorization"] = f"Bearer {who.token}"
    try:
        return await client.request(method, f"{_base(request)}{path}", json=json, headers=headers)
    except httpx.HTTPError as exc:
        log.warning("api unreachable", service="parcours", error=type(exc).__name__)
        raise ApiUnavailableError("parcours") from exc


async def _send(request: Request, method: str, path: str, who: Guardian | None, json: Any) -> Any:
    response = await _request(request, method, path, who, json)
    _raise_for(response, who)
    return response.json() if response.content else None


def _raise_for(response: httpx.Response, who: Guardian | None) -> None:
    if response.status_code < 400:
        return
    body = error_body(response)
    code = str(body.get("code", "error"))
    log.info("family api refused", status=response.status_code, code=code)
    if response.status_code >= 500:
        raise ApiUnavailableError("parcours")
    if who is not None and (
        response.status_code == 401 or (response.status_code == 403 and code.startswith("letter"))
    ):
        raise FamilySessionEndedError(code, body.get("message"))
    if who is not None and response.status_code == 404 and response.request.method == "GET":
        raise NotFoundError
    raise ApiError.from_body(response.status_code, body)
