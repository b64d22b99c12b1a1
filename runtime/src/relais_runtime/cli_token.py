"""``relais token`` and ``relais keys init-jwt``: development tokens and signing keys.

The token is printed alone on stdout so ``TOKEN=$(relais token --role coordinator ...)``
works; everything else goes to stderr.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from relais_runtime.auth import (
    JWKS_FILENAME,
    SIGNING_KEY_FILENAME,
    STAFF_ROLES,
    generate_signing_key,
    mint_token,
)
from relais_runtime.logging import configure_logging
from relais_runtime.sealing import generate_pre_key
from relais_runtime.settings import RelaisSettings

PRE_ID_PATTERN = re.compile(r"^pre-[a-z0-9-]{1,59}$")

__all__ = ["keys_app", "parse_ttl", "token"]

keys_app = typer.Typer(
    help="Clés de signature des jetons (JWT signing keys).", no_args_is_help=True
)

_TTL = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_ttl(text: str) -> timedelta:
    """``90``, ``90s``, ``15m``, ``8h``, ``2d`` → a duration."""
    match = _TTL.match(text.lower())
    if not match or int(match.group(1)) == 0:
        raise typer.BadParameter(f"durée invalide / invalid duration: {text!r} (ex. 8h, 15m, 2d)")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def _default_keys_dir() -> Path:
    return RelaisSettings().jwks_path.parent


def token(
    role: Annotated[
        list[str],
        typer.Option(
            "--role",
            "-r",
            help=f"Rôle (répétable) / role (repeatable): {', '.join(sorted(STAFF_ROLES))}.",
        ),
    ],
    tenant: Annotated[
        str, typer.Option("--pre", help="PRE du porteur / the holder's PRE, ex. pre-76540.")
    ],
    org: Annotated[
        str | None, typer.Option(help="Organisation (défaut: org-dev-<pre>) / organisation.")
    ] = None,
    sub: Annotated[
        str | None, typer.Option(help="Sujet (défaut: dev-<rôle>) / subject id.")
    ] = None,
    ttl: Annotated[str, typer.Option(help="Durée de validité / lifetime: 15m, 8h, 2d.")] = "8h",
    keys_dir: Annotated[
        Path | None,
        typer.Option(help="Dossier des clés (défaut: dossier de RELAIS_JWKS_PATH) / keys dir."),
    ] = None,
) -> None:
    """Émet un jeton de développement / mint a development access token."""
    configure_logging("relais-cli", "WARNING", stream="stderr")  # stdout is the token only
    # Guardians get their token from the family space (parcours), not from this command.
    unknown = sorted(set(role) - STAFF_ROLES)
    if unknown:
        raise typer.BadParameter(
            f"rôle inconnu / unknown role: {', '.join(unknown)}", param_hint="--role"
        )
    lifetime = parse_ttl(ttl)
    settings = RelaisSettings()
    directory = keys_dir or settings.jwks_path.parent
    signing_path = directory / SIGNING_KEY_FILENAME
    if not signing_path.exists():
        paths = generate_signing_key(directory)
        typer.echo(
            f"Clé de signature créée / signing key created: {paths.private_key} "
            f"(JWKS: {paths.jwks}, kid {paths.kid})",
            err=True,
        )
    try:
        value = mint_token(
            signing_path,
            sub=sub or f"dev-{role[0]}",
            org=org or f"org-dev-{tenant}",
            tenant=tenant,
            roles=role,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl=lifetime,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(value)


@keys_app.command("init-jwt")
def init_jwt(
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Dossier des clés (défaut: dossier de RELAIS_JWKS_PATH)."),
    ] = None,
    rotate: Annotated[
        bool,
        typer.Option(
            "--rotate",
            help="Remplace la clé de signature; l'ancienne clé publique reste dans le JWKS / "
            "rotate: new signing key, previous public key kept in the JWKS.",
        ),
    ] = False,
) -> None:
    """Crée la paire de clés de signature JWT / create the JWT signing key pair."""
    configure_logging("relais-cli", "WARNING", stream="stderr")
    target = directory or _default_keys_dir()
    if (target / SIGNING_KEY_FILENAME).exists() and not rotate:
        typer.echo(
            f"Clé déjà présente / key already present: {target / SIGNING_KEY_FILENAME} "
            "(--rotate pour la remplacer / to replace it)",
            err=True,
        )
        return
    paths = generate_signing_key(target)
    typer.echo(f"private key: {paths.private_key}")
    typer.echo(f"jwks:        {target / JWKS_FILENAME}")
    typer.echo(f"kid:         {paths.kid}")


@keys_app.command("init-pre")
def init_pre(
    tenant: Annotated[
        str, typer.Argument(help="Identifiant du PRE, ex. pre-76540.", metavar="PRE_ID")
    ],
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Dossier des clés (défaut: $RELAIS_KEYS_DIR ou var/keys)."),
    ] = None,
    rotate: Annotated[
        bool, typer.Option("--rotate", help="Remplace une clé existante / replace a key.")
    ] = False,
) -> None:
    """Crée la clé de chiffrement d'un PRE (identités scellées) / create a PRE sealing key.

    The public key is read by `referral` to seal identities; the private key only by
    `parcours`. Keep the private file (mode 0600) out of every other service.
    """
    if not PRE_ID_PATTERN.match(tenant):
        raise typer.BadParameter("attendu un identifiant de PRE comme pre-76540")
    target = directory or Path(os.environ.get("RELAIS_KEYS_DIR", "var/keys"))
    if (target / f"{tenant}.private.jwk.json").exists() and not rotate:
        typer.echo(f"Clé déjà présente / key already present for {tenant} in {target}", err=True)
        return
    key = generate_pre_key(target, tenant)
    typer.echo(f"kid:    {key.kid}")
    typer.echo(f"public: {target / f'{tenant}.public.jwk.json'}")
