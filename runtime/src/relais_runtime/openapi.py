"""The OpenAPI document every service publishes, made to say what the API really answers.

FastAPI documents its own ``HTTPValidationError`` for 422 and nothing of the other errors.
Relais answers every error as ``{code, message, errors}`` (:mod:`relais_runtime.errors`),
so the document is rewritten once, when first asked for:

- every error response has the ``Error`` schema; ``HTTPValidationError`` is gone;
- each operation lists the errors it can give, from what it has: a request body (400
  malformed JSON or not UTF-8, 413 too large, 415 not JSON, 422), a bearer token (401, 403),
  a path parameter (404), a write (409: a rule refused the change), and 503 with
  ``Retry-After`` (database, broker or identity provider unreachable) unless the operation
  is public and takes no input;
- a response a route declares itself keeps its description; FastAPI's default one for a
  success (« Successful Response ») is said in French, like the rest of the document;
- the contract's code types (``relais_contracts.types``) are described in French
  (``relais_contracts.labels.TYPE_DESCRIPTIONS``), not with the English docstrings the
  event schemas keep (ADR 0023);
- a documented webhook (a request Relais sends) keeps only the answers its receiver gives.

``relais openapi export`` writes the four documents to ``docs/openapi/``; ``check`` (CI)
fails when one is out of date.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import FastAPI

from relais_contracts.labels import TYPE_DESCRIPTIONS
from relais_runtime.errors import RETRY_AFTER_S

__all__ = ["ERROR_SCHEMAS", "document_api", "truthful_openapi"]

_ERROR_REF: Final = {"$ref": "#/components/schemas/Error"}

ERROR_SCHEMAS: Final[dict[str, Any]] = {
    "Error": {
        "title": "Error",
        "description": "Toute réponse d'erreur : un code stable pour les programmes, un message "
        "en français pour les personnes, et le détail par champ pour une requête invalide.",
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "examples": ["validation_error"]},
            "message": {"type": "string", "examples": ["La requête contient des erreurs."]},
            "errors": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/FieldError"},
                "description": "Présent pour 422 : une entrée par champ refusé.",
            },
        },
    },
    "FieldError": {
        "title": "FieldError",
        "type": "object",
        "required": ["field", "code", "message"],
        "properties": {
            "field": {
                "anyOf": [{"type": "string"}, {"type": "null"}],
                "description": "Chemin du champ dans le corps (`child.birth_date`), ou "
                "`query.<nom>` / `path.<nom>` ; null pour le corps entier.",
                "examples": ["child.birth_date"],
            },
            "code": {"type": "string", "examples": ["date_in_future"]},
            "message": {
                "type": "string",
                "examples": ["La date ne peut pas être dans le futur."],
            },
        },
    },
}

#: Status -> what it means here, in the document's language (French, like the messages).
_DESCRIPTIONS: Final[dict[str, str]] = {
    "400": "Corps illisible : JSON mal formé (`json_invalid`, avec ligne et colonne) ou pas "
    "en UTF-8 (`body_not_utf8`).",
    "401": "Jeton absent, invalide ou expiré (`unauthenticated`, `invalid_token`...).",
    "403": "Le jeton ne donne pas ce droit, ou pas sur ce PRE.",
    "404": "Introuvable dans le périmètre de l'appelant (une ressource d'un autre PRE ou "
    "d'un autre établissement l'est aussi).",
    "409": "Refusé par une règle métier dans l'état actuel de la ressource (`code` la nomme).",
    "413": "Corps plus grand que la limite (`payload_too_large`, 1 Mio par défaut), refusé "
    "avant d'être lu.",
    "415": "Corps qui n'est pas du JSON : `Content-Type: application/json` attendu "
    "(`unsupported_media_type`).",
    "422": "Requête invalide (`validation_error`) : `errors` nomme chaque champ refusé.",
    "503": "Base de données ou messagerie momentanément injoignable (`database_unavailable`, "
    "`broker_unavailable`) : réessayer après `Retry-After` secondes.",
}

#: FastAPI's description of a response a route does not describe, whatever its status.
_FASTAPI_SUCCESS: Final = "Successful Response"

#: Status -> that description in French.
_SUCCESSES: Final[dict[str, str]] = {
    "200": "Réussi.",
    "201": "Créé.",
    "202": "Accepté : la suite se fait en arrière-plan.",
    "204": "Réussi, sans contenu.",
}

#: Schema name -> (its codes, its French description), for the contract's code types.
_CODE_TYPES: Final[dict[str, tuple[list[str], str]]] = {
    code_type.__name__: ([code.value for code in code_type], text)
    for code_type, text in TYPE_DESCRIPTIONS.items()
}

_WRITES: Final = frozenset({"post", "put", "patch", "delete"})
_METHODS: Final = frozenset({"get", "head", "options", *_WRITES})


def _error_response(status: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _DESCRIPTIONS[status],
        "content": {"application/json": {"schema": _ERROR_REF}},
    }
    if status == "503":
        response["headers"] = {
            "Retry-After": {
                "description": "Secondes à attendre avant de réessayer.",
                "schema": {"type": "integer", "examples": [RETRY_AFTER_S]},
            }
        }
    return response


def _errors_of(method: str, operation: dict[str, Any]) -> list[str]:
    params = operation.get("parameters", [])
    # A public operation without input serves what the process holds (a public key): no
    # database, no identity provider, so no 503. Everything else may meet an outage.
    static = not (params or operation.get("security") or "requestBody" in operation)
    statuses = [] if static else ["503"]
    if "requestBody" in operation:
        statuses += ["400", "413", "415", "422"]
    elif params:
        statuses.append("422")
    if operation.get("security"):
        statuses += ["401", "403"]
    if any(p.get("in") == "path" for p in params):
        statuses.append("404")
    if method in _WRITES:
        statuses.append("409")
    return statuses


def _in_french(responses: dict[str, Any]) -> None:
    for status, response in responses.items():
        if response.get("description") == _FASTAPI_SUCCESS:
            response["description"] = _SUCCESSES.get(status, "Réussi.")


def _document_operation(method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    _in_french(responses)
    for status in _errors_of(method, operation):
        declared = responses.get(status)
        if declared is None or status == "422":  # FastAPI's own 422 is replaced whole
            responses[status] = _error_response(status)
        else:  # declared by the route: its words, the real body
            declared.setdefault("content", {"application/json": {"schema": _ERROR_REF}})
    for status, response in responses.items():
        if status.startswith(("4", "5")):
            for media in response.get("content", {}).values():
                media["schema"] = _ERROR_REF
    operation["responses"] = dict(sorted(responses.items()))


def _document_webhook(operation: dict[str, Any]) -> None:
    # A request Relais sends: the receiver's answers are its own, not FastAPI's 422.
    responses = operation.get("responses", {})
    responses.pop("422", None)
    _in_french(responses)
    for status, response in responses.items():
        if status.startswith("2") and response.get("content") == {
            "application/json": {"schema": {}}
        }:
            del response["content"]


def truthful_openapi(document: dict[str, Any]) -> dict[str, Any]:
    """Rewrite FastAPI's document in place (see the module's docstring); returns it."""
    for item in document.get("paths", {}).values():
        for method, operation in item.items():
            if method in _METHODS:
                _document_operation(method, operation)
    for item in document.get("webhooks", {}).values():
        for method, operation in item.items():
            if method in _METHODS:
                _document_webhook(operation)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas.update(ERROR_SCHEMAS)
    for name, schema in schemas.items():
        code_type = _CODE_TYPES.get(name)
        # Same name and same codes: the contract's type, not a service's namesake.
        if code_type is not None and schema.get("enum") == code_type[0]:
            schema["description"] = code_type[1]
    document["components"]["schemas"] = dict(sorted(schemas.items()))
    return document


def document_api(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and ``/openapi.json``) return the truthful document."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = truthful_openapi(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
