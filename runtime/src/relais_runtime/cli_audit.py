"""``relais audit``: check the access log's hash chains, export it for the DPO (CSV)."""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated

import asyncpg
import typer

from relais_runtime import audit

app = typer.Typer(
    help="Journal des accès aux données personnelles : vérifier les chaînes, exporter (CSV).\n\n"
    "Access log of personal data: one hash chain per PRE in each service's database.",
    no_args_is_help=True,
)

DsnOpt = Annotated[
    list[str],
    typer.Option(
        "--dsn",
        envvar="RELAIS_AUDIT_DSN",
        help="Base d'un service (répétable) / a service database, e.g. "
        "postgresql://postgres@127.0.0.1:5432/relais_parcours.",
    ),
]
PreOpt = Annotated[str | None, typer.Option("--pre", help="Un seul PRE / one PRE only.")]


def _day(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
    except ValueError as exc:
        raise typer.BadParameter(f"{option}: date AAAA-MM-JJ attendue ({value!r})") from exc


@app.command("verify")
def verify_command(dsn: DsnOpt, tenant: PreOpt = None) -> None:
    """Recompute every chain; exit 1 and name the first broken line of each broken chain."""

    async def run() -> bool:
        intact = True
        for one in dsn:
            conn = await asyncpg.connect(one)
            try:
                reports = await audit.verify(conn, tenant)
            finally:
                await conn.close()
            name = one.rsplit("/", 1)[-1]
            if not reports:
                typer.echo(f"{name}: aucun accès enregistré")
            for r in reports:
                if r.broken is None:
                    typer.echo(f"{name}: {r.tenant} intacte, {r.lines} lignes, tête {r.head_hash}")
                else:
                    intact = False
                    typer.echo(f"{name}: ROMPUE {r.broken.describe()}", err=True)
        return intact

    if not asyncio.run(run()):
        raise typer.Exit(1)


@app.command("export")
def export_command(
    dsn: DsnOpt,
    tenant: Annotated[str, typer.Option("--pre", help="Le PRE / the PRE.")],
    since: Annotated[
        str | None, typer.Option("--since", help="Depuis ce jour inclus (AAAA-MM-JJ).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Jusqu'à ce jour exclu (AAAA-MM-JJ).")
    ] = None,
    situation: Annotated[
        uuid.UUID | None,
        typer.Option("--situation", help="Un enfant : l'identifiant de sa situation."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Fichier CSV (défaut : sortie standard).")
    ] = None,
) -> None:
    """CSV of the accesses of a PRE for a period and/or one child, every database in turn."""
    start, end = _day(since, "--since"), _day(until, "--until")

    async def run() -> None:
        out = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
        try:
            out.write(audit.csv_header())
            for one in dsn:
                conn = await asyncpg.connect(one)
                try:
                    async for row in audit.lines(
                        conn, tenant, since=start, until=end, situation_id=situation
                    ):
                        out.write(audit.csv_line(row))
                finally:
                    await conn.close()
        finally:
            if output:
                out.close()

    asyncio.run(run())
