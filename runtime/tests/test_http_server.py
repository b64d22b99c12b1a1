"""The shared HTTP shell served by a real uvicorn, with the container's options.

What reaches the logs can only be seen on a running server: uvicorn's own loggers (access
log, "Exception in ASGI application") are not involved when a test calls the app directly.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import APIRouter, FastAPI

from relais_runtime.app import build_app
from relais_runtime.bodies import MAX_BODY_BYTES, Body
from relais_runtime.runtime import ServiceRuntime
from relais_runtime.settings import RelaisSettings
from relais_runtime.testing import free_port, serving

pytestmark = pytest.mark.usefixtures("restore_logging")

#: A documentation address (RFC 5737) standing for a family's or a school's address.
CLIENT_IP = "198.51.100.23"


class Note(Body):
    text: str


def edge_app(tmp_path: Path, max_body_bytes: int = MAX_BODY_BYTES) -> Callable[[], FastAPI]:
    """A service app built by the shared shell, with routes that fail the two ways."""
    database_port = free_port()  # nothing listens there

    def create_app() -> FastAPI:
        settings = RelaisSettings(
            jwks_path=tmp_path / "jwks.json", http_max_body_bytes=max_body_bytes
        )
        runtime = ServiceRuntime(settings, service="edge-test", migrations_dir=tmp_path)
        router = APIRouter(prefix="/v1")

        @router.post("/notes", status_code=201)
        async def post_note(note: Note) -> dict[str, int]:
            return {"length": len(note.text)}

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


# -- bodies over the limit --------------------------------------------------------------------

LIMIT = 64 * 1024


async def status_line(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.readline(), timeout=10)


def request_head(headers: str) -> bytes:
    return (
        "POST /v1/notes HTTP/1.1\r\nHost: relais\r\nContent-Type: application/json\r\n"
        f"{headers}\r\n"
    ).encode()


def test_the_body_limit_is_one_mebibyte_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    assert RelaisSettings().http_max_body_bytes == MAX_BODY_BYTES == 1024 * 1024
    monkeypatch.setenv("RELAIS_HTTP_MAX_BODY_BYTES", "65536")
    assert RelaisSettings().http_max_body_bytes == 65536


async def test_a_declared_length_over_the_limit_is_refused_before_any_byte_is_sent(
    tmp_path: Path,
) -> None:
    async with serving(edge_app(tmp_path, LIMIT), lifespan="off") as url:
        port = int(url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        # 30 MB announced, none sent: the answer must come without waiting for them.
        writer.write(request_head("Content-Length: 31457280\r\n"))
        await writer.drain()
        line = await status_line(reader)
        rest = await asyncio.wait_for(reader.read(), timeout=10)  # then the server closes
        writer.close()

    assert line.startswith(b"HTTP/1.1 413"), line
    head, _, body = rest.partition(b"\r\n\r\n")
    assert b"connection: close" in head.lower()
    assert json.loads(body) == {
        "code": "payload_too_large",
        "message": "Le corps de la requête dépasse la taille maximale acceptée (64 Kio).",
    }


async def test_a_chunked_body_is_refused_once_past_the_limit_without_reading_the_rest(
    tmp_path: Path,
) -> None:
    chunk = b"x" * 16384
    total = 30 * 1024 * 1024
    async with serving(edge_app(tmp_path, LIMIT), lifespan="off") as url:
        port = int(url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request_head("Transfer-Encoding: chunked\r\n"))
        answer = asyncio.create_task(status_line(reader))
        sent = 0
        try:
            while sent < total and not answer.done():
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
                sent += len(chunk)
        except ConnectionError:
            pass  # the server closed the connection after answering
        line = await answer
        writer.close()

    assert line.startswith(b"HTTP/1.1 413"), line
    assert sent < total  # the answer came while the body was still on its way


async def test_the_limit_counts_what_the_route_reads_not_what_the_client_declares(
    tmp_path: Path,
) -> None:
    """At the ASGI level: how many chunks of a 30 MB chunked body the app ever asks for."""
    app = edge_app(tmp_path, LIMIT)()
    chunks_read = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal chunks_read
        chunks_read += 1
        more = chunks_read < 30 * 64  # 30 MiB in all
        return {"type": "http.request", "body": b"x" * 16384, "more_body": more}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/notes",
        "raw_path": b"/v1/notes",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"host", b"relais")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)

    assert sent[0]["status"] == 413
    assert chunks_read == LIMIT // 16384 + 1  # the chunk that passed the limit, no more
