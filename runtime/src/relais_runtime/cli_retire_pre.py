"""``relais keys retire-pre``: destroy a PRE's previous private keys once nothing needs them.

After ``relais keys init-pre <pre> --rotate`` referral seals to the new key at once;
nothing at rest is sealed to a PRE key (ADR 0017), but a ``referral.submitted`` sealed to
the old one may still be on its way to parcours or parked. This command looks: every
parking queue is browsed for a JWE whose header names an old key, and parcours's
referral queue and the retry delay queues must be empty. Then (with ``--yes``) the old
``<pre>.private.<kid>.jwk.json`` files are deleted.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
from pathlib import Path
from typing import Annotated

import aio_pika
import typer

from relais_contracts.topology import QUEUES
from relais_runtime.parking import ParkingLot
from relais_runtime.settings import RelaisSettings

EPILOG = (
    "Dry run without --yes: lists the old keys and what still needs them. Exit status 1 "
    "while a parked message is sealed to an old key (replay or purge it: relais dlq) or "
    "messages are in transit to parcours (wait). Keys given in RELAIS_PRE_KEY_<PRE> are "
    "yours to edit. Runbook: « A key has leaked »."
)
#: What opens sealed identities: parcours's referrals queue (its retries pass the delays).
SEALED_QUEUE = "parcours.referrals"
_JWE = re.compile(r"eyJ[\w-]+\.[\w-]*\.[\w-]+\.[\w-]+\.[\w-]+")


def sealed_kids(body: bytes) -> set[str]:
    """The ``kid`` of every compact JWE in a message body."""
    kids = set()
    for token in _JWE.findall(body.decode(errors="replace")):
        head = token.split(".", 1)[0]
        try:
            header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
        except ValueError:
            continue
        if isinstance(header, dict) and isinstance(header.get("kid"), str):
            kids.add(header["kid"])
    return kids


async def still_needed(amqp_url: str, kids: set[str], delays_ms: list[int]) -> list[str]:
    """Why the old keys can't go yet (empty: they can)."""
    reasons = []
    lot = ParkingLot(amqp_url)
    for queue in QUEUES:
        try:
            parked = await lot.browse(queue, limit=100_000)
        except aio_pika.exceptions.ChannelClosed:
            continue  # that service never started on this broker: no parking queue
        sealed = [p for p in parked if sealed_kids(p.body) & kids]
        if sealed:
            reasons.append(f"{queue}.dlq: {len(sealed)} message(s) sealed to an old key")
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        for name in [SEALED_QUEUE, *(f"relais.delay.{d}.quorum" for d in delays_ms)]:
            channel = await connection.channel()
            try:
                declared = await channel.declare_queue(name, passive=True)
            except aio_pika.exceptions.ChannelClosed:
                continue
            count = declared.declaration_result.message_count or 0
            if count:
                reasons.append(f"{name}: {count} message(s) in transit")
            await channel.close()
    return reasons


def retire_pre(
    tenant: Annotated[
        str, typer.Argument(help="Identifiant du PRE, ex. pre-76540.", metavar="PRE_ID")
    ],
    keys_dir: Annotated[
        Path | None,
        typer.Option("--dir", help="Dossier des clés (défaut: $RELAIS_KEYS_DIR ou var/keys)."),
    ] = None,
    amqp_url: Annotated[
        str | None, typer.Option("--amqp-url", help="AMQP URL (default: $RELAIS_AMQP_URL).")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Détruire vraiment / really delete.")] = False,
) -> None:
    """Détruit les anciennes clés privées d'un PRE (destroy a PRE's previous private keys)."""
    directory = keys_dir or Path(os.environ.get("RELAIS_KEYS_DIR", "var/keys"))
    old = sorted(directory.glob(f"{tenant}.private.*.jwk.json"))
    if not old:
        typer.echo(f"aucune ancienne clé / no previous key for {tenant} in {directory}")
        return
    kids = {str(json.loads(p.read_text()).get("kid", "")) for p in old}
    settings = RelaisSettings()
    reasons = asyncio.run(
        still_needed(amqp_url or settings.amqp_url, kids, list(settings.retry_delays_ms))
    )
    for reason in reasons:
        typer.echo(f"encore utile / still needed: {reason}", err=True)
    if reasons:
        raise typer.Exit(1)
    if not yes:
        typer.echo(f"à détruire / would destroy (--yes): {', '.join(sorted(kids))}")
        return
    for path in old:
        path.unlink()
    typer.echo(f"anciennes clés détruites / old keys destroyed: {', '.join(sorted(kids))}")
