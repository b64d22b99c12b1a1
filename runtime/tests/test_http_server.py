"""The shared HTTP shell served by a real uvicorn, with the container's options.

What reaches the logs can only be seen on a running server: uvicorn's own loggers (access
log, "Exception in ASGI application") are not involved when a test calls the app directly.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import APIRouter, FastAPI

from relais_runtime.app import build_app
from relais_runtime.runtime import ServiceRuntime
from relais_runtime.settings import RelaisSettings
from relais_runtime.testing import serving

pytestmark = pytest.mark.usefixtures("restore_logging")

#: A documentation address (RFC 5737) standing for a family's or a school's address.
CLIENT_IP = "198.51.100.23"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def edge_app(tmp_path: Path) -> Callable[[], FastAPI]:
    """A service app built by the shared shell, with routes that fail the two ways."""
    database_port = closed_port()

    def create_app() -> FastAPI:
        settings = RelaisSettings(jwks_path=tmp_path / "jwks.json")
        runtime = ServiceRuntime(settings, service="edge-test", migrations_dir=tmp_path)
        router = APIRouter(prefix="/v1")

        @router.get("/database")
        async def database() -> None:
            # PostgreSQL down: nothing listens on its port.
            await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{database_port}/relais")

        @router.get("/bug")
        async def bug() -> None:
            raise RuntimeError("lea.martinez@example.fr broke it")

        return build_app(runtime, title="t", description="d", routers=[router])

    return create_app


def log_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("access_log", [False, True], ids=["no-access-log", "access-log-on"])
async def test_client_addresses_never_reach_the_logs_of_a_running_service(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], access_log: bool
) -> None:
    async with (
        serving(edge_app(tmp_path), access_log=access_log, lifespan="off") as url,
        httpx.AsyncClient(base_url=url, headers={"X-Forwarded-For": CLIENT_IP}) as http,
    ):
        assert (await http.get("/health")).status_code == 200
        assert (await http.get("/v1/nowhere")).status_code == 404
        assert (await http.get("/v1/bug")).status_code == 500

    out = capsys.readouterr().out
    assert any(line["event"] == "unhandled error" for line in log_lines(out)), out
    assert CLIENT_IP not in out
    assert '"GET /health' not in out


async def test_a_failure_is_logged_once_and_an_unreachable_database_answers_503(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with (
        serving(edge_app(tmp_path), lifespan="off") as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        outage = await http.get("/v1/database")
        bug = await http.get("/v1/bug")

    assert outage.status_code == 503
    assert outage.headers["Retry-After"] == "5"
    assert outage.json()["code"] == "database_unavailable"
    assert "Réessayez" in outage.json()["message"]
    assert bug.status_code == 500
    assert bug.json() == {"code": "internal_error", "message": "Une erreur interne est survenue."}

    out = capsys.readouterr().out
    lines = [line for line in log_lines(out) if line["level"] in ("warning", "error")]
    assert [(line["event"], line.get("path")) for line in lines] == [
        ("request failed: dependency unavailable", "/v1/database"),
        ("unhandled error", "/v1/bug"),
    ], out
    assert lines[0]["dependency"] == "database"
    assert "exception" not in lines[0]  # an outage is not a bug: no traceback
    assert "RuntimeError" in lines[1]["exception"]
    assert "lea.martinez@example.fr" not in out
    assert "Exception in ASGI application" not in out
