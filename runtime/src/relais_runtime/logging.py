"""Structured JSON logging shared by every Relais process.

One JSON object per line on stdout, with ``timestamp`` (ISO 8601, UTC), ``level``,
``service``, ``logger``, ``event`` and whatever is bound in structlog's context variables
(``correlationid``, ``message_id``...). Standard-library loggers (uvicorn, faststream,
asyncpg, aio-pika, ``warnings``) are routed through the same renderer, so a process writes
a single format.

Relais handles minors' data: a *personal-data guard* runs last before rendering. It
redacts the values of known identity keys (recursively) and masks e-mail addresses,
French phone numbers, ``DD/MM/YYYY`` dates and the row values PostgreSQL echoes in its
errors (``Key (email)=(...)``) wherever they appear in a string. It is a
safety net, not a licence: code must still log ids, never names or free text. The guard
cannot recognise a bare name inside a sentence, so never interpolate one into ``event``.

Run uvicorn with ``log_config=None`` so it keeps the configuration installed here instead
of installing its own handlers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import logging
import re
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import PurePath
from typing import Any, Literal, TextIO

import structlog
from pydantic import BaseModel
from structlog.types import EventDict, Processor, WrappedLogger

__all__ = [
    "DENY_KEYS",
    "REDACTED",
    "configure_logging",
    "get_logger",
    "personal_data_guard",
    "redact",
]

REDACTED = "[redacted]"

#: Keys whose value is never logged, compared after normalisation (lower case, only
#: letters and digits): ``firstName``, ``first-name`` and ``FIRST_NAME`` all match.
DENY_KEYS: frozenset[str] = frozenset(
    {
        # identity of the child or of a guardian
        "first_name",
        "last_name",
        "given_name",
        "family_name",
        "full_name",
        "surname",
        "name",
        "prenom",
        "nom",
        "birth_date",
        "date_of_birth",
        "birthdate",
        "date_naissance",
        "address",
        "adresse",
        "street",
        "phone",
        "telephone",
        "mobile",
        "email",
        "courriel",
        # free text, which may say anything about a family
        "note",
        "notes",
        "description",
        "comment",
        "free_text",
        # containers of the above
        "identity",
        "sealed",
        "guardians",
        "child",
        # credentials: not personal data, but never worth a log line either
        "password",
        "secret",
        "token",
        "access_token",
        "authorization",
    }
)

_NON_ALNUM = re.compile(r"[^a-z0-9]")


def _normalise_key(key: str) -> str:
    return _NON_ALNUM.sub("", key.lower())


_DENY_NORMALISED = frozenset(_normalise_key(k) for k in DENY_KEYS)

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# 0X XX XX XX XX, +33 X XX XX XX XX, 0033 X..., with spaces, dots or hyphens between pairs.
_PHONE = re.compile(
    r"(?<![\w+])(?:(?:\+|00)33[\s.-]?(?:\(0\)[\s.-]?)?|0)[1-9](?:[\s.-]?\d{2}){4}(?!\w)"
)
# DD/MM/YYYY (also with '.' or '-'); ISO dates (YYYY-MM-DD) are left alone: every
# timestamp in the logs has that shape.
_DOB = re.compile(r"(?<!\d)(?:0?[1-9]|[12]\d|3[01])([/.-])(?:0?[1-9]|1[0-2])\1(?:19|20)\d{2}(?!\d)")

# PostgreSQL error details echo the offending row: 'Key (email)=(lea@example.fr) ...'.
_PG_DETAIL = re.compile(r"\)=\([^)]*\)")

_MAX_DEPTH = 12


def mask_text(value: str) -> str:
    """Mask e-mails, phone numbers, DD/MM/YYYY dates and PostgreSQL value echoes in text."""
    if "@" in value:
        value = _EMAIL.sub("[redacted:email]", value)
    value = _PHONE.sub("[redacted:phone]", value)
    value = _DOB.sub("[redacted:date]", value)
    if ")=(" in value:
        value = _PG_DETAIL.sub(")=([redacted])", value)
    return value


def redact(value: Any, _depth: int = 0) -> Any:
    """Return ``value`` with denied keys redacted and personal-data patterns masked.

    Pydantic models and dataclasses are dumped first so their fields are checked by name;
    any other object is turned into its string form (which is what the JSON renderer
    would print) and masked.
    """
    if _depth > _MAX_DEPTH:
        return "[truncated]"
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return _redact_mapping(value, _depth)
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(item, _depth + 1) for item in value]
    if isinstance(value, BaseModel):
        return _redact_mapping(value.model_dump(mode="json"), _depth)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _redact_mapping(dataclasses.asdict(value), _depth)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return redact(value.value, _depth + 1)
    if isinstance(value, uuid.UUID | PurePath):
        return str(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return mask_text(str(value))


def _redact_mapping(mapping: Mapping[Any, Any], depth: int) -> dict[Any, Any]:
    result: dict[Any, Any] = {}
    for key, item in mapping.items():
        safe_key = mask_text(key) if isinstance(key, str) else key
        if isinstance(key, str) and _normalise_key(key) in _DENY_NORMALISED:
            result[safe_key] = REDACTED if item is not None else None
        else:
            result[safe_key] = redact(item, depth + 1)
    return result


def personal_data_guard(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: must run last, just before the renderer."""
    return _redact_mapping(event_dict, 0)


