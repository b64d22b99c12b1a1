"""Operational HTTP endpoints: liveness, readiness and Prometheus metrics.

``/health`` says the process is alive and nothing more (a liveness probe must not fail
because the database is down, or the orchestrator would restart healthy pods in a loop).
``/ready`` runs the service's dependency checks (broker, database...) concurrently, each
bounded by :data:`READY_CHECK_TIMEOUT_S`; a load balancer stops routing to a replica
while it answers 503.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from relais_runtime.logging import get_logger

__all__ = ["READY_CHECK_TIMEOUT_S", "CSVResponse", "ReadyCheck", "ops_router", "text_response"]

log = get_logger(__name__)

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
