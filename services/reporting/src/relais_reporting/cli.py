"""``relais-reporting``: operator commands of the reporting service."""

from __future__ import annotations

import asyncio
import time

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from relais_reporting.adapters import store
from relais_reporting.config import ReportingSettings
from relais_reporting.service.rebuild import rebuild
from relais_runtime.db import create_pool

app = typer.Typer(
    name="relais-reporting",
    help="Outils du service d'indicateurs (reporting).",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _commands() -> None:
    """Outils du service d'indicateurs (reporting)."""  # keeps `rebuild` a sub-command


async def run_rebuild(dsn: str, *, show_progress: bool = True) -> tuple[int, int, float]:
    pool = await create_pool(dsn, max_size=2)
    try:
        async with pool.acquire() as conn:
            total = await store.count_log(conn)
            started = time.perf_counter()
            with Progress(
                TextColumn("Reconstruction des indicateurs"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                disable=not show_progress,
            ) as bar:
                task = bar.add_task("rebuild", total=total)
                read, docs = await rebuild(conn, lambda n: bar.advance(task, n))
            return read, docs, time.perf_counter() - started
    finally:
        await pool.close()


@app.command("rebuild")
def rebuild_command(
    dsn: str = typer.Option(None, help="Base du service (défaut : REPORTING_DATABASE_URL)."),
    quiet: bool = typer.Option(False, "--quiet", help="Sans barre de progression."),
) -> None:
    """Reconstruire toutes les projections à partir du journal d'événements anonyme."""
    read, docs, seconds = asyncio.run(
        run_rebuild(dsn or ReportingSettings().database_url, show_progress=not quiet)
    )
    rate = read / seconds if seconds else 0.0
    typer.echo(
        f"{read} événements relus, {docs} fiches reconstruites en {seconds:.2f} s "
        f"({rate:,.0f} év./s)"
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
