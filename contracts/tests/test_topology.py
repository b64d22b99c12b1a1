"""The public topology: every message published reaches at least one work queue."""

from __future__ import annotations

from relais_contracts.catalogue import ALL_MESSAGES, exchange_of
from relais_contracts.topology import QUEUES, topic_matches


def test_every_message_the_catalogue_publishes_is_bound_to_a_queue() -> None:
    # The relay publishes with mandatory: a type no queue binds comes back NO_ROUTE and
    # stays in its outbox for ever (docs/decisions/0025-reporting-binds-domain-events.md).
    unrouted = [
        m.ce_type()
        for m in ALL_MESSAGES
        if not any(
            spec.exchange == exchange_of(m)
            and any(topic_matches(k, m.routing_key("pre-76540")) for k in spec.binding_keys)
            for spec in QUEUES.values()
        )
    ]
    assert unrouted == []
