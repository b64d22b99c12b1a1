"""The OpenAPI documents say what the APIs answer: errors, their codes, media types."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI
from sse_starlette.sse import EventSourceResponse
from typer.testing import CliRunner

from relais_contracts.labels import TYPE_DESCRIPTIONS
from relais_contracts.types import Axis
from relais_runtime import cli_openapi
from relais_runtime.app import build_app
from relais_runtime.auth import Principal, require_roles
from relais_runtime.bodies import Body
from relais_runtime.cli import app as relais_cli
from relais_runtime.http import CSVResponse, text_response
from relais_runtime.runtime import ServiceRuntime
from relais_runtime.settings import RelaisSettings

pytestmark = pytest.mark.usefixtures("restore_logging")

Coordinator = Annotated[Principal, Depends(require_roles("coordinator"))]


class Note(Body):
    text: str
    axis: Axis | None = None


def documented_app(tmp_path: Path) -> FastAPI:
    settings = RelaisSettings(jwks_path=tmp_path / "jwks.json")
    runtime = ServiceRuntime(settings, service="openapi-test", migrations_dir=tmp_path)
    router = APIRouter(prefix="/v1")

    @router.post("/situations/{situation_id}/notes", status_code=201)
    async def add_note(situation_id: str, note: Note, who: Coordinator) -> dict[str, str]:
        return {}

    @router.get("/situations")
    async def situations(who: Coordinator, limit: int = 20) -> list[str]:
        return []

    @router.delete("/situations/{situation_id}/notes", status_code=204)
    async def delete_notes(situation_id: str, who: Coordinator) -> None:
        return None

    @router.get("/keys")
    async def public_keys() -> dict[str, str]:
        return {}

    @router.get("/figures.csv", response_class=CSVResponse)
    async def figures(who: Coordinator) -> CSVResponse:
        return CSVResponse("a,b\n")

    @router.get(
        "/stream",
        response_class=EventSourceResponse,
        responses=text_response("text/event-stream", "Flux."),
    )
    async def stream(who: Coordinator) -> EventSourceResponse:
        raise NotImplementedError

    return build_app(runtime, title="t", description="d", routers=[router])


def operation(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    op: dict[str, Any] = document["paths"][path][method]
    return op


def test_errors_are_documented_as_the_error_body_never_fastapis(tmp_path: Path) -> None:
    document = documented_app(tmp_path).openapi()
    text = json.dumps(document)

    assert "HTTPValidationError" not in text
    assert "ValidationError" not in document["components"]["schemas"]
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["code", "message"]
    assert set(error["properties"]) == {"code", "message", "errors"}
    responses = operation(document, "post", "/v1/situations/{situation_id}/notes")["responses"]
    for status, response in responses.items():
        if status >= "400":
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Error"}, status


def test_each_operation_lists_the_errors_it_can_give(tmp_path: Path) -> None:
    document = documented_app(tmp_path).openapi()

    def statuses(method: str, path: str) -> list[str]:
        return sorted(operation(document, method, path)["responses"])

    # a body, a token, a path parameter, a write
    assert statuses("post", "/v1/situations/{situation_id}/notes") == [
        "201", "400", "401", "403", "404", "409", "413", "415", "422", "503"
    ]  # fmt: skip
    assert statuses("get", "/v1/situations") == ["200", "401", "403", "422", "503"]
    # public, no input: served from memory
    assert statuses("get", "/v1/keys") == ["200"]
    unavailable = operation(document, "get", "/v1/situations")["responses"]["503"]
    assert "Retry-After" in unavailable["headers"]


def test_successes_and_the_contracts_code_types_are_described_in_french(
    tmp_path: Path,
) -> None:
    document = documented_app(tmp_path).openapi()
    notes = "/v1/situations/{situation_id}/notes"

    assert operation(document, "post", notes)["responses"]["201"]["description"] == "Créé."
    assert operation(document, "delete", notes)["responses"]["204"]["description"] == (
        "Réussi, sans contenu."
    )
    assert operation(document, "get", "/v1/keys")["responses"]["200"]["description"] == "Réussi."
    assert "Successful Response" not in json.dumps(document)
    axis = document["components"]["schemas"]["Axis"]
    assert axis["description"] == TYPE_DESCRIPTIONS[Axis] != Axis.__doc__


def test_csv_and_event_streams_are_documented_as_what_they_are(tmp_path: Path) -> None:
    document = documented_app(tmp_path).openapi()

    csv = operation(document, "get", "/v1/figures.csv")["responses"]["200"]["content"]
    stream = operation(document, "get", "/v1/stream")["responses"]["200"]["content"]

    assert list(csv) == ["text/csv"]
    assert list(stream) == ["text/event-stream"]


def test_the_check_fails_on_a_stale_document_and_says_how_to_regenerate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The export and both checks compare with one render of the four documents (0.7 s of CPU
    # each): what is tested is the check's verdict on the files, not a second rendering.
    rendered = cli_openapi.render()
    monkeypatch.setattr(cli_openapi, "render", lambda: dict(rendered))
    out = tmp_path / "openapi"
    runner = CliRunner()
    exported = runner.invoke(relais_cli, ["openapi", "export", "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    assert sorted(p.name for p in out.iterdir()) == [
        "notifications.json", "parcours.json", "referral.json", "reporting.json"
    ]  # fmt: skip
    assert runner.invoke(relais_cli, ["openapi", "check", "--out", str(out)]).exit_code == 0

    referral = out / "referral.json"
    stale = json.loads(referral.read_text())
    del stale["paths"]["/v1/referrals"]
    referral.write_text(json.dumps(stale))
    (out / "reporting.json").unlink()
    checked = runner.invoke(relais_cli, ["openapi", "check", "--out", str(out)])

    assert checked.exit_code == 1
    assert "uv run relais openapi export" in checked.output
    assert f"{referral}: out of date" in checked.output
    assert "reporting.json: missing" in checked.output


def test_the_committed_documents_never_name_fastapis_error_body() -> None:
    documents = sorted((Path(__file__).parents[2] / "docs/openapi").glob("*.json"))

    assert [d.name for d in documents] == [
        "notifications.json", "parcours.json", "referral.json", "reporting.json"
    ]  # fmt: skip
    for document in documents:
        assert "HTTPValidationError" not in document.read_text(), document.name
        assert "Successful Response" not in document.read_text(), document.name
    notifications = json.loads(documents[0].read_text())
    webhook = notifications["webhooks"]["notification"]["post"]
    body = webhook["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/NotificationDelivery"}
    assert list(webhook["responses"]) == ["200"]
