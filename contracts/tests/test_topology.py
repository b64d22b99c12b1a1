"""The public topology: which events each work queue receives."""

from __future__ import annotations

from relais_contracts.base import Message
from relais_contracts.catalogue import ALL_MESSAGES, exchange_of
from relais_contracts.topology import (
    EVENTS_EXCHANGE,
    NOT_REPORTED_DOMAINS,
    QUEUES,
    REPORTED_DOMAINS,
    topic_matches,
)

EVENTS = [m for m in ALL_MESSAGES if exchange_of(m) == EVENTS_EXCHANGE]


def reaches_reporting(message: type[Message]) -> bool:
    key = f"{message.message_type}.v{message.version}.pre-76540"
    return any(topic_matches(k, key) for k in QUEUES["reporting.events"].binding_keys)


def test_every_event_domain_is_either_reported_or_named_as_not() -> None:
    domains = {m.message_type.split(".")[0] for m in EVENTS}
    assert not set(REPORTED_DOMAINS) & set(NOT_REPORTED_DOMAINS)
    assert domains == {*REPORTED_DOMAINS, *NOT_REPORTED_DOMAINS}, (
        "a domain of relais.events is neither in REPORTED_DOMAINS nor NOT_REPORTED_DOMAINS "
        "(docs/decisions/0025-reporting-binds-domain-events.md)"
    )


def test_reporting_receives_every_domain_event_and_no_delivery_receipt() -> None:
    missing = [m.message_type for m in EVENTS if m.message_type.split(".")[0] in
               REPORTED_DOMAINS and not reaches_reporting(m)]  # fmt: skip
    receipts = [m.message_type for m in EVENTS if m.message_type.startswith("notification.")]
    assert missing == []
    assert receipts == ["notification.delivered", "notification.failed"]
    assert not any(reaches_reporting(m) for m in EVENTS if m.message_type in receipts)


def test_reporting_no_longer_binds_everything_and_says_so() -> None:
    assert "#" not in QUEUES["reporting.events"].binding_keys
    assert QUEUES["reporting.events"].retired_binding_keys == ("#",)
