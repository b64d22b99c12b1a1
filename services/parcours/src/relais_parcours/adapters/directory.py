"""SQL of the partner directory: entries, their HSDS ids, searches, the PRE's read setting."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from relais_runtime.db import Conn

ENTRY_COLUMNS = (
    "id, pre_id, name, category, description, website, email, services, locations, contacts, "
    "hsds_id, version, updated_at"
)


async def save_entry(
    conn: Conn, values: dict[str, Any], hsds_id: uuid.UUID
) -> asyncpg.Record | None:
    """Insert (version 1) or update (next version); None if the slug is another PRE's.

    An entry keeps the HSDS id it was created with (``hsds_id`` only counts at insert).
    Returns the entry's ``hsds_id`` and ``version``.
    """
    return await conn.fetchrow(
        "INSERT INTO partners (id, pre_id, name, category, description, website, email, "
        "services, locations, contacts, hsds_id) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
        "ON CONFLICT (id) DO UPDATE SET name = $3, category = $4, description = $5, "
        "website = $6, email = $7, services = $8, locations = $9, contacts = $10, "
        "version = partners.version + 1, updated_at = now() WHERE partners.pre_id = $2 "
        "RETURNING hsds_id, version",
        values["id"],
        values["pre_id"],
        values["name"],
        values["category"],
        values.get("description"),
        values.get("website"),
        values.get("email"),
        values.get("services", []),
        values.get("locations", []),
        values.get("contacts", []),
        hsds_id,
    )


async def entry(conn: Conn, tenant: str, partner_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {ENTRY_COLUMNS} FROM partners WHERE pre_id = $1 AND id = $2",  # noqa: S608 - constant
        tenant,
        partner_id,
    )


async def entry_by_hsds_id(conn: Conn, tenant: str, hsds_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {ENTRY_COLUMNS} FROM partners WHERE pre_id = $1 AND hsds_id = $2",  # noqa: S608 - constant
        tenant,
        hsds_id,
    )


async def slug_taken(conn: Conn, partner_id: str) -> bool:
    """Whether any PRE uses this partner id (ids are one namespace across PREs; the SQL
    function answers that bit past row-level security, migration 0020)."""
    taken: bool = await conn.fetchval("SELECT partner_id_taken($1)", partner_id)
    return taken


#: The words of an entry a search looks into: its name, description and the texts of its
#: services and places (JSON values only, not their keys).
_TEXT = (
    "concat_ws(' ', name, description, "
    "jsonb_path_query_array(services, 'strict $.** ? (@.type() == \"string\")')::text, "
    "jsonb_path_query_array(locations, 'strict $.** ? (@.type() == \"string\")')::text)"
)


async def entries(
    conn: Conn,
    tenant: str,
    *,
    search: str | None = None,
    categories: list[str] | None = None,
    modified_after: datetime | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[list[asyncpg.Record], int]:
    """The PRE's entries by name, filtered, one page of them and how many match in all.

    ``search`` matches words of the name, description and the services' and places'
    texts (every word, case and accents as typed); ``categories`` None: any.
    """
    rows = await conn.fetch(
        f"SELECT {ENTRY_COLUMNS}, count(*) OVER () AS total FROM partners "  # noqa: S608 - constant
        "WHERE pre_id = $1 AND ($2::text[] IS NULL OR category = ANY($2)) "
        "AND ($3::timestamptz IS NULL OR updated_at >= $3) "
        f"AND ($4::text[] IS NULL OR (SELECT bool_and({_TEXT} ILIKE '%' || w || '%') "
        "FROM unnest($4) AS w)) "
        "ORDER BY name, id LIMIT $5 OFFSET $6",
        tenant,
        categories,
        modified_after,
        _words(search),
        limit,
        offset,
    )
    if not rows and offset > 0:
        _, total = await entries(
            conn,
            tenant,
            search=search,
            categories=categories,
            modified_after=modified_after,
            limit=1,
        )
        return [], total
    return list(rows), rows[0]["total"] if rows else 0


def _words(search: str | None) -> list[str] | None:
    if search is None:
        return None
    # LIKE's own wildcards are searched as characters.
    words = [
        w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for w in search.split()
    ]
    return words or None


async def hsds_read(conn: Conn, tenant: str) -> str:
    """Who may read the PRE's directory through the HSDS API: ``members`` or ``public``."""
    value: str | None = await conn.fetchval(
        "SELECT hsds_read FROM directory_settings WHERE pre_id = $1", tenant
    )
    return value or "members"


