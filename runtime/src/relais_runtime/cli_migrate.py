"""``relais migrate``: apply a service's SQL migrations."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from relais_runtime.logging import configure_logging
from relais_runtime.migrations import MigrationError, default_scope, ensure_database, migrate

__all__ = ["migrate_command"]


def migrate_command(
    dsn: Annotated[
        str,
        typer.Option(
            envvar="RELAIS_MIGRATE_DSN",
            help="Base cible / target database, ex. postgresql://postgres@127.0.0.1:5432/parcours.",
        ),
    ],
    directory: Annotated[
        Path,
        typer.Option(
            "--dir",
            exists=True,
            file_okay=False,
            help="Dossier des migrations / migrations directory (services/<name>/migrations).",
        ),
    ],
    lock_key: Annotated[
        str | None,
        typer.Option(
            help="Clé du verrou consultatif / advisory lock key (défaut: relais:<série>, "
            "celle qu'utilise le service au démarrage / the one the service uses at start-up).",
        ),
    ] = None,
    scope: Annotated[
        str | None,
        typer.Option(
            help="Série de migrations / migration series "
            "(défaut: services/<nom>/migrations → <nom>).",
        ),
    ] = None,
    create_db: Annotated[
        bool,
        typer.Option(
            "--create-db/--no-create-db",
            help="Crée la base si elle manque / create the database if missing (needs CREATEDB).",
        ),
    ] = False,
) -> None:
    """Applique les migrations SQL en attente / apply pending SQL migrations."""
    configure_logging("relais-cli", "WARNING", stream="stderr")
    series = scope or default_scope(directory)

    async def run() -> list[str]:
        if create_db and await ensure_database(dsn):
            typer.echo("Base créée / database created.", err=True)
        return await migrate(dsn, directory, lock_key=lock_key or f"relais:{series}", scope=series)

    try:
        applied = asyncio.run(run())
    except MigrationError as exc:
        typer.echo(f"Migration refusée / refused: {exc}", err=True)
        raise typer.Exit(code=1) from None
    if not applied:
        typer.echo(f"[{series}] Aucune migration à appliquer / database up to date.")
    for name in applied:
        typer.echo(f"[{series}] applied {name}")
