"""A plain-SQL migrations runner.

A service keeps ``migrations/NNNN_name.sql`` files (``0001_init.sql``, ``0002_...``),
numbered from 1 without gaps. :func:`migrate` applies the new ones in order, each in its
own transaction together with its row in ``schema_migrations`` (scope, version, name,
sha256 checksum, applied_at), so a failure leaves the database at the previous version.

``scope`` lets several independent series share one database, each numbered from 0001:
the runtime's own tables (outbox, inbox) under ``"runtime"``, the service's under its
name. When not given it is derived from the directory: ``services/parcours/migrations``
→ ``"parcours"`` (the parent's name when the directory is called ``migrations``).

Applied files are immutable: if one was edited, renamed or deleted the runner refuses to
run and names the file; fix it by adding a new migration, never by editing an old one.

Several replicas may start at once: the whole run holds a session advisory lock
(``pg_advisory_lock(hashtext(lock_key))``); the second replica waits, then finds nothing
left to apply. Statements that cannot run in a transaction (``CREATE INDEX
CONCURRENTLY``) are not supported.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg

from relais_runtime.logging import get_logger

__all__ = [
    "MigrationError",
    "MigrationFile",
    "default_scope",
    "ensure_database",
    "migrate",
    "read_migrations",
]

log = get_logger(__name__)

_FILENAME = re.compile(r"^(\d{4})_([a-z0-9][a-z0-9_]*)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    scope      text        NOT NULL,
    version    integer     NOT NULL,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, version)
)
"""


class MigrationError(RuntimeError):
    """The migrations directory or the database history is inconsistent, or a file failed."""


@dataclass(frozen=True, slots=True)
class MigrationFile:
    version: int
    name: str  # the file name, e.g. "0001_init.sql"
    path: Path
    sql: str
    checksum: str


def _checksum(raw: bytes) -> str:
    # Line endings normalised: a Windows checkout must not look like an edited file.
    return hashlib.sha256(raw.replace(b"\r\n", b"\n")).hexdigest()


def read_migrations(directory: Path) -> list[MigrationFile]:
    """Read and check ``directory``: names ``NNNN_name.sql``, numbered 1..N, no duplicate."""
    directory = Path(directory)
    if not directory.is_dir():
        raise MigrationError(f"migrations directory not found: {directory}")
    files: dict[int, MigrationFile] = {}
    for path in sorted(directory.iterdir()):
        if path.suffix != ".sql":
            continue  # README and the like
        match = _FILENAME.match(path.name)
        if not match:
            raise MigrationError(
                f"{path.name}: migration files must be named NNNN_name.sql "
                "(4 digits, lower-case letters, digits and underscores)"
            )
        version = int(match.group(1))
        if version in files:
            raise MigrationError(
                f"{path.name}: version {version:04d} is also used by {files[version].name}"
            )
        raw = path.read_bytes()
        files[version] = MigrationFile(
            version=version,
            name=path.name,
            path=path,
            sql=raw.decode("utf-8"),
            checksum=_checksum(raw),
        )
    ordered = [files[v] for v in sorted(files)]
    for expected, migration in enumerate(ordered, start=1):
        if migration.version != expected:
            raise MigrationError(
                f"{migration.name}: numbering gap, expected version {expected:04d} before it"
            )
    return ordered


def _check_history(files: list[MigrationFile], applied: list[asyncpg.Record]) -> None:
    by_version = {f.version: f for f in files}
    for row in applied:
        version, name, checksum = row["version"], row["name"], row["checksum"]
        current = by_version.get(version)
        if current is None:
            raise MigrationError(
                f"{name}: applied to the database (version {version:04d}) but missing from "
                "the migrations directory; is this an older release?"
            )
        if current.name != name:
            raise MigrationError(
                f"{current.name}: version {version:04d} was applied as {name}; "
                "applied migrations must not be renamed"
            )
        if current.checksum != checksum:
            raise MigrationError(
                f"{current.name}: changed since it was applied (checksum mismatch); "
                "applied migrations are immutable, add a new one instead"
            )


def default_scope(directory: Path) -> str:
    """``services/parcours/migrations`` → ``parcours``; ``.../schema`` → ``schema``.

    An installed service keeps them in ``relais_parcours/migrations``: same scope.
    """
    path = Path(directory).resolve()
    name = path.parent.name if path.name == "migrations" else path.name
    return name.removeprefix("relais_")


async def migrate(
    dsn: str, directory: Path, *, lock_key: str, scope: str | None = None
) -> list[str]:
    """Apply pending migrations from ``directory``; return the names applied, in order.

    ``lock_key`` names the advisory lock (one per service, e.g. ``"relais:parcours"``);
    every replica must use the same key. ``scope`` names the series of ``directory``.
    """
    scope = scope or default_scope(directory)
    files = read_migrations(directory)
    applied_now: list[str] = []
    conn = await asyncpg.connect(dsn)
    try:
        # Session-level lock: held across the per-file transactions, released below or
        # by PostgreSQL if this process dies.
        await conn.execute("SELECT pg_advisory_lock(hashtext($1))", lock_key)
        try:
            await conn.execute(_CREATE_TABLE)
            applied = await conn.fetch(
                "SELECT version, name, checksum FROM schema_migrations "
                "WHERE scope = $1 ORDER BY version",
                scope,
            )
            _check_history(files, applied)
            done = {row["version"] for row in applied}
            for migration in files:
                if migration.version in done:
                    continue
                log.info("applying migration", scope=scope, migration=migration.name)
                try:
                    async with conn.transaction():
                        await conn.execute(migration.sql)
                        await conn.execute(
                            "INSERT INTO schema_migrations (scope, version, name, checksum) "
                            "VALUES ($1, $2, $3, $4)",
                            scope,
                            migration.version,
                            migration.name,
                            migration.checksum,
                        )
                except asyncpg.PostgresError as exc:
                    raise MigrationError(
                        f"{migration.name}: failed and was rolled back: {type(exc).__name__}: {exc}"
                    ) from exc
                applied_now.append(migration.name)
        finally:
            if not conn.is_closed():
                await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", lock_key)
    finally:
        await conn.close()
    log.info(
        "migrations done",
        scope=scope,
        applied=applied_now,
        version=files[-1].version if files else 0,
        directory=str(directory),
    )
    return applied_now


def _database_name(dsn: str) -> tuple[str, str]:
    """Return (database name, DSN of the ``postgres`` database on the same server)."""
    parts = urlsplit(dsn)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ValueError("ensure_database needs a postgresql:// URL")
    name = unquote(parts.path.lstrip("/")) or unquote(parts.username or "") or "postgres"
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, parts.fragment))
    return name, admin


async def ensure_database(dsn: str) -> bool:
    """Create the database named in ``dsn`` if it does not exist; True if created.

    Tries the database itself first, so a role that may reach only its own database
    starts; when it is missing, connects to the ``postgres`` database of the same server
    with the same credentials, which then need the CREATEDB privilege.
    """
    name, admin_dsn = _database_name(dsn)
    try:
        own = await asyncpg.connect(dsn)
    except asyncpg.InvalidCatalogNameError:
        pass
    else:
        await own.close()
        return False
    conn = await asyncpg.connect(admin_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return False
        quoted = '"' + name.replace('"', '""') + '"'
        try:
            await conn.execute(f"CREATE DATABASE {quoted}")
        except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
            return False  # another replica created it between our check and now
        log.info("database created", database=name)
        return True
    finally:
        await conn.close()
