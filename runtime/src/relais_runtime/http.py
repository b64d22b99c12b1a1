"""The HTTP kit every service shares: route dependencies, paging, idempotency, ops routes.

Routes declare what they need with these annotations instead of their own copies::

    async def get_things(who: CurrentPrincipal, runtime: Runtime,
                         limit: Limit = 50, offset: Offset = 0) -> Page: ...

- :data:`Runtime`: the service runtime (pool, units of work);
- :data:`CurrentPrincipal` (any staff caller) and ``Depends(require_roles(...))``;
- :data:`Limit`, :data:`Offset`: paging, bounded (a larger page or offset is a 422);
- :data:`IdempotencyKey`: the ``Idempotency-Key`` header; the key is claimed with
  :mod:`relais_runtime.idempotency` (scope, fingerprint, 409 on reuse, retention);
- the error model (``{"code", "message"}``, French messages) is :mod:`relais_runtime.errors`:
  raise :class:`DomainError`.

Operational endpoints: liveness, readiness and Prometheus metrics.
``/health`` says the process is alive and nothing more (a liveness probe must not fail
because the database is down, or the orchestrator would restart healthy pods in a loop).
``/ready`` runs the service's dependency checks (broker, database...) concurrently, each
bounded by :data:`READY_CHECK_TIMEOUT_S`; a load balancer stops routing to a replica
while it answers 503.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from relais_runtime.auth import CurrentPrincipal, Principal, require_roles
from relais_runtime.errors import DomainError
from relais_runtime.logging import get_logger
from relais_runtime.runtime import ServiceRuntime

__all__ = [
    "MAX_LIMIT",
    "MAX_OFFSET",
    "READY_CHECK_TIMEOUT_S",
    "CSVResponse",
    "CurrentPrincipal",
    "DomainError",
    "IdempotencyKey",
    "Limit",
    "Offset",
    "Principal",
    "ReadyCheck",
    "Runtime",
    "get_runtime",
    "ops_router",
    "require_roles",
    "text_response",
]

log = get_logger(__name__)

# -- route dependencies ------------------------------------------------------------------------


async def get_runtime(request: Request) -> ServiceRuntime:
    """FastAPI dependency: the service runtime (pool, units of work) of this app.

    ``async`` on purpose: FastAPI runs a plain ``def`` dependency in a worker thread, a
    thread hop per request for a dictionary lookup.
    """
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


Runtime = Annotated[ServiceRuntime, Depends(get_runtime)]

#: A page holds at most this many items.
MAX_LIMIT: Final = 200
#: PostgreSQL's OFFSET is a bigint (a larger value was a 500); no page lies that far.
MAX_OFFSET: Final = 1_000_000
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Taille de page.")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Décalage.")]

#: Printable ASCII without spaces, as RFC 9110 field values allow; 200 characters at most.
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Rejouer la même demande avec la même clé ne crée rien de plus.",
    ),
]


# -- operational endpoints ---------------------------------------------------------------------

ReadyCheck = Callable[[], Awaitable[None]]
READY_CHECK_TIMEOUT_S: Final = 2.0
_MAX_ERROR_CHARS: Final = 200


async def _run_check(name: str, check: ReadyCheck, timeout_s: float) -> str:
    try:
        await asyncio.wait_for(check(), timeout=timeout_s)
    except TimeoutError:
        log.warning("readiness check timed out", check=name, timeout_s=timeout_s)
        return f"error: timeout after {timeout_s:g} s"
    except Exception as exc:
        log.warning("readiness check failed", check=name, error=type(exc).__name__)
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        text = f"error: {type(exc).__name__}" + (f": {detail}" if detail else "")
        return text[:_MAX_ERROR_CHARS]
    return "ok"


def ops_router(
    ready_checks: Mapping[str, ReadyCheck] | None = None,
    *,
    timeout_s: float = READY_CHECK_TIMEOUT_S,
) -> APIRouter:
    """``GET /health``, ``GET /ready`` and ``GET /metrics``, hidden from the OpenAPI doc.

    ``ready_checks`` maps a name (``"database"``, ``"broker"``) to an async callable that
    returns when the dependency is usable and raises otherwise.
    """
    checks = dict(ready_checks or {})
    router = APIRouter(tags=["ops"], include_in_schema=False)

    @router.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/ready")
    async def ready() -> JSONResponse:
        names = list(checks)
        results = await asyncio.gather(*(_run_check(n, checks[n], timeout_s) for n in names))
        outcome = dict(zip(names, results, strict=True))
        healthy = all(result == "ok" for result in results)
        return JSONResponse(
            {"status": "ok" if healthy else "unavailable", "checks": outcome},
            status_code=200 if healthy else 503,
        )

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return router


# -- responses that are not JSON, documented as what they are ----------------------------------


class CSVResponse(Response):
    """A CSV download. As a route's ``response_class``, the OpenAPI says ``text/csv``."""

    media_type = "text/csv"


def text_response(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route whose 200 is text of ``media_type`` (an event stream)."""
    return {
        200: {"description": description, "content": {media_type: {"schema": {"type": "string"}}}}
    }
