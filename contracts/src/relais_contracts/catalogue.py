"""The catalogue of every message of the contract: lookup by type, producers, queues."""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal

from relais_contracts.base import Message
from relais_contracts.envelope import CloudEvent, envelope_model
from relais_contracts.topology import EVENTS_EXCHANGE, INTAKE_EXCHANGE, QUEUES, topic_matches
from relais_contracts.v1 import directory, notifications, parcours, referral

#: Who publishes a message: one of the services, or an outside institution (commands).
Producer = Literal["referral", "parcours", "notifications", "institution"]

_BY_PRODUCER: dict[Producer, tuple[type[Message], ...]] = {
    "institution": (referral.SubmitReferral,),
    "referral": (
        referral.ReferralSubmitted,
        referral.ReferralWithdrawn,
        referral.ReferralStatusChanged,
        referral.ReferralSubmitRejected,
    ),
    "parcours": (
        parcours.SituationOpened,
        parcours.SituationReferralAttached,
        parcours.ReviewDecided,
        parcours.ReferentAssigned,
        parcours.ReferentRegistered,
        parcours.ConsentGiven,
        parcours.ConsentWithdrawn,
        parcours.ConsentExpired,
        parcours.PlanUpdated,
        parcours.HandoverRequested,
        parcours.HandoverAccepted,
        parcours.HandoverDeclined,
        parcours.HandoverWaitlisted,
        parcours.HandoverCompleted,
        parcours.HandoverCancelled,
        parcours.ParcoursClosed,
        parcours.FollowupDue,
        parcours.FollowupRecorded,
        parcours.DeadlineOverdue,
        parcours.SubjectErased,
        directory.PartnerChangeProposed,
        directory.PartnerChangeRejected,
        directory.PartnerEntryPublished,
    ),
    "notifications": (
        notifications.NotificationDelivered,
        notifications.NotificationFailed,
    ),
}

#: Every message class of the contract, commands first, then events by producer.
ALL_MESSAGES: tuple[type[Message], ...] = tuple(
    cls for classes in _BY_PRODUCER.values() for cls in classes
)

#: The service (or ``institution``) that publishes each message.
PRODUCER: Mapping[type[Message], Producer] = MappingProxyType(
    {cls: producer for producer, classes in _BY_PRODUCER.items() for cls in classes}
)

_BY_CE_TYPE: Mapping[str, type[Message]] = MappingProxyType(
    {cls.ce_type(): cls for cls in ALL_MESSAGES}
)


class UnknownMessageType(KeyError):
    """A CloudEvents type that is not in the catalogue."""

    def __str__(self) -> str:  # KeyError's own str() would only repr the key
        return str(self.args[0]) if self.args else "unknown message type"


def by_ce_type(type_str: str) -> type[Message]:
    """The message class of a CloudEvents type, e.g. ``fr.relais.referral.submitted.v1``.

    Raises ``UnknownMessageType`` (a ``KeyError``) naming the type when it is not known.
    """
    try:
        return _BY_CE_TYPE[type_str]
    except KeyError:
        raise UnknownMessageType(
            f"unknown message type {type_str!r}: not in the relais-contracts catalogue "
            f"(is the contracts package older than the producer?)"
        ) from None


def source_of(message: type[Message], institution_id: str | None = None) -> str:
    """The CloudEvents ``source`` of a message.

    ``/relais/<service>`` for events, ``/institutions/<institution_id>`` for commands.
    """
    producer = PRODUCER[message]
    if producer == "institution":
        if not institution_id:
            raise ValueError(f"{message.__name__} is sent by an institution: give its id")
        return f"/institutions/{institution_id}"
    return f"/relais/{producer}"


def messages_for_queue(queue: str) -> tuple[type[Message], ...]:
    """The messages a work queue of ``QUEUES`` receives, as its bindings route them."""
    spec = QUEUES[queue]
    return tuple(
        cls
        for cls in ALL_MESSAGES
        if exchange_of(cls) == spec.exchange
        and any(topic_matches(key, cls.routing_key("x")) for key in spec.binding_keys)
    )


def consumers_of(message: type[Message]) -> tuple[str, ...]:
    """Names of the work queues that receive a message."""
    return tuple(sorted(q for q in QUEUES if message in messages_for_queue(q)))


def exchange_of(message: type[Message]) -> str:
    """The exchange a message is published on: commands on intake, events on events."""
    return INTAKE_EXCHANGE if message.kind == "command" else EVENTS_EXCHANGE


def parse_cloudevent(raw: str | bytes | Mapping[str, Any]) -> CloudEvent[Any]:
    """Parse and validate a message of any known type; ``data`` comes back typed.

    Raises ``UnknownMessageType`` for a type outside the catalogue, ``ValueError`` when the
    ``dataschema`` does not belong to the type, and pydantic's ``ValidationError`` for any
    invalid field.
    """
    obj: Any = json.loads(raw) if isinstance(raw, str | bytes) else dict(raw)
    if not isinstance(obj, dict):
        raise ValueError("a CloudEvent must be a JSON object")
    type_str = obj.get("type")
    if not isinstance(type_str, str):
        raise ValueError("a CloudEvent needs a string 'type'")
    message = by_ce_type(type_str)
    if obj.get("dataschema") != message.schema_id():
        raise ValueError(
            f"dataschema {obj.get('dataschema')!r} does not match type {type_str!r} "
            f"(expected {message.schema_id()!r})"
        )
    return envelope_model(message).model_validate(obj)
