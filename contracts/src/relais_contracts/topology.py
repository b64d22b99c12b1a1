"""Names of the public broker topology. Every service and partner uses these, never literals."""

from __future__ import annotations

from dataclasses import dataclass

#: Domain events, topic exchange, routing key ``<domain>.<event>.v<major>.<pre_id>``.
EVENTS_EXCHANGE = "relais.events"
#: Commands from outside organisations, topic exchange,
#: routing key ``<domain>.<command>.v<major>.<institution_id>``.
INTAKE_EXCHANGE = "relais.intake"
#: Direct exchange routing a message back to one queue only (delayed retries, replays).
RETRY_EXCHANGE = "relais.retry"
#: Direct exchange receiving parked messages; each work queue binds its ``<queue>.dlq``.
PARKING_EXCHANGE = "relais.parking"
#: Prefix of the delay exchanges and queues, one per delay step (exchange ``relais.delay.5000``,
#: quorum queue ``relais.delay.5000.quorum``).
DELAY_PREFIX = "relais.delay"
#: Per-organisation delivery queues made by ``notifications``: ``deliver.<org_id>``.
DELIVERY_QUEUE_PREFIX = "deliver"

CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"


def parking_queue(queue: str) -> str:
    """Name of the parking (dead-letter) queue of a work queue."""
    return f"{queue}.dlq"


def delay_name(delay_ms: int) -> str:
    """Name of the delay exchange for one backoff step (also its former classic queue)."""
    return f"{DELAY_PREFIX}.{delay_ms}"


def delay_queue(delay_ms: int) -> str:
    """Name of the (quorum) delay queue for one backoff step, bound to ``delay_name``."""
    return f"{delay_name(delay_ms)}.quorum"


def delivery_queue(org_id: str) -> str:
    """Name of an organisation's own delivery queue."""
    return f"{DELIVERY_QUEUE_PREFIX}.{org_id}"


def topic_matches(pattern: str, routing_key: str) -> bool:
    """Whether a topic binding key matches a routing key, as RabbitMQ decides it.

    ``*`` stands for exactly one word, ``#`` for zero or more words.
    """

    def match(p: list[str], k: list[str]) -> bool:
        if not p:
            return not k
        if p[0] == "#":
            return any(match(p[1:], k[i:]) for i in range(len(k) + 1))
        return bool(k) and p[0] in ("*", k[0]) and match(p[1:], k[1:])

    return match(pattern.split("."), routing_key.split("."))


@dataclass(frozen=True)
class QueueSpec:
    """A service's durable work queue on the backbone (declared by the runtime).

    The queue name is the key of ``QUEUES``: ``<service>.<purpose>``.
    """

    exchange: str
    binding_keys: tuple[str, ...]
    service: str
    description: str


#: Every service work queue. Data only: the runtime declares queues, bindings, retry and
#: parking from this table, and the AsyncAPI document lists them as receive operations.
#: Keys bind one major version of each message for every PRE (``*`` as the last word).
QUEUES: dict[str, QueueSpec] = {
    "referral.intake": QueueSpec(
        exchange=INTAKE_EXCHANGE,
        binding_keys=("referral.submit.v1.*",),
        service="referral",
        description="Referrals submitted over AMQP by integrated institutions.",
    ),
    "referral.parcours-events": QueueSpec(
        exchange=EVENTS_EXCHANGE,
        binding_keys=(
            "situation.opened.v1.*",
            "situation.referral_attached.v1.*",
            "review.decided.v1.*",
            "parcours.closed.v1.*",
            "subject.erased.v1.*",
        ),
        service="referral",
        description="What the sender's closed-loop timeline needs from parcours, and erasures.",
    ),
    "parcours.referrals": QueueSpec(
        exchange=EVENTS_EXCHANGE,
        binding_keys=("referral.submitted.v1.*", "referral.withdrawn.v1.*"),
        service="parcours",
        description="Referrals to open or attach to a situation, and their withdrawal.",
    ),
    "notifications.events": QueueSpec(
        exchange=EVENTS_EXCHANGE,
        binding_keys=(
            "referral.status_changed.v1.*",
            "referral.submit_rejected.v1.*",
            "situation.opened.v1.*",
            "situation.referral_attached.v1.*",
            "referent.assigned.v1.*",
            "referent.registered.v1.*",
            "handover.requested.v1.*",
            "handover.accepted.v1.*",
            "handover.declined.v1.*",
            "handover.waitlisted.v1.*",
            "handover.completed.v1.*",
            "handover.cancelled.v1.*",
            "deadline.overdue.v1.*",
            "followup.due.v1.*",
            "followup.recorded.v1.*",
            "subject.erased.v1.*",
        ),
        service="notifications",
        description="Events someone must hear about: senders, coordinators, référents, partners.",
    ),
    "reporting.events": QueueSpec(
        exchange=EVENTS_EXCHANGE,
        binding_keys=("#",),
        service="reporting",
        description="Every domain event, for the anonymous projections and indicators.",
    ),
}
