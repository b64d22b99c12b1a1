"""``relais-reporting``: operator commands of the reporting service."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from relais_reporting import demo
from relais_reporting.adapters import store
from relais_reporting.config import ReportingSettings
from relais_reporting.domain.periods import school_year_of
from relais_reporting.service.project import logged
from relais_reporting.service.rebuild import rebuild
from relais_runtime.app import migrations_dir
from relais_runtime.db import create_pool
from relais_runtime.runtime import prepare_database

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


async def load_demo(dsn: str, tenant: str, children: int) -> int:
    """Two school years of demo events into the log, up to now, then rebuild.

    Nothing after now is loaded (a parcours closing next spring, a six-month follow-up not
    held yet); a later run adds what has happened since, with the same ids.
    """
    now = datetime.now(UTC)
    start = int(school_year_of(now)[:4])
    events = demo.school_year(tenant, start - 1, children, seed=1, until=now) + demo.school_year(
        tenant, start, children // 3, seed=2, until=now
    )
    await prepare_database(dsn, "reporting", migrations_dir(__file__))
    pool = await create_pool(dsn, max_size=2)
    try:
        async with pool.acquire() as conn:
            await store.append_log(conn, [(e.id, logged(e)) for e in events])
            await rebuild(conn)
    finally:
        await pool.close()
    return len(events)


@app.command("demo")
def demo_command(
    tenant: str = typer.Option("pre-76540", "--pre", help="PRE de démonstration."),
    children: int = typer.Option(350, help="Enfants orientés sur l'année scolaire passée."),
    dsn: str = typer.Option(None, help="Base du service (défaut : REPORTING_DATABASE_URL)."),
) -> None:
    """Charger des données de démonstration (fictives) dans le journal du service d'indicateurs.

    Seul le service d'indicateurs les reçoit : rien n'est publié sur le broker. Relancer la
    commande n'ajoute rien (identifiants d'événements stables).
    """
    count = asyncio.run(load_demo(dsn or ReportingSettings().database_url, tenant, children))
    typer.echo(f"{count} événements de démonstration chargés pour {tenant}.")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
