"""``relais keys rotate-master``: rotate a service's at-rest master key (parcours).

The master key wraps each child's data key (``subject_keys``, ``relais_runtime.vault``).
Run twice, with a restart of the service's replicas in between (they load their master
keys at start):

1. First run: a new master key file; the old one is kept beside it
   (``parcours-master.<kid>.key``). Restart the replicas: they wrap new children's keys
   with the new key and still open the others with the old one.
2. Second run: every data key still wrapped by the old master is re-wrapped by the new
   one, in batches (``FOR UPDATE SKIP LOCKED``, the service keeps serving), with
   progress; when none is left, the old key file is deleted.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import asyncpg
import typer

from relais_runtime.vault import (
    SubjectVault,
    destroy_previous_master_keys,
    load_master_key,
    load_previous_master_keys,
    rotate_master_key_file,
)

EPILOG = (
    "First run: a new master key (the old one kept beside it); restart the service's "
    "replicas. Second run: every child's data key is re-wrapped by the new key (progress "
    "printed) and the old key file is deleted. Not for a key given in the environment "
    "(PARCOURS_MASTER_KEY). Runbook: « A key has leaked »."
)

#: Services with a master key file, and where their database URL is read.
MASTER_FILES = {"parcours": ("parcours-master.key", "PARCOURS_DATABASE_URL")}


async def rewrap_all(
    pool: asyncpg.Pool,
    vault: SubjectVault,
    *,
    batch: int = 500,
    say: Callable[[str], None] = typer.echo,
) -> tuple[int, int]:
    """Re-wrap every data key not under the current master; (moved, left afterwards)."""
    async with pool.acquire() as conn:
        total = await conn.fetchval(
            "SELECT count(*) FROM subject_keys WHERE master_kid <> $1", vault.master_kid
        )
    done, after = 0, uuid.UUID(int=0)
    while True:
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT subject_id, wrapped_key, master_kid FROM subject_keys "
                "WHERE master_kid <> $1 AND subject_id > $2 ORDER BY subject_id LIMIT $3 "
                "FOR UPDATE SKIP LOCKED",
                vault.master_kid,
                after,
                batch,
            )
            if rows:
                after = rows[-1]["subject_id"]
                await conn.executemany(
                    "UPDATE subject_keys SET wrapped_key = $2, master_kid = $3 "
                    "WHERE subject_id = $1",
                    [
                        (
                            r["subject_id"],
                            vault.rewrap(r["wrapped_key"], r["subject_id"], r["master_kid"]),
                            vault.master_kid,
                        )
                        for r in rows
                    ],
                )
        done += len(rows)
        if rows:
            say(f"clés d'enfant / child keys: {done}/{total}")
        if len(rows) < batch:
            break
    async with pool.acquire() as conn:
        left: int = await conn.fetchval(
            "SELECT count(*) FROM subject_keys WHERE master_kid <> $1", vault.master_kid
        )
    return done, left


def rotate_master(
    service: Annotated[str, typer.Argument(help="Le service / the service: parcours.")],
    keys_dir: Annotated[
        Path | None,
        typer.Option("--dir", help="Dossier des clés (défaut: $RELAIS_KEYS_DIR ou var/keys)."),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(help="Base du service (défaut: PARCOURS_DATABASE_URL)."),
    ] = None,
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="Lignes par transaction.")] = 500,
) -> None:
    """Change la clé maîtresse d'un service (rotate a service's at-rest master key)."""
    if service not in MASTER_FILES:
        raise typer.BadParameter(f"services: {', '.join(MASTER_FILES)}")
    filename, url_variable = MASTER_FILES[service]
    directory = keys_dir or Path(os.environ.get("RELAIS_KEYS_DIR", "var/keys"))
    if not load_previous_master_keys(directory, filename):
        old, new = rotate_master_key_file(directory, filename)
        typer.echo(f"nouvelle clé maîtresse / new master key: {new} (ancienne / old: {old})")
        typer.echo(
            f"Redémarrez les instances de {service}, puis relancez cette commande / "
            "restart the service's replicas, then run this command again."
        )
        return
    url = database_url or os.environ.get(url_variable)
    if not url:
        raise typer.BadParameter(f"--database-url ou {url_variable}")
    started = time.perf_counter()
    moved, left = asyncio.run(_rewrap(directory, filename, url, batch))
    typer.echo(f"{moved} re-chiffrées en {time.perf_counter() - started:.1f} s / re-wrapped")
    if left:
        typer.echo(f"restent sous l'ancienne clé / left under the old key: {left}", err=True)
        raise typer.Exit(1)
    gone = destroy_previous_master_keys(directory, filename)
    typer.echo(f"anciennes clés détruites / old keys destroyed: {', '.join(gone)}")


async def _rewrap(directory: Path, filename: str, url: str, batch: int) -> tuple[int, int]:
    current = load_master_key(directory, None, create=False, filename=filename)
    vault = SubjectVault(current, previous=load_previous_master_keys(directory, filename))
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    assert pool is not None
    try:
        return await rewrap_all(pool, vault, batch=batch)
    finally:
        await pool.close()
