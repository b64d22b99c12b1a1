"""The HTTP kit's route dependencies: paging bounds and the Idempotency-Key header."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from relais_runtime.errors import install_error_handlers
from relais_runtime.http import IdempotencyKey, Limit, Offset
from relais_runtime.idempotency import TABLE_SQL

REPO = Path(__file__).resolve().parents[2]


def kit_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/things")
    async def things(limit: Limit = 50, offset: Offset = 0) -> dict[str, int]:
        return {"limit": limit, "offset": offset}

    @app.post("/things")
    async def create(idempotency_key: IdempotencyKey = None) -> dict[str, str | None]:
        return {"key": idempotency_key}

    return app


def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=kit_app(), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://relais")


async def test_paging_takes_its_defaults_and_refuses_a_page_too_large_or_too_far() -> None:
    async with client() as http:
        assert (await http.get("/things")).json() == {"limit": 50, "offset": 0}
        too_large = await http.get("/things", params={"limit": 201})
        too_far = await http.get("/things", params={"offset": 1_000_001})
        negative = await http.get("/things", params={"offset": -1})
    for response, field in ((too_large, "query.limit"), (too_far, "query.offset")):
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == field
    assert negative.status_code == 422


async def test_an_idempotency_key_is_printable_ascii_of_at_most_200_characters() -> None:
    async with client() as http:
        ok = await http.post("/things", headers={"Idempotency-Key": "fiche-42"})
        absent = await http.post("/things")
        spaced = await http.post("/things", headers={"Idempotency-Key": "fiche 42"})
        too_long = await http.post("/things", headers={"Idempotency-Key": "k" * 201})
    assert ok.json() == {"key": "fiche-42"}
    assert absent.json() == {"key": None}
    for refused in (spaced, too_long):
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "header.Idempotency-Key"


async def test_the_kit_documents_paging_and_the_key_in_french() -> None:
    document = kit_app().openapi()
    parameters = {
        p["name"]: p for op in document["paths"]["/things"].values() for p in op["parameters"]
    }
    assert parameters["limit"]["description"] == "Taille de page."
    assert parameters["offset"]["description"] == "Décalage."
    assert "même clé" in parameters["Idempotency-Key"]["description"]


def test_every_service_migration_creates_the_idempotency_table_as_the_runtime_expects() -> None:
    creating = [
        path
        for path in sorted(REPO.glob("services/*/migrations/*.sql"))
        if "CREATE TABLE relais_idempotency" in path.read_text()
    ]
    assert creating, "referral's migrations create relais_idempotency"
    for path in creating:
        assert TABLE_SQL in path.read_text(), f"{path} differs from idempotency.TABLE_SQL"
