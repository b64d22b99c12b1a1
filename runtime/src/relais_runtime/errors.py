"""One JSON error shape for every Relais HTTP API, with messages in French.

Every error body is ``{"code": <machine code>, "message": <French sentence>}``; a
validation error adds ``errors``, one entry per field::

    {"code": "validation_error", "message": "La requête contient des erreurs.",
     "errors": [{"field": "child.birth_date", "code": "date_in_future",
                 "message": "La date ne peut pas être dans le futur."}]}

``field`` is the dotted path in the request body (``guardians.0.phone``); parameters
outside the body keep their location (``query.limit``, ``path.situation_id``).

Pydantic's built-in error types get French messages here. For a rule of your own, raise
``PydanticCustomError("date_in_future", "La date ne peut pas être dans le futur.")`` in
the validator: its type becomes ``code`` and its message is returned unchanged. A bare
``ValueError`` gives the generic ``value_error`` / "Valeur invalide." (its text may be
English or echo the input, so it is not shown).

The submitted values are never echoed back: they may be a child's identity.

An exception no handler takes is answered by :class:`ErrorBoundary`, logged once: a
database or broker that cannot be reached is a 503 with ``Retry-After`` (the client may
try again), anything else a 500.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, Final, Literal

import asyncpg
from aio_pika import exceptions as amqp_errors
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic_core.core_schema import ErrorType
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relais_runtime.logging import get_logger

__all__ = [
    "RETRY_AFTER_S",
    "VALIDATION_MESSAGE",
    "DomainError",
    "ErrorBoundary",
    "error_body",
    "install_error_handlers",
    "translate_validation_errors",
    "unavailable_dependency",
]

log = get_logger(__name__)

VALIDATION_MESSAGE: Final = "La requête contient des erreurs."
_BUILTIN_ERROR_TYPES: Final = frozenset(typing.get_args(ErrorType))


class DomainError(Exception):
    """A business rule refused the request (e.g. ``consent_required``, 409).

    Raise it from a use case or route; the handler renders ``{"code", "message"}`` with
    ``status``. ``message`` is shown to the user: write it in French.
    """

    def __init__(
        self,
        code: str,
        message: str,
        status: int = 409,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.headers = dict(headers or {})


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, **extra}


# -- validation errors ----------------------------------------------------------------------


def _plural(n: Any, singular: str, plural: str) -> str:
    return singular if n in (0, 1) else plural


def _expected(ctx: Mapping[str, Any]) -> str:
    # pydantic writes "'a', 'b' or 'c'"; only the conjunction needs translating.
    text = str(ctx.get("expected", ""))
    head, sep, tail = text.rpartition(" or ")
    return f"{head} ou {tail}" if sep else text


def _french_message(error_type: str, ctx: Mapping[str, Any]) -> str | None:
    def c(name: str) -> Any:
        return ctx.get(name, "?")

    match error_type:
        case "missing" | "missing_argument" | "missing_keyword_only_argument":
            return "Ce champ est obligatoire."
        case "extra_forbidden" | "unexpected_keyword_argument":
            return "Ce champ n'est pas autorisé."
        case "json_invalid":
            return "Le corps de la requête n'est pas un JSON valide."
        case "json_type" | "model_type" | "model_attributes_type" | "dict_type" | "mapping_type":
            return "Ce champ doit être un objet."
        case "string_type" | "string_unicode":
            return "Ce champ doit être un texte."
        case "string_too_short":
            n = c("min_length")
            if n == 1:
                return "Ce champ ne peut pas être vide."
            return f"Ce texte doit contenir au moins {n} {_plural(n, 'caractère', 'caractères')}."
        case "string_too_long":
            n = c("max_length")
            return f"Ce texte ne peut pas dépasser {n} {_plural(n, 'caractère', 'caractères')}."
        case "string_pattern_mismatch":
            return "Le format de ce champ n'est pas valide."
        case "too_short":
            n = c("min_length")
            return f"Il faut au moins {n} {_plural(n, 'élément', 'éléments')}."
        case "too_long":
            n = c("max_length")
            return f"Il ne peut pas y avoir plus de {n} {_plural(n, 'élément', 'éléments')}."
        case "list_type" | "tuple_type" | "set_type" | "frozen_set_type" | "iterable_type":
            return "Ce champ doit être une liste."
        case "enum" | "literal_error":
            return f"Valeur non autorisée. Valeurs possibles : {_expected(ctx)}."
        case "bool_type" | "bool_parsing":
            return "Ce champ doit valoir vrai ou faux (true ou false)."
        case "int_type" | "int_parsing" | "int_from_float" | "int_parsing_size":
            return "Ce champ doit être un nombre entier."
        case "float_type" | "float_parsing" | "finite_number":
            return "Ce champ doit être un nombre."
        case "decimal_type" | "decimal_parsing":
            return "Ce champ doit être un nombre décimal."
        case "decimal_max_digits" | "decimal_max_places" | "decimal_whole_digits":
            return "Ce nombre comporte trop de chiffres."
        case "greater_than":
            return f"La valeur doit être supérieure à {c('gt')}."
        case "greater_than_equal":
            return f"La valeur doit être supérieure ou égale à {c('ge')}."
        case "less_than":
            return f"La valeur doit être inférieure à {c('lt')}."
        case "less_than_equal":
            return f"La valeur doit être inférieure ou égale à {c('le')}."
        case "multiple_of":
            return f"La valeur doit être un multiple de {c('multiple_of')}."
        case "date_type" | "date_parsing" | "date_from_datetime_parsing":
            return "Date invalide (format attendu : AAAA-MM-JJ)."
        case "date_from_datetime_inexact":
            return "Une date sans heure est attendue (format AAAA-MM-JJ)."
        case "date_past":
            return "La date doit être dans le passé."
        case "date_future":
            return "La date doit être dans le futur."
        case "datetime_type" | "datetime_parsing" | "datetime_from_date_parsing":
            return "Date et heure invalides (format attendu : AAAA-MM-JJTHH:MM:SS avec fuseau)."
        case "datetime_object_invalid":
            return "Date et heure invalides."
        case "datetime_past":
            return "La date et l'heure doivent être dans le passé."
        case "datetime_future":
            return "La date et l'heure doivent être dans le futur."
        case "timezone_naive":
            return "La date et l'heure ne doivent pas indiquer de fuseau horaire."
        case "timezone_aware" | "timezone_offset":
            return "La date et l'heure doivent indiquer le fuseau horaire (ex. Z ou +01:00)."
        case "time_type" | "time_parsing":
            return "Heure invalide (format attendu : HH:MM)."
        case "time_delta_type" | "time_delta_parsing":
            return "Durée invalide."
        case "uuid_type" | "uuid_parsing" | "uuid_version":
            return "Identifiant invalide (UUID attendu)."
        case "url_type" | "url_parsing" | "url_syntax_violation" | "url_too_long":
            return "Adresse web invalide."
        case "url_scheme":
            return f"Adresse web invalide : elle doit commencer par {_expected(ctx)}."
        case "union_tag_invalid" | "union_tag_not_found":
            return "Type d'objet non reconnu."
        case "none_required":
            return "Ce champ doit être vide."
        case "frozen_field" | "frozen_instance":
            return "Ce champ ne peut pas être modifié."
        case "value_error" | "assertion_error":
            return "Valeur invalide."
        case _:
            return None


def _field_path(loc: Sequence[int | str]) -> str | None:
    parts = list(loc)
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(str(p) for p in parts) or None


def translate_validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Pydantic/FastAPI ``errors()`` → ``[{"field", "code", "message"}]`` in French."""
    translated: list[dict[str, Any]] = []
    for error in errors:
        error_type = str(error.get("type", "value_error"))
        ctx = error.get("ctx") or {}
        if tuple(error.get("loc", ())) == ("body",) and error_type in _BUILTIN_ERROR_TYPES:
            # The body itself, not one of its fields: say so rather than "ce champ".
            message = (
                "Le corps de la requête est vide : un document JSON est attendu."
                if error_type == "missing"
                else "Le corps de la requête n'a pas la forme attendue (un objet ou une liste "
                "JSON selon l'adresse)."
            )
        elif error_type in _BUILTIN_ERROR_TYPES:
            message = _french_message(error_type, ctx) or "Valeur invalide."
        else:
            # PydanticCustomError: our own code, French message written by the validator.
            message = str(error.get("msg") or "Valeur invalide.")
        translated.append(
            {"field": _field_path(error.get("loc", ())), "code": error_type, "message": message}
        )
    return translated