async def set_hsds_read(conn: Conn, tenant: str, value: str) -> None:
    await conn.execute(
        "INSERT INTO directory_settings (pre_id, hsds_read) VALUES ($1, $2) "
        "ON CONFLICT (pre_id) DO UPDATE SET hsds_read = $2, updated_at = now()",
        tenant,
        value,
    )


# --- partners' own changes, awaiting a coordinator --------------------------------------------

CHANGE_COLUMNS = (
    "id, pre_id, partner_id, proposed, parts, base_version, status, proposed_by, proposed_at, "
    "decided_by, decided_at, reason"
)


async def entry_for_update(conn: Conn, tenant: str, partner_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {ENTRY_COLUMNS} FROM partners WHERE pre_id = $1 AND id = $2 FOR UPDATE",  # noqa: S608 - constant
        tenant,
        partner_id,
    )


async def pending_change(conn: Conn, tenant: str, partner_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {CHANGE_COLUMNS} FROM directory_changes "  # noqa: S608 - constant
        "WHERE pre_id = $1 AND partner_id = $2 AND status = 'pending'",
        tenant,
        partner_id,
    )


async def add_change(conn: Conn, values: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO directory_changes (id, pre_id, partner_id, proposed, parts, base_version, "
        "status, proposed_by, proposed_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8)",
        values["id"],
        values["pre_id"],
        values["partner_id"],
        values["proposed"],
        values["parts"],
        values["base_version"],
        values["proposed_by"],
        values["proposed_at"],
    )


async def change(conn: Conn, tenant: str, change_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {CHANGE_COLUMNS} FROM directory_changes WHERE pre_id = $1 AND id = $2",  # noqa: S608 - constant
        tenant,
        change_id,
    )


async def change_for_update(conn: Conn, tenant: str, change_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {CHANGE_COLUMNS} FROM directory_changes "  # noqa: S608 - constant
        "WHERE pre_id = $1 AND id = $2 FOR UPDATE",
        tenant,
        change_id,
    )


async def decide_change(
    conn: Conn,
    tenant: str,
    change_id: uuid.UUID,
    status: str,
    decided_by: str,
    decided_at: datetime,
    reason: str | None = None,
) -> None:
    await conn.execute(
        "UPDATE directory_changes SET status = $2, decided_by = $3, decided_at = $4, "
        "reason = $5 WHERE pre_id = $6 AND id = $1",
        change_id,
        status,
        decided_by,
        decided_at,
        reason,
        tenant,
    )


async def changes(
    conn: Conn,
    tenant: str,
    *,
    status: str | None,
    partner_id: str | None,
    limit: int,
    offset: int,
) -> list[asyncpg.Record]:
    """The PRE's changes, oldest waiting first (the order a coordinator handles them)."""
    return await conn.fetch(
        f"SELECT {CHANGE_COLUMNS} FROM directory_changes WHERE pre_id = $1 "  # noqa: S608 - constant
        "AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR partner_id = $3) "
        "ORDER BY proposed_at, id LIMIT $4 OFFSET $5",
        tenant,
        status,
        partner_id,
        limit,
        offset,
    )


async def all_entries(conn: Conn, tenant: str) -> list[asyncpg.Record]:
    """The PRE's whole directory, by name."""
    rows, _ = await entries(conn, tenant, limit=None, offset=0)
    return rows
