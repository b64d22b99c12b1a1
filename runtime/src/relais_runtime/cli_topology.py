"""``relais topology``: declare the broker topology without starting a service."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from relais_contracts.topology import QUEUES
from relais_runtime.runtime import work_queues
from relais_runtime.settings import RelaisSettings
from relais_runtime.topology import declare_topology

app = typer.Typer(help="Topologie RabbitMQ (exchanges, files, retards, parking).")


@app.command("declare")
def declare(
    amqp_url: Annotated[
        str | None, typer.Option("--amqp-url", help="AMQP URL (défaut: $RELAIS_AMQP_URL).")
    ] = None,
) -> None:
    """Déclare toute la topologie (idempotent) / declare the whole topology (idempotent)."""
    settings = RelaisSettings()
    queues = work_queues(sorted(QUEUES))
    asyncio.run(
        declare_topology(
            amqp_url or settings.amqp_url,
            queues,
            delays_ms=settings.retry_delays_ms,
            delivery_limit=settings.delivery_limit,
        )
    )
    for queue in queues:
        typer.echo(f"{queue.name:<28} ← {queue.exchange} {', '.join(queue.binding_keys)}")
