"""Which route a parked message shows and is replayed with, from its headers alone."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from relais_runtime.parking import describe

QUEUE = "parcours.referrals"
ORIGINAL = "referral.submitted.v1.pre-76540"


def parked(headers: dict[str, Any], routing_key: str = QUEUE) -> Any:
    """A message as basic.get returns it from ``<queue>.dlq``."""
    return SimpleNamespace(
        headers=headers,
        body=b'{"type": "fr.relais.referral.submitted.v1", "subject": "r-1"}',
        message_id="m-1",
        routing_key=routing_key,
        exchange="relais.parking",
    )


def test_a_message_parked_by_the_consumer_shows_the_route_in_its_headers() -> None:
    message = parked(
        {
            "x-relais-parked-reason": "retries_exhausted",
            "x-relais-original-exchange": "relais.events",
            "x-relais-original-routing-key": ORIGINAL,
        }
    )
    shown = describe(QUEUE, message)
    assert (shown.exchange, shown.routing_key, shown.reason) == (
        "relais.events",
        ORIGINAL,
        "retries_exhausted",
    )


def test_a_message_dead_lettered_by_the_delivery_limit_shows_the_route_of_its_death() -> None:
    # The broker's own bookkeeping: the work queue's entry names the route it came by.
    message = parked(
        {
            "x-first-death-reason": "delivery_limit",
            "x-death": [
                {
                    "queue": QUEUE,
                    "reason": "delivery_limit",
                    "exchange": "relais.events",
                    "routing-keys": [ORIGINAL],
                    "count": 1,
                }
            ],
        }
    )
    shown = describe(QUEUE, message)
    assert (shown.exchange, shown.routing_key, shown.reason) == (
        "relais.events",
        ORIGINAL,
        "delivery_limit",
    )


def test_a_message_with_no_route_recorded_shows_the_key_it_was_parked_with() -> None:
    shown = describe(QUEUE, parked({"x-relais-parked-reason": "invalid_json"}))
    assert (shown.exchange, shown.routing_key) == ("relais.parking", QUEUE)
