"""Calls to the four APIs with the signed-in person's token (the web keeps no domain data).

An API's answer becomes: the JSON body; :class:`ApiError` for a refusal the person can
act on (its French message and the field errors, shown beside the fields); a sign-in
again on 401; the French 403 page on 403; the 404 page; or :class:`ApiUnavailableError`.
Bodies are never logged: they may hold a child's identity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from relais_runtime.logging import get_logger
from relais_web.config import WebSettings
from relais_web.session import ForbiddenError, NotFoundError, SignedIn, SignInRequiredError

log = get_logger(__name__)

Service = Literal["referral", "parcours", "notifications", "reporting"]


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    code: str
    message: str


@dataclass(slots=True)
class ApiError(Exception):
    """A 4xx the person can act on: a French message, and one per field when known."""

    status: int
    code: str
    message: str
    errors: list[FieldError] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.status} {self.code}"

    @classmethod
    def from_body(cls, status: int, body: dict[str, Any]) -> ApiError:
        """The refusal an API's error body (``{"code", "message", "errors"}``) describes."""
        return cls(
            status=status,
            code=str(body.get("code", "error")),
            message=str(body.get("message", "La demande n'a pas pu aboutir.")),
            errors=[
                FieldError(str(e.get("field", "")), str(e.get("code", "")), str(e.get("message")))
                for e in body.get("errors") or []
                if isinstance(e, dict)
            ],
        )

    def by_field(self) -> dict[str, str]:
        """Field path (``child.birth_date``) → its first French message."""
        out: dict[str, str] = {}
        for err in self.errors:
            out.setdefault(err.field, err.message)
        return out


class ApiUnavailableError(Exception):
    """An API did not answer, or answered 5xx: not the person's fault."""


class Apis:
    def __init__(self, settings: WebSettings, client: httpx.AsyncClient) -> None:
        self._client = client
        self._bases: dict[str, str] = {
            "referral": settings.referral_url.rstrip("/"),
            "parcours": settings.parcours_url.rstrip("/"),
            "notifications": settings.notifications_url.rstrip("/"),
            "reporting": settings.reporting_url.rstrip("/"),
        }

    def url(self, service: Service, path: str) -> str:
        return f"{self._bases[service]}{path}"

    async def get(
        self,
        person: SignedIn,
        service: Service,
        path: str,
        params: dict[str, Any] | None = None,
    ) -> Any:
        return await self.call(person, "GET", service, path, params=params)

    async def call(
        self,
        person: SignedIn,
        method: str,
        service: Service,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        accept: str = "application/json",
    ) -> Any:
        """The JSON answer; with another ``accept`` (a PDF), its bytes."""
        headers = {"Authorization": f"Bearer {person.token}", "Accept": accept}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            resp = await self._client.request(
                method, self.url(service, path), json=json, params=clean, headers=headers
            )
        except httpx.HTTPError as exc:
            log.warning("api unreachable", service=service, error=type(exc).__name__)
            raise ApiUnavailableError(service) from exc
        if resp.status_code < 400:
            if accept != "application/json":
                return resp.content
            return resp.json() if resp.content else None
        body = error_body(resp)
        log.info("api refused", service=service, status=resp.status_code, code=body.get("code"))
        if resp.status_code == 401:
            raise SignInRequiredError
        if resp.status_code == 403:
            raise ForbiddenError(body.get("message"))
        if resp.status_code == 404 and method == "GET":
            raise NotFoundError
        if resp.status_code >= 500:
            raise ApiUnavailableError(service)
        raise ApiError.from_body(resp.status_code, body)


def error_body(resp: httpx.Response) -> dict[str, Any]:
    """A refusal's error body (FastAPI's ``detail`` unwrapped); {} when it is not one."""
    try:
        body = resp.json()
    except ValueError:
        return {}
    if isinstance(body, dict):
        detail = body.get("detail")
        return detail if isinstance(detail, dict) else body
    return {}
