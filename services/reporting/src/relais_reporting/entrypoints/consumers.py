"""Subscribers of the reporting service: every domain event, kept without identity."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from relais_contracts.envelope import CloudEvent
from relais_contracts.v1.parcours import SubjectErased
from relais_reporting.service.project import record_event
from relais_runtime.consumer import Tx
from relais_runtime.runtime import ServiceRuntime

EVENTS_QUEUE = "reporting.events"


def register(runtime: ServiceRuntime) -> None:
    consumer = runtime.consumer(EVENTS_QUEUE)

    @consumer.handles_any
    async def on_any_event(event: CloudEvent[Any], tx: Tx) -> None:
        await record_event(tx)
        if event.type == SubjectErased.ce_type():
            # Every event reaches this queue: a parked referral.submitted holds the sealed
            # identity, which the PRE's key would still open after the erasure.
            try:
                erased = SubjectErased.model_validate(event.data)
            except ValidationError:
                return  # logged by record_event like any event; nothing to name
            await runtime.purge_parked_after_erasure(erased)
