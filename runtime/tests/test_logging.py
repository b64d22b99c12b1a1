"""JSON logs carry service and flow context, and never personal data."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
import structlog
from pydantic import BaseModel

from relais_runtime.logging import (
    REDACTED,
    RepeatDamper,
    configure_logging,
    get_logger,
    redact,
)

NAME, SURNAME = "Léa", "Martinez"
PHONE, EMAIL, BIRTH = "06 12 34 56 78", "lea.martinez@example.fr", "03/04/2015"


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    """Configure JSON logging into a buffer; restore the previous set-up afterwards."""
    saved_config = structlog.get_config()
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    buffer = io.StringIO()
    configure_logging("parcours", "INFO", stream=buffer)
    yield buffer
    structlog.contextvars.clear_contextvars()
    structlog.configure(**saved_config)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved_handlers:
        root.addHandler(handler)
    root.setLevel(saved_level)


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_each_line_is_a_json_object_with_timestamp_level_service_and_event(
    output: io.StringIO,
) -> None:
    get_logger("relais.test").info("situation opened", situation_id="s-1")

    [entry] = lines(output)
    assert entry["event"] == "situation opened"
    assert entry["level"] == "info"
    assert entry["service"] == "parcours"
    assert entry["logger"] == "relais.test"
    assert entry["situation_id"] == "s-1"
    stamp = datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00"))
    offset = stamp.utcoffset()
    assert offset is not None
    assert offset.total_seconds() == 0


def test_bound_context_vars_appear_in_every_line(output: io.StringIO) -> None:
    structlog.contextvars.bind_contextvars(correlationid="corr-1", message_id="msg-1")
    log = get_logger(__name__)
    log.info("first")
    logging.getLogger("faststream").warning("second, from the standard library")

    first, second = lines(output)
    for entry in (first, second):
        assert entry["correlationid"] == "corr-1"
        assert entry["message_id"] == "msg-1"
        assert entry["service"] == "parcours"
    assert second["level"] == "warning"
    assert second["logger"] == "faststream"


def test_identity_keys_are_redacted_at_any_depth(output: io.StringIO) -> None:
    get_logger().info(
        "referral received",
        first_name=NAME,
        lastName=SURNAME,
        child={"given_name": NAME, "school": "École Jean Jaurès"},
        payload={"guardians": [{"phone": PHONE}], "items": [{"email": EMAIL}]},
        note=f"{NAME} is often absent",
        pre="pre-76540",
    )

    text = output.getvalue()
    for secret in (NAME, SURNAME, PHONE, EMAIL, "often absent", "Jean Jaurès"):
        assert secret not in text
    [entry] = lines(output)
    assert entry["first_name"] == REDACTED
    assert entry["lastName"] == REDACTED
    assert entry["child"] == REDACTED
    assert entry["payload"] == {"guardians": REDACTED, "items": [{"email": REDACTED}]}
    assert entry["pre"] == "pre-76540"


def test_emails_phones_and_birth_dates_are_masked_inside_any_string(
    output: io.StringIO,
) -> None:
    get_logger().warning(
        f"could not reach {EMAIL} or +33 6 12 34 56 78",
        detail=f"born {BIRTH}, call {PHONE}",
        db_error="Key (contact)=(lea@example.fr) already exists",
        sent_at="2026-03-04T10:00:00+00:00",
    )

    text = output.getvalue()
    for secret in (EMAIL, "6 12 34 56 78", PHONE, BIRTH, "lea@example.fr"):
        assert secret not in text
    [entry] = lines(output)
    assert entry["event"] == "could not reach [redacted:email] or [redacted:phone]"
    assert entry["detail"] == "born [redacted:date], call [redacted:phone]"
    assert entry["sent_at"] == "2026-03-04T10:00:00+00:00"  # ISO timestamps are kept


def test_standard_library_records_and_tracebacks_go_through_the_guard(
    output: io.StringIO,
) -> None:
    try:
        raise ValueError(f"cannot parse {EMAIL}")
    except ValueError:
        logging.getLogger("uvicorn.error").exception("handler crashed for %s", PHONE)

    assert EMAIL not in output.getvalue()
    assert PHONE not in output.getvalue()
    [entry] = lines(output)
    assert entry["event"] == "handler crashed for [redacted:phone]"
    assert "ValueError: cannot parse [redacted:email]" in entry["exception"]
    assert entry["logger"] == "uvicorn.error"


def test_pydantic_models_and_dataclasses_are_checked_field_by_field() -> None:
    class Guardian(BaseModel):
        last_name: str
        relation: str

    @dataclass
    class Contact:
        email: str
        channel: str

    assert redact({"g": Guardian(last_name=SURNAME, relation="mother")}) == {
        "g": {"last_name": REDACTED, "relation": "mother"}
    }
    assert redact([Contact(email=EMAIL, channel="email")]) == [
        {"email": REDACTED, "channel": "email"}
    ]


def test_ids_and_urls_without_personal_data_are_left_alone() -> None:
    values = [
        "e3b0c442-98fc-1c14-0612-345678901234",
        "referral.submitted.v1.pre-76540",
        "amqp://guest:guest@127.0.0.1:5672/",
        1712345678901,
    ]
    assert redact(values) == values


def test_records_below_the_configured_level_are_dropped(output: io.StringIO) -> None:
    log = get_logger()
    log.debug("noise")
    logging.getLogger("asyncpg").debug("more noise")
    log.info("signal")

    assert [entry["event"] for entry in lines(output)] == ["signal"]


def test_a_reconnection_failing_every_two_seconds_is_written_once_not_once_per_attempt(
    output: io.StringIO,
) -> None:
    # What aio-pika writes on each attempt while the broker is down (every 2 s).
    robust = logging.getLogger("aio_pika.robust_connection")
    for _ in range(30):
        robust.warning(
            'Connection attempt to "%s" failed: %s. Reconnecting after %r seconds.',
            "amqp://relais-parcours:******@rabbitmq:5672/relais",
            "[Errno 111] Connect call failed",
            2.0,
        )
    get_logger("relais.outbox").warning("outbox_publish_failing")

    written = lines(output)
    assert [e["logger"] for e in written] == ["aio_pika.robust_connection", "relais.outbox"]
    assert "Reconnecting after 2.0 seconds" in written[0]["event"]


def test_alike_library_lines_come_back_once_a_minute_with_how_many_were_held() -> None:
    now = [0.0]
    damper = RepeatDamper(("aiormq",), interval_s=60, clock=lambda: now[0])

    def record(name: str, msg: str, *args: object) -> logging.LogRecord:
        return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)

    passed = []
    for second in range(0, 130, 2):
        now[0] = float(second)
        line = record("aiormq.connection", "error when creating transport: %r", second)
        if damper.filter(line):
            passed.append((second, line.getMessage()))
    assert passed == [
        (0, "error when creating transport: 0"),
        (60, "error when creating transport: 60 [+29 alike held back]"),
        (120, "error when creating transport: 120 [+29 alike held back]"),
    ]
    # Another message, another library, our own loggers: never held back.
    assert damper.filter(record("aiormq.connection", "connection lost"))
    assert damper.filter(record("relais.outbox", "outbox_publish_failing"))
    assert damper.filter(record("relais.outbox", "outbox_publish_failing"))
