"""A body that is not JSON, not UTF-8, or not what it says it is: 400 or 415, in French."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.integration

SCHOOL = "ecole-jules-ferry-rouen"


async def post_raw(app: Any, content: bytes, content_type: str | None) -> Any:
    headers = app.auth("institution", SCHOOL)
    if content_type is not None:
        headers["Content-Type"] = content_type
    return await app.http.post("/v1/referrals", content=content, headers=headers)


async def test_a_latin_1_body_is_refused_as_not_utf8_naming_the_byte(app: Any, fiche: Any) -> None:
    await app.register(SCHOOL)
    body = json.dumps(fiche(), ensure_ascii=False).encode("latin-1")  # "Éloïse" in Latin-1

    r = await post_raw(app, body, "application/json")

    assert r.status_code == 400
    answer = r.json()
    assert answer["code"] == "body_not_utf8"
    assert "UTF-8" in answer["message"]
    position = body.index("É".encode("latin-1"))
    assert f"position {position}" in answer["message"]
    assert "0xC9" in answer["message"]


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", None],
    ids=["text-plain", "curl-d-default", "missing"],
)
async def test_a_body_sent_as_another_media_type_is_refused_with_415(
    app: Any, fiche: Any, content_type: str | None
) -> None:
    await app.register(SCHOOL)

    r = await post_raw(app, json.dumps(fiche()).encode(), content_type)

    assert r.status_code == 415
    answer = r.json()
    assert answer["code"] == "unsupported_media_type"
    assert "Content-Type: application/json" in answer["message"]
    assert "errors" not in answer


async def test_malformed_json_is_a_400_saying_where_not_a_field_named_by_an_offset(
    app: Any,
) -> None:
    await app.register(SCHOOL)
    body = b'{"pre_id": "pre-76540",\n "axes": ["schooling",]}'

    r = await post_raw(app, body, "application/json")

    assert r.status_code == 400
    assert r.json() == {
        "code": "json_invalid",
        "message": "Le corps de la requête n'est pas un JSON valide : une valeur est attendue "
        "(ligne 2, colonne 23).",
    }


async def test_an_empty_body_is_named_as_the_body(app: Any) -> None:
    await app.register(SCHOOL)

    r = await post_raw(app, b"", "application/json")

    assert r.status_code == 422
    (error,) = r.json()["errors"]
    assert error["field"] is None
    assert error["message"] == "Le corps de la requête est vide : un document JSON est attendu."
