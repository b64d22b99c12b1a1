"""``relais retention report``: what each service will erase in the coming days (dry run)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

import asyncpg
import typer

from relais_runtime import retention
from relais_runtime.settings import RelaisSettings

app = typer.Typer(
    help="Durées de conservation : ce qui sera effacé bientôt (sans rien effacer).\n\n"
    "Retention: each service erases a child's data RELAIS_RETENTION_MONTHS (per PRE: "
    "RELAIS_RETENTION_MONTHS_BY_PRE) after the last contact.",
    no_args_is_help=True,
)


@app.command("report")
def report_command(
    dsn: Annotated[
        list[str],
        typer.Option(
            "--dsn",
            envvar="RELAIS_RETENTION_DSN",
            help="Base d'un service (répétable), e.g. postgresql://…/relais_parcours.",
        ),
    ],
    days: Annotated[int, typer.Option(min=0, help="Horizon en jours / days ahead.")] = 30,
    tenant: Annotated[str | None, typer.Option("--pre", help="Un seul PRE / one PRE only.")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Compter depuis ce jour (AAAA-MM-JJ) / from.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines output.")] = False,
) -> None:
    """List what falls due within --days (already due first); nothing is erased."""
    try:
        start = (
            datetime.combine(date.fromisoformat(as_of), time(), tzinfo=UTC)
            if as_of
            else datetime.now(UTC)
        )
    except ValueError as exc:
        raise typer.BadParameter(f"--as-of : date AAAA-MM-JJ attendue ({as_of!r})") from exc
    policy = retention.RetentionPolicy.of(RelaisSettings())

    async def run() -> list[tuple[str, retention.Due]]:
        found: list[tuple[str, retention.Due]] = []
        for one in dsn:
            conn = await asyncpg.connect(one)
            try:
                rows = await retention.due(
                    conn, policy, start, within=timedelta(days=days), tenant=tenant, limit=1_000_000
                )
            finally:
                await conn.close()
            found.extend((one.rsplit("/", 1)[-1], d) for d in rows)
        return found

    found = asyncio.run(run())
    for database, d in found:
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "database": database,
                        "pre_id": d.tenant,
                        "record_type": d.record_type,
                        "record_id": d.record_id,
                        "last_contact_at": d.last_contact_at.isoformat(),
                        "due_at": d.due_at.isoformat(),
                        "overdue": d.due_at <= start,
                    }
                )
            )
        else:
            typer.echo(
                f"{d.due_at.date()}  {database:<24} {d.tenant:<12} {d.record_type:<10} "
                f"{d.record_id}  (dernier contact {d.last_contact_at.date()})"
            )
    if not as_json:
        typer.echo(
            f"{len(found)} à effacer d'ici {days} jours (politique {policy.default_months} mois)"
        )