# -- HTTP exceptions ------------------------------------------------------------------------

_STATUS_CODES: Final[dict[int, tuple[str, str]]] = {
    400: ("bad_request", "La requête est invalide."),
    401: ("unauthenticated", "Authentification requise."),
    403: ("forbidden", "Vous n'avez pas les droits nécessaires pour cette action."),
    404: ("not_found", "Ressource introuvable."),
    405: ("method_not_allowed", "Méthode non autorisée pour cette adresse."),
    406: ("not_acceptable", "Format de réponse non disponible."),
    409: ("conflict", "L'opération est en conflit avec l'état actuel de la ressource."),
    410: ("gone", "Cette ressource n'existe plus."),
    412: ("precondition_failed", "La ressource a été modifiée entre-temps : rechargez-la."),
    413: ("payload_too_large", "La requête est trop volumineuse."),
    415: ("unsupported_media_type", "Format de contenu non pris en charge."),
    422: ("unprocessable", "La requête ne peut pas être traitée."),
    429: ("too_many_requests", "Trop de requêtes : réessayez dans quelques instants."),
    500: ("internal_error", "Une erreur interne est survenue."),
    502: ("bad_gateway", "Un service dont nous dépendons ne répond pas correctement."),
    503: ("unavailable", "Le service est momentanément indisponible. Réessayez plus tard."),
    504: ("gateway_timeout", "Un service dont nous dépendons n'a pas répondu à temps."),
}


