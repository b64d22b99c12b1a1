"""Base classes for event and command payloads (the CloudEvents ``data``)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict
from pydantic.config import JsonDict

SCHEMA_BASE_URL = "https://relais.example.org/schemas"


def examples(*values: JsonDict) -> ConfigDict:
    """A message's model_config carrying the examples its exported schema shows."""
    return ConfigDict(json_schema_extra={"examples": list(values)})


class Strict(BaseModel):
    """A strict payload part: unknown fields rejected, values immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Message(Strict):
    """A message payload. Strict: unknown fields are rejected, values are immutable.

    Subclasses set ``message_type`` (``<domain>.<name>``, e.g. ``referral.submitted``) and
    ``version`` (the major version); the CloudEvents type, routing key and schema id all
    derive from those two. ``subject_field`` names the field holding the aggregate id that
    becomes the CloudEvents ``subject`` (``None`` when the producer must choose it).
    """

    message_type: ClassVar[str]
    version: ClassVar[int] = 1
    kind: ClassVar[Literal["event", "command"]] = "event"
    subject_field: ClassVar[str | None] = None

    @classmethod
    def ce_type(cls) -> str:
        """CloudEvents ``type``, e.g. ``fr.relais.referral.submitted.v1``."""
        return f"fr.relais.{cls.message_type}.v{cls.version}"

    @classmethod
    def routing_prefix(cls) -> str:
        """Routing key without its last word, e.g. ``referral.submitted.v1``."""
        return f"{cls.message_type}.v{cls.version}"

    @classmethod
    def routing_key(cls, last_word: str) -> str:
        """Full routing key; ``last_word`` is the PRE id (events) or institution id (commands)."""
        return f"{cls.routing_prefix()}.{last_word}"

    @classmethod
    def schema_id(cls) -> str:
        """The ``dataschema`` of messages of this type."""
        return f"{SCHEMA_BASE_URL}/{cls.message_type}.v{cls.version}.json"

    def ce_subject(self) -> str | None:
        """The CloudEvents ``subject``: the aggregate id, when the message names one."""
        if self.subject_field is None:
            return None
        value = getattr(self, self.subject_field)
        return None if value is None else str(value)


class Event(Message):
    """A past-tense fact published on ``relais.events``."""

    kind: ClassVar[Literal["event", "command"]] = "event"


class Command(Message):
    """An imperative request published on ``relais.intake`` by an outside organisation."""

    kind: ClassVar[Literal["event", "command"]] = "command"
