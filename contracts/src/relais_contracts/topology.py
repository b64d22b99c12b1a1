"""Names of the public broker topology. Every service and partner uses these, never literals."""

from __future__ import annotations

#: Domain events, topic exchange, routing key ``<domain>.<event>.v<major>.<pre_id>``.
EVENTS_EXCHANGE = "relais.events"
#: Commands from outside organisations, routing key ``<domain>.<command>.v<major>.<institution_id>``.
INTAKE_EXCHANGE = "relais.intake"
#: Direct exchange routing a message back to one queue only (delayed retries, replays).
RETRY_EXCHANGE = "relais.retry"
#: Direct exchange receiving parked messages; each work queue binds its ``<queue>.dlq``.
PARKING_EXCHANGE = "relais.parking"
#: Prefix of the delay exchanges/queues, one per delay step (``relais.delay.5000``).
DELAY_PREFIX = "relais.delay"
#: Per-organisation delivery queues made by ``notifications``: ``deliver.<org_id>``.
DELIVERY_QUEUE_PREFIX = "deliver"

CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"


def parking_queue(queue: str) -> str:
    """Name of the parking (dead-letter) queue of a work queue."""
    return f"{queue}.dlq"


def delay_name(delay_ms: int) -> str:
    """Name of the delay exchange and queue for one backoff step."""
    return f"{DELAY_PREFIX}.{delay_ms}"


def delivery_queue(org_id: str) -> str:
    return f"{DELIVERY_QUEUE_PREFIX}.{org_id}"
