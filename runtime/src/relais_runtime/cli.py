"""The ``relais`` operator command. Each sub-command lives in its own ``cli_*`` module."""

from __future__ import annotations

import typer

from relais_runtime import (
    cli_audit,
    cli_dlq,
    cli_master_key,
    cli_migrate,
    cli_openapi,
    cli_retention,
    cli_retire_pre,
    cli_token,
    cli_topology,
)

app = typer.Typer(
    name="relais",
    help="Outils d'exploitation de Relais (operator tools): files parkées, jetons de dev, "
    "migrations, documents OpenAPI, topologie, journal des accès, conservation.",
    no_args_is_help=True,
    add_completion=False,
)

# Sub-commands register here, one line each (keep alphabetical).
app.add_typer(cli_audit.app, name="audit")
app.add_typer(cli_dlq.app, name="dlq")
app.add_typer(cli_token.keys_app, name="keys")
cli_token.keys_app.command("rotate-master", epilog=cli_master_key.EPILOG)(
    cli_master_key.rotate_master
)
cli_token.keys_app.command("retire-pre", epilog=cli_retire_pre.EPILOG)(cli_retire_pre.retire_pre)
app.command("migrate")(cli_migrate.migrate_command)
app.add_typer(cli_openapi.app, name="openapi")
app.add_typer(cli_retention.app, name="retention")
app.command("token")(cli_token.token)
app.add_typer(cli_topology.app, name="topology")


def main() -> None:
    app()
