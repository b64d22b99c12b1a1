"""Subscribers of the reporting service: every domain event, kept without identity."""

from __future__ import annotations

from typing import Any

from relais_contracts.envelope import CloudEvent
from relais_reporting.service.project import record_event
from relais_runtime.consumer import Tx
from relais_runtime.runtime import ServiceRuntime

EVENTS_QUEUE = "reporting.events"


def register(runtime: ServiceRuntime) -> None:
    consumer = runtime.consumer(EVENTS_QUEUE)

    @consumer.handles_any
    async def on_any_event(event: CloudEvent[Any], tx: Tx) -> None:
        await record_event(tx)
