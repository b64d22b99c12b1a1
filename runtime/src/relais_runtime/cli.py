"""The ``relais`` operator command. Each sub-command lives in its own ``cli_*`` module."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="relais",
    help="Outils d'exploitation de Relais (operator tools): files parkées, jetons de dev, "
    "migrations, topologie.",
    no_args_is_help=True,
    add_completion=False,
)

# Sub-commands register here, one line each (keep alphabetical).


def main() -> None:
    app()
