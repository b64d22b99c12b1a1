"""Subscribers of the reporting service: every domain event, kept without identity."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

from relais_contracts.v1.parcours import SubjectErased
from relais_reporting.service.project import record_events
from relais_runtime.consumer import Tx
from relais_runtime.runtime import ServiceRuntime

EVENTS_QUEUE = "reporting.events"
#: Messages handled per transaction at most is half of it (docs/decisions/0021): every
#: event of the platform reaches this queue, one transaction each cost most of its CPU.
PREFETCH = 128
#: How long a message waits for batch-mates: figures need not be fresher than that, and at
#: a steady rate (not only in bursts) the events of ~0.1 s then share one transaction.
LINGER_S = 0.1


def register(runtime: ServiceRuntime) -> None:
    consumer = runtime.consumer(EVENTS_QUEUE, prefetch=PREFETCH)

    async def on_events(txs: Sequence[Tx]) -> None:
        await record_events(txs)
        for tx in txs:
            if tx.incoming.type != SubjectErased.ce_type():
                continue
            # Every event reaches this queue: a parked referral.submitted holds the sealed
            # identity, which the PRE's key would still open after the erasure.
            try:
                erased = SubjectErased.model_validate(tx.incoming.data)
            except ValidationError:
                continue  # logged by record_events like any event; nothing to name
            await runtime.purge_parked_after_erasure(erased)

    consumer.handles_batches(on_events, linger_s=LINGER_S)
