"""``relais-referral keys``: the referral service's own keys (operator and demo set-up)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from relais_referral.adapters.keys import generate_intake_key, generate_pre_secrets
from relais_referral.config import ReferralSettings

PRE_ID_PATTERN = re.compile(r"^pre-[a-z0-9-]{1,59}$")

app = typer.Typer(
    name="relais-referral",
    help="Outils du service d'orientation (referral service tools).",
    no_args_is_help=True,
    add_completion=False,
)
keys_app = typer.Typer(help="Clés propres au service d'orientation.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")

DirOption = Annotated[
    Path | None,
    typer.Option(
        "--dir", help="Dossier des secrets (défaut: REFERRAL_SECRETS_DIR ou <keys_dir>/referral)."
    ),
]


def _target(directory: Path | None) -> Path:
    return directory or ReferralSettings().effective_secrets_dir


@keys_app.command("init-pre")
def init_pre(
    pre_id: Annotated[str, typer.Argument(help="Identifiant du PRE, ex. pre-76540.")],
    directory: DirOption = None,
    rotate_store: Annotated[
        bool,
        typer.Option(
            "--rotate-store",
            help="Ajoute une nouvelle clé de stockage (les anciennes restent pour relire) / "
            "add a new at-rest key, older ones kept.",
        ),
    ] = False,
) -> None:
    """Crée les clés de stockage et d'index d'un PRE / create a PRE's store and index keys."""
    if not PRE_ID_PATTERN.match(pre_id):
        raise typer.BadParameter("attendu un identifiant de PRE comme pre-76540")
    target = _target(directory)
    if generate_pre_secrets(target, pre_id, rotate_store=rotate_store):
        typer.echo(f"secrets: {target / f'{pre_id}.referral.json'}")
    else:
        typer.echo(f"Clés déjà présentes / keys already present for {pre_id} in {target}", err=True)


@keys_app.command("init-intake")
def init_intake(
    directory: DirOption = None,
    rotate: Annotated[
        bool, typer.Option("--rotate", help="Nouvelle clé; l'ancienne reste pour déchiffrer.")
    ] = False,
) -> None:
    """Crée la clé de réception AMQP (referral.submit) / create the AMQP intake key."""
    target = _target(directory)
    key = generate_intake_key(target, rotate=rotate)
    if key is None:
        typer.echo(f"Clé déjà présente / key already present in {target}", err=True)
        return
    typer.echo(f"kid: {key.kid}")


def main() -> None:
    app()