class _StandardStreamHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stdout``/``sys.stderr`` is at emit time.

    Test runners and CLI runners swap those objects; a handler holding the original one
    would write to a closed stream.
    """

    def __init__(self, which: Literal["stdout", "stderr"]) -> None:
        self._which = which
        super().__init__(self.stream)

    @property
    def stream(self) -> TextIO:
        return sys.stderr if self._which == "stderr" else sys.stdout

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


#: Third-party loggers that install their own handlers; we strip them so their records
#: propagate to the root handler and come out as JSON too.
_FOREIGN_LOGGERS = (
    "uvicorn",
    "uvicorn.error",
    "faststream",
    "faststream.access",
    "asyncpg",
    "aio_pika",
    "aiormq",
)

_HANDLER_NAME = "relais-json"

#: Libraries that log the same line again on every reconnection attempt (every 2 s while
#: the broker is away, with a traceback per lost channel).
_REPEATING_LOGGERS = ("aio_pika", "aiormq")


class RepeatDamper(logging.Filter):
    """Let the first of alike records through, then one per ``interval_s`` with a count.

    Records are alike when they come from the same logger, at the same level, with the
    same message template (arguments aside): the broker client's "connection attempt
    failed, reconnecting" while RabbitMQ is down, which would otherwise write a line or
    two per attempt for the whole outage. Only loggers under ``prefixes`` are damped.
    """

    def __init__(
        self,
        prefixes: tuple[str, ...],
        interval_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._prefixes = prefixes
        self._interval_s = interval_s
        self._clock = clock
        #: (logger, level, template) -> (when one last went through, how many held since)
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self._prefixes):
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = self._clock()
        passed_at, held = self._seen.get(key, (float("-inf"), 0))
        if now - passed_at < self._interval_s:
            self._seen[key] = (passed_at, held + 1)
            return False
        self._seen[key] = (now, 0)
        if held:
            # Appended to the template as plain text (no % directive for its arguments).
            record.msg = f"{record.msg} [+{held} alike held back]"
        return True


def configure_logging(
    service: str,
    level: str = "INFO",
    *,
    stream: TextIO | Literal["stdout", "stderr"] = "stdout",
) -> None:
    """Install JSON logging for the whole process. Safe to call more than once.

    Services write to stdout; CLI commands pass ``"stderr"`` to keep stdout for their
    output; tests may pass a buffer.
    """
    numeric_level = logging.getLevelName(level.upper())
    if not isinstance(numeric_level, int):
        raise ValueError(f"unknown log level: {level!r}")

    def add_service(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
        event_dict.setdefault("service", service)
        return event_dict

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        add_service,
    ]

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: a re-configuration (tests, CLI) must reach loggers created earlier.
        cache_logger_on_first_use=False,
    )

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            personal_data_guard,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
    )
    handler: logging.Handler = (
        _StandardStreamHandler(stream) if isinstance(stream, str) else logging.StreamHandler(stream)
    )
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    handler.addFilter(RepeatDamper(_REPEATING_LOGGERS))

    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(numeric_level)

    for name in _FOREIGN_LOGGERS:
        foreign = logging.getLogger(name)
        for existing in list(foreign.handlers):
            foreign.removeHandler(existing)
        foreign.propagate = True
    # uvicorn's access log starts each line with the client's address (personal data) and
    # is on whenever the logger has a handler, its ancestors' included: it gets none, so
    # --no-access-log or not, no address is written. Traffic is counted in /metrics.
    access = logging.getLogger("uvicorn.access")
    for existing in list(access.handlers):
        access.removeHandler(existing)
    access.propagate = False
    access.disabled = True
    logging.captureWarnings(True)


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """A structlog logger; ``name`` becomes the ``logger`` field (use ``__name__``)."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