def _status_default(status: int) -> tuple[str, str]:
    if status in _STATUS_CODES:
        return _STATUS_CODES[status]
    if status >= 500:
        return _STATUS_CODES[500]
    return ("http_error", "La requête n'a pas pu aboutir.")


def _http_exception_body(status: int, detail: Any) -> dict[str, Any]:
    code, message = _status_default(status)
    if isinstance(detail, Mapping):
        return error_body(str(detail.get("code", code)), str(detail.get("message", message)))
    if isinstance(detail, str) and detail:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        # Starlette's defaults are English phrases ("Not Found"): replace those only.
        if detail != phrase:
            message = detail
    return error_body(code, message)


# -- installation ---------------------------------------------------------------------------


# -- the body as a whole: media type, encoding, JSON syntax ---------------------------------

#: What FastAPI says (in English) when the body cannot be decoded at all.
_FASTAPI_BODY_ERROR: Final = "There was an error parsing the body"

_JSON_SYNTAX: Final = (
    ("Expecting value", "une valeur est attendue"),
    (
        "Expecting property name enclosed in double quotes",
        "un nom de champ entre guillemets doubles est attendu",
    ),
    ("Expecting ',' delimiter", "une virgule est attendue"),
    ("Expecting ':' delimiter", "le caractère « : » est attendu"),
    ("Unterminated string", "un texte n'est pas fermé (guillemet manquant)"),
    (
        "Invalid control character",
        "un caractère de contrôle (retour à la ligne, tabulation) doit être échappé dans un texte",
    ),
    ("Invalid \\escape", "une séquence d'échappement n'est pas valide"),
    ("Invalid \\uXXXX escape", "une séquence \\uXXXX n'est pas valide"),
    ("Extra data", "du contenu suit la fin du document JSON"),
)


def is_json_media_type(content_type: str | None) -> bool:
    """``application/json`` or ``application/<x>+json``, with or without parameters."""
    media = (content_type or "").partition(";")[0].strip().lower()
    main, _, sub = media.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


def _json_syntax_body(doc: Any, pos: Any, reason: str) -> dict[str, Any]:
    what = next((fr for en, fr in _JSON_SYNTAX if reason.startswith(en)), "syntaxe invalide")
    where = ""
    if isinstance(doc, str) and isinstance(pos, int):
        line = doc.count("\n", 0, pos) + 1
        column = pos - doc.rfind("\n", 0, pos)
        where = f" (ligne {line}, colonne {column})"
    return error_body(
        "json_invalid", f"Le corps de la requête n'est pas un JSON valide : {what}{where}."
    )


def _unsupported_media_type(content_type: str | None) -> dict[str, Any]:
    received = f"reçu : {content_type[:100]}" if content_type else "aucun Content-Type reçu"
    return error_body(
        "unsupported_media_type",
        "Le corps de la requête doit être du JSON, envoyé avec l'en-tête "
        f"Content-Type: application/json ({received}).",
    )


def _body_not_utf8(error: UnicodeDecodeError) -> dict[str, Any]:
    byte = error.object[error.start : error.start + 1].hex().upper()
    return error_body(
        "body_not_utf8",
        "Le corps de la requête n'est pas encodé en UTF-8 (octet 0x"
        f"{byte} à la position {error.start}) : un JSON s'envoie en UTF-8, "
        "pas en Latin-1 ni en Windows-1252.",
    )


def _whole_body_refused(request: Request, exc: RequestValidationError) -> JSONResponse | None:
    """400 or 415 when the body as a whole could not be read as JSON, else None."""
    for error in exc.errors():
        loc = tuple(error.get("loc", ()))
        if error.get("type") == "json_invalid":
            pos = loc[1] if len(loc) > 1 else None
            reason = str((error.get("ctx") or {}).get("error", ""))
            return JSONResponse(_json_syntax_body(exc.body, pos, reason), status_code=400)
        content_type = request.headers.get("content-type")
        if (
            loc == ("body",)
            and error.get("type") != "missing"
            and not is_json_media_type(content_type)
        ):
            # FastAPI left a body of another media type unparsed, and the model refused it.
            return JSONResponse(_unsupported_media_type(content_type), status_code=415)
    return None


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    refused = _whole_body_refused(request, exc)
    if refused is not None:
        log.info("request rejected: body", path=request.url.path, status=refused.status_code)
        return refused
    errors = translate_validation_errors(exc.errors())
    log.info(
        "request rejected: validation",
        path=request.url.path,
        fields=[(e["field"], e["code"]) for e in errors],
    )
    return JSONResponse(
        error_body("validation_error", VALIDATION_MESSAGE, errors=errors), status_code=422
    )


