"""``relais dlq``: list, inspect, replay or purge parked messages."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from relais_runtime.parking import ParkingLot, about_child
from relais_runtime.settings import RelaisSettings

app = typer.Typer(
    help="Messages parkés (dead-letter) : lister, inspecter, rejouer, purger.\n\n"
    "Parked messages: each work queue <q> parks what it could not handle in <q>.dlq, "
    "with the reason and the error in the message headers.",
    no_args_is_help=True,
)

AmqpOpt = Annotated[
    str | None, typer.Option("--amqp-url", help="AMQP URL (default: $RELAIS_AMQP_URL).")
]
IdOpt = Annotated[str | None, typer.Option("--id", help="Only the message with this id.")]
AllOpt = Annotated[bool, typer.Option("--all", help="Every parked message of the queue.")]


def _lot(amqp_url: str | None) -> ParkingLot:
    return ParkingLot(amqp_url or RelaisSettings().amqp_url)


def _require_selection(message_id: str | None, every: bool) -> None:
    if (message_id is not None) != every:
        return
    raise typer.BadParameter("give either --id MESSAGE_ID or --all (not both, not neither)")


@app.command("list")
def list_(
    queue: Annotated[str | None, typer.Argument(help="A work queue; all when omitted.")] = None,
    amqp_url: AmqpOpt = None,
    limit: Annotated[int, typer.Option(help="At most this many messages.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines output.")] = False,
) -> None:
    """Count parked messages per queue, or list those of one queue."""
    lot = _lot(amqp_url)
    if queue is None:
        counts = asyncio.run(lot.counts())
        if as_json:
            typer.echo(json.dumps(counts, sort_keys=True))
            return
        for name, count in counts.items():
            typer.echo(f"{name + '.dlq':<40} {count:>8}")
        return
    for parked in asyncio.run(lot.browse(queue, limit)):
        if as_json:
            typer.echo(json.dumps(parked.summary()))
        else:
            typer.echo(
                f"{parked.message_id}  {parked.parked_at[:19]}  {parked.reason:<20} "
                f"{parked.routing_key}  {parked.type or '?'}  {parked.error[:80]}"
            )


@app.command()
def show(
    queue: Annotated[str, typer.Argument(help="The work queue.")],
    message_id: Annotated[str, typer.Argument(help="The parked message id.")],
    amqp_url: AmqpOpt = None,
    body: Annotated[bool, typer.Option("--body", help="Also print the message body.")] = False,
) -> None:
    """Show one parked message: reason, error, routing key and (with --body) its body."""
    found = [
        p for p in asyncio.run(_lot(amqp_url).browse(queue, 10_000)) if p.message_id == message_id
    ]
    if not found:
        typer.echo(f"Aucun message {message_id} dans {queue}.dlq", err=True)
        raise typer.Exit(1)
    info = found[0].summary()
    if body:
        info["body"] = found[0].body.decode(errors="replace")
    typer.echo(json.dumps(info, indent=2, ensure_ascii=False))


@app.command()
def replay(
    queue: Annotated[str, typer.Argument(help="The work queue to send messages back to.")],
    message_id: IdOpt = None,
    every: AllOpt = False,
    amqp_url: AmqpOpt = None,
) -> None:
    """Send parked messages back to their queue (only that queue), retry count reset."""
    _require_selection(message_id, every)
    done = asyncio.run(_lot(amqp_url).replay(queue, message_id))
    typer.echo(f"{len(done)} message(s) rejoué(s) vers {queue}")
    if message_id and not done:
        raise typer.Exit(1)


@app.command()
def purge(
    queue: Annotated[str, typer.Argument(help="The work queue whose parked messages to drop.")],
    message_id: IdOpt = None,
    every: AllOpt = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    amqp_url: AmqpOpt = None,
) -> None:
    """Delete parked messages for good (asks for confirmation unless --yes)."""
    _require_selection(message_id, every)
    what = message_id or f"tous les messages de {queue}.dlq"
    if not yes and not typer.confirm(f"Supprimer définitivement {what} ?"):
        raise typer.Exit(1)
    done = asyncio.run(_lot(amqp_url).purge(queue, message_id))
    typer.echo(f"{len(done)} message(s) supprimé(s) de {queue}.dlq")


@app.command("purge-child")
def purge_child(
    ids: Annotated[
        list[str],
        typer.Argument(
            help="The erased child's ids: subject_id, and its situation and referral ids "
            "(as subject.erased lists them)."
        ),
    ],
    amqp_url: AmqpOpt = None,
) -> None:
    """After an erasure: drop every parked message about the child, in every queue."""
    lot = _lot(amqp_url)

    async def run() -> dict[str, int]:
        dropped: dict[str, int] = {}
        for queue in await lot.counts():
            gone = await lot.purge_matching(queue, about_child(ids))
            if gone:
                dropped[queue] = len(gone)
        return dropped

    dropped = asyncio.run(run())
    for queue, count in dropped.items():
        typer.echo(f"{queue + '.dlq':<40} {count:>8} supprimé(s)")
    typer.echo(f"{sum(dropped.values())} message(s) parké(s) concernant l'enfant supprimé(s)")
