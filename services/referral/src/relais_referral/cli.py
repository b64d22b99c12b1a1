"""``relais-referral keys``: the referral service's own keys (operator and demo set-up)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Annotated

import asyncpg
import typer

from relais_referral.adapters.keys import (
    ReferralKeys,
    generate_intake_key,
    generate_pre_secrets,
)
from relais_referral.config import ReferralSettings
from relais_referral.service import key_rotation

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
    tenant: Annotated[
        str, typer.Argument(help="Identifiant du PRE, ex. pre-76540.", metavar="PRE_ID")
    ],
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
    if not PRE_ID_PATTERN.match(tenant):
        raise typer.BadParameter("attendu un identifiant de PRE comme pre-76540")
    target = _target(directory)
    if generate_pre_secrets(target, tenant, rotate_store=rotate_store):
        typer.echo(f"secrets: {target / f'{tenant}.referral.json'}")
    else:
        typer.echo(f"Clés déjà présentes / keys already present for {tenant} in {target}", err=True)


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


@keys_app.command(
    "rotate",
    epilog="New data uses the new key at once; what was stored before is re-encrypted in "
    "batches while the service runs, with progress; the old key is then removed from the "
    "secrets file. Uses REFERRAL_DATABASE_URL and the secrets file (not "
    "REFERRAL_SECRETS_<PRE>). Exit status 1 if something could not be moved: the old key "
    "is kept, see the log, then --resume. Runbook: « Referral service keys ».",
)
def rotate(
    tenant: Annotated[
        str, typer.Argument(help="Identifiant du PRE, ex. pre-76540.", metavar="PRE_ID")
    ],
    store: Annotated[
        bool,
        typer.Option(
            "--store",
            help="La clé de stockage (elle chiffre les clés des enfants) / the at-rest store key.",
        ),
    ] = False,
    index: Annotated[
        bool,
        typer.Option("--index", help="La clé de l'index des doublons / the blind-index key."),
    ] = False,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Reprendre une rotation interrompue, sans nouvelle clé / finish an "
            "interrupted rotation without a new key.",
        ),
    ] = False,
    grace: Annotated[
        float,
        typer.Option(
            help="Secondes laissées aux envois en cours (les autres processus voient la "
            "nouvelle clé en 1 s au plus) / seconds for submissions under way to commit "
            "before re-encrypting (other processes see the new key within 1 s)."
        ),
    ] = 5.0,
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="Lignes par transaction.")] = 500,
    directory: DirOption = None,
) -> None:
    """Change une clé d'un PRE (rotate a PRE's key): la nouvelle sert aussitôt,
    l'existant est re-chiffré, puis l'ancienne est détruite."""
    if not (store or index):
        raise typer.BadParameter("choisissez --store et/ou --index")
    settings = ReferralSettings()
    target = _target(directory)
    report = asyncio.run(_rotate(settings, target, tenant, store, index, resume, grace, batch))
    if report.destroyed:
        typer.echo(f"anciennes clés détruites / old keys destroyed: {', '.join(report.destroyed)}")
    typer.echo(f"{report.moved} re-chiffrés en {report.seconds:.1f} s / re-encrypted")
    if not report.destroyed and report.left is not None:
        typer.echo(f"restent sous l'ancienne clé / left under the old key: {report.left}", err=True)
        raise typer.Exit(1)


async def _rotate(
    settings: ReferralSettings,
    target: Path,
    tenant: str,
    store: bool,
    index: bool,
    resume: bool,
    grace: float,
    batch: int,
) -> key_rotation.Report:
    keys = ReferralKeys(settings.keys_dir, target)
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        return await key_rotation.rotate(
            pool,
            keys,
            target,
            tenant,
            store=store,
            index=index,
            new_key=not resume,
            grace_s=grace,
            batch=batch,
            say=typer.echo,
        )
    finally:
        await pool.close()


def main() -> None:
    app()