async def _on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    log.info("request refused", path=request.url.path, code=exc.code, status=exc.status)
    return JSONResponse(
        error_body(exc.code, exc.message), status_code=exc.status, headers=exc.headers or None
    )


async def _on_http_exception(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == _FASTAPI_BODY_ERROR:
        cause = exc.__cause__
        body = (
            _body_not_utf8(cause)
            if isinstance(cause, UnicodeDecodeError)
            else error_body("body_unreadable", "Le corps de la requête n'a pas pu être lu.")
        )
        return JSONResponse(body, status_code=400)
    return JSONResponse(
        _http_exception_body(exc.status_code, exc.detail),
        status_code=exc.status_code,
        headers=exc.headers,
    )


# -- exceptions no handler took: outages (503) and bugs (500) --------------------------------

#: Seconds a client is asked to wait after a 503: a PostgreSQL or RabbitMQ restart.
RETRY_AFTER_S: Final = 5

Dependency = Literal["database", "broker"]

_DATABASE_DOWN: Final = (
    asyncpg.PostgresConnectionError,  # class 08, and "connection was closed" mid-query
    asyncpg.exceptions.CannotConnectNowError,  # starting up or shutting down
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full
)
_BROKER_DOWN: Final = (amqp_errors.AMQPConnectionError, amqp_errors.ChannelInvalidStateError)
_DRIVERS: Final[dict[str, Dependency]] = {
    "asyncpg": "database",
    "aiormq": "broker",
    "aio_pika": "broker",
    "pamqp": "broker",
    "faststream": "broker",
}

_UNAVAILABLE: Final[dict[Dependency, tuple[str, str]]] = {
    "database": (
        "database_unavailable",
        "Le service est momentanément indisponible : sa base de données ne répond pas. "
        f"Réessayez dans {RETRY_AFTER_S} secondes.",
    ),
    "broker": (
        "broker_unavailable",
        "Le service est momentanément indisponible : sa messagerie (RabbitMQ) ne répond pas. "
        f"Réessayez dans {RETRY_AFTER_S} secondes.",
    ),
}


def _raised_in_driver(exc: BaseException) -> Dependency | None:
    tb = exc.__traceback__
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        dependency = _DRIVERS.get(module.partition(".")[0])
        if dependency is not None:
            return dependency
        tb = tb.tb_next
    return None


def unavailable_dependency(exc: BaseException) -> Dependency | None:
    """``"database"`` or ``"broker"`` when ``exc`` says that dependency cannot be reached.

    A socket error or timeout counts only when raised inside that dependency's driver (a
    refused connection in asyncpg); the same error elsewhere (a key file) is a bug.
    """
    if isinstance(exc, BaseExceptionGroup):
        found = {unavailable_dependency(e) for e in exc.exceptions}
        return found.pop() if len(found) == 1 else None
    if isinstance(exc, _DATABASE_DOWN):
        return "database"
    if isinstance(exc, _BROKER_DOWN):
        return "broker"
    if isinstance(exc, OSError):  # ConnectionRefusedError, TimeoutError, gaierror...
        return _raised_in_driver(exc)
    return None


def _failure_response(scope: Scope, exc: Exception) -> JSONResponse:
    where = {"method": scope.get("method"), "path": scope.get("path")}
    dependency = unavailable_dependency(exc)
    if dependency is not None:
        log.warning(
            "request failed: dependency unavailable",
            dependency=dependency,
            error=type(exc).__name__,
            **where,
        )
        code, message = _UNAVAILABLE[dependency]
        return JSONResponse(
            error_body(code, message),
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    log.error("unhandled error", error=type(exc).__name__, exc_info=exc, **where)
    code, message = _STATUS_CODES[500]
    return JSONResponse(error_body(code, message), status_code=500)


class ErrorBoundary:
    """Pure ASGI middleware: answers an exception no handler took, and logs it once.

    Starlette's own last resort (an ``Exception`` handler) re-raises after answering, so
    uvicorn logged every failure a second time with its traceback. Here the exception stops:
    one log line, one answer. An exception after the response started cannot be answered;
    it is left to uvicorn, which logs it (once) and closes the connection.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            if started:
                raise
            await _failure_response(scope, exc)(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Render validation, domain, HTTP and unexpected errors as ``{"code", "message"}``."""
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(DomainError, _on_domain_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_middleware(ErrorBoundary)
