"""The access log: every read and change of personal data, hash-chained per PRE.

A line says who (token subject, organisation, role), when, what (record type and id, the
situation, the *groups* of fields: ``identity``, ``reasons``… never a value) and why (the
purpose of the route). :func:`record` must run inside the transaction that reads or
changes the data: if the line cannot be written the transaction fails and the caller
answers 503 ``access_log_unavailable`` instead of the data (a read is never served
unrecorded).

Chain: line ``n`` of a PRE stores ``sha256(hash(n-1) || canonical(n))`` (32 zero bytes
before the first line). The head row of the PRE is locked by the first statement
(``INSERT … ON CONFLICT DO UPDATE … RETURNING``), so concurrent writers of one PRE take
turns and other PREs do not wait. :func:`verify` recomputes every chain and compares its
end with the head: an altered, removed or inserted line, or a cut end, is reported with
its position. The table refuses UPDATE, DELETE and TRUNCATE (trigger).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import asyncpg

from relais_runtime.auth import Principal
from relais_runtime.db import Conn
from relais_runtime.errors import DomainError

__all__ = [
    "GENESIS",
    "Access",
    "AccessLogUnavailableError",
    "ChainBreak",
    "ChainReport",
    "canonical",
    "chain_hash",
    "csv_header",
    "csv_line",
    "lines",
    "record",
    "system_actor",
    "verify",
]

Action = Literal["read", "change", "export", "erase"]

GENESIS = bytes(32)

EXPORT_COLUMNS = (
    "at",
    "pre_id",
    "seq",
    "actor_sub",
    "actor_org",
    "actor_role",
    "action",
    "record_type",
    "record_id",
    "situation_id",
    "field_groups",
    "purpose",
    "hash",
)


class AccessLogUnavailableError(DomainError):
    """The line could not be written: the read or change it records is refused."""

    def __init__(self) -> None:
        super().__init__(
            "access_log_unavailable",
            "Le journal des accès ne peut pas être écrit : la consultation est refusée "
            "tant qu'elle ne peut pas être tracée. Réessayez dans un instant.",
            503,
            headers={"Retry-After": "5"},
        )


@dataclass(frozen=True, slots=True)
class Access:
    """One access to personal data (what is recorded; never the data itself)."""

    tenant: str
    actor_sub: str
    actor_org: str
    actor_role: str
    action: Action
    record_type: str
    record_id: str
    situation_id: uuid.UUID | None
    field_groups: tuple[str, ...]
    purpose: str

    @classmethod
    def by(
        cls,
        who: Principal,
        action: Action,
        record_type: str,
        record_id: object,
        *,
        situation_id: uuid.UUID | str | None,
        field_groups: Sequence[str],
        purpose: str,
    ) -> Access:
        """An access by the caller of a route, within the caller's PRE."""
        return cls(
            tenant=who.tenant,
            actor_sub=who.sub,
            actor_org=who.org,
            actor_role=",".join(sorted(who.roles)),
            action=action,
            record_type=record_type,
            record_id=str(record_id),
            situation_id=uuid.UUID(str(situation_id)) if situation_id is not None else None,
            field_groups=tuple(field_groups),
            purpose=purpose,
        )


def system_actor(service: str, tenant: str) -> Principal:
    """Relais itself acting in a PRE (a scheduled erasure): ``system:<service>``."""
    return Principal(f"system:{service}", "relais", tenant, frozenset({"system"}))


def canonical(access: Access, seq: int, at: datetime) -> bytes:
    """The bytes a line's hash covers: a JSON array in a fixed order, compact, UTF-8."""
    return json.dumps(
        [
            access.tenant,
            seq,
            at.astimezone(UTC).isoformat(),
            access.actor_sub,
            access.actor_org,
            access.actor_role,
            access.action,
            access.record_type,
            access.record_id,
            str(access.situation_id) if access.situation_id is not None else None,
            list(access.field_groups),
            access.purpose,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


def chain_hash(prev: bytes, access: Access, seq: int, at: datetime) -> bytes:
    return hashlib.sha256(prev + canonical(access, seq, at)).digest()


# Takes (and creates) the PRE's head row, locked until the transaction ends.
_TAKE_HEAD = """
INSERT INTO relais_access_log_heads (pre_id, seq, hash) VALUES ($1, 0, $2)
ON CONFLICT (pre_id) DO UPDATE SET pre_id = EXCLUDED.pre_id
RETURNING seq, hash
"""

_APPEND = """
WITH line AS (
    INSERT INTO relais_access_log (pre_id, seq, at, actor_sub, actor_org, actor_role, action,
        record_type, record_id, situation_id, field_groups, purpose, prev_hash, hash)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
)
UPDATE relais_access_log_heads SET seq = $2, hash = $14 WHERE pre_id = $1
"""


async def record(conn: Conn, *accesses: Access, now: Callable[[], datetime] | None = None) -> None:
    """Append the lines in the caller's transaction; 503 if they cannot be written."""
    if not conn.is_in_transaction():
        raise RuntimeError("audit.record needs the transaction of the access it records")
    clock = now or (lambda: datetime.now(UTC))
    try:
        for access in accesses:
            head = await conn.fetchrow(_TAKE_HEAD, access.tenant, GENESIS)
            assert head is not None
            seq = int(head["seq"]) + 1
            at = clock()
            prev = bytes(head["hash"])
            await conn.execute(
                _APPEND,
                access.tenant,
                seq,
                at,
                access.actor_sub,
                access.actor_org,
                access.actor_role,
                access.action,
                access.record_type,
                access.record_id,
                access.situation_id,
                list(access.field_groups),
                access.purpose,
                prev,
                chain_hash(prev, access, seq, at),
            )
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        raise AccessLogUnavailableError() from exc


@dataclass(frozen=True, slots=True)
class ChainBreak:
    tenant: str
    seq: int
    problem: Literal["missing", "altered", "head_mismatch"]

    def describe(self) -> str:
        what = {
            "missing": "ligne absente (supprimée) ou insérée",
            "altered": "ligne modifiée",
            "head_mismatch": "fin de chaîne coupée ou tête modifiée",
        }[self.problem]
        return f"{self.tenant} ligne {self.seq} : {what}"


@dataclass(frozen=True, slots=True)
class ChainReport:
    tenant: str
    lines: int
    head_hash: str  # hex; write it down to prove later that nothing before it changed
    broken: ChainBreak | None


def _access_of(row: asyncpg.Record) -> Access:
    return Access(
        tenant=row["pre_id"],
        actor_sub=row["actor_sub"],
        actor_org=row["actor_org"],
        actor_role=row["actor_role"],
        action=row["action"],
        record_type=row["record_type"],
        record_id=row["record_id"],
        situation_id=row["situation_id"],
        field_groups=tuple(row["field_groups"]),
        purpose=row["purpose"],
    )


async def _verify_one(conn: Conn, tenant: str) -> ChainReport:
    expected_seq, prev, count = 1, GENESIS, 0
    broken: ChainBreak | None = None
    # One snapshot for the head and the lines: a writer meanwhile is not a break.
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        head = await conn.fetchrow(
            "SELECT seq, hash FROM relais_access_log_heads WHERE pre_id = $1", tenant
        )
        cursor = conn.cursor(
            "SELECT * FROM relais_access_log WHERE pre_id = $1 ORDER BY seq", tenant, prefetch=1000
        )
        async for row in cursor:
            count += 1
            if broken is not None:
                continue
            seq = int(row["seq"])
            if seq != expected_seq or bytes(row["prev_hash"]) != prev:
                broken = ChainBreak(tenant, expected_seq, "missing")
                continue
            computed = chain_hash(prev, _access_of(row), seq, row["at"])
            if computed != bytes(row["hash"]):
                broken = ChainBreak(tenant, seq, "altered")
                continue
            prev, expected_seq = computed, seq + 1
    if broken is None and (
        head is None or int(head["seq"]) != expected_seq - 1 or bytes(head["hash"]) != prev
    ):
        broken = ChainBreak(tenant, expected_seq - 1, "head_mismatch")
    head_hex = bytes(head["hash"]).hex() if head is not None else GENESIS.hex()
    return ChainReport(tenant, count, head_hex, broken)


async def verify(conn: Conn, tenant: str | None = None) -> list[ChainReport]:
    """Recompute the chain of one PRE, or of every PRE with a line or a head."""
    if tenant is not None:
        tenants = [tenant]
    else:
        tenants = [
            r["pre_id"]
            for r in await conn.fetch(
                "SELECT pre_id FROM relais_access_log_heads UNION "
                "SELECT DISTINCT pre_id FROM relais_access_log ORDER BY 1"
            )
        ]
    return [await _verify_one(conn, p) for p in tenants]


async def lines(
    conn: Conn,
    tenant: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    situation_id: uuid.UUID | None = None,
) -> AsyncIterator[asyncpg.Record]:
    """The lines of a PRE in order, for a period [since, until) and/or one child."""
    async with conn.transaction(readonly=True):
        cursor = conn.cursor(
            "SELECT * FROM relais_access_log WHERE pre_id = $1 "
            "AND ($2::timestamptz IS NULL OR at >= $2) AND ($3::timestamptz IS NULL OR at < $3) "
            "AND ($4::uuid IS NULL OR situation_id = $4) ORDER BY seq",
            tenant,
            since,
            until,
            situation_id,
            prefetch=1000,
        )
        async for row in cursor:
            yield row


def csv_header() -> str:
    out = io.StringIO()
    csv.writer(out).writerow(EXPORT_COLUMNS)
    return out.getvalue()


def csv_line(row: asyncpg.Record) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(
        [
            row["at"].astimezone(UTC).isoformat(),
            row["pre_id"],
            row["seq"],
            row["actor_sub"],
            row["actor_org"],
            row["actor_role"],
            row["action"],
            row["record_type"],
            row["record_id"],
            row["situation_id"] or "",
            ";".join(row["field_groups"]),
            row["purpose"],
            bytes(row["hash"]).hex(),
        ]
    )
    return out.getvalue()


async def reads_of(
    conn: Conn,
    tenant: str,
    situation_id: uuid.UUID,
    *,
    exclude_roles: Sequence[str] = (),
    exclude_records: Sequence[str] = (),
    limit: int = 500,
) -> list[asyncpg.Record]:
    """The latest reads of one child's data (newest first), e.g. to show the family."""
    return await conn.fetch(
        "SELECT at, actor_org, actor_role, record_type, field_groups FROM relais_access_log "
        "WHERE pre_id = $1 AND situation_id = $2 AND action = 'read' "
        "AND NOT actor_role = ANY($3::text[]) AND NOT record_type = ANY($4::text[]) "
        "ORDER BY at DESC LIMIT $5",
        tenant,
        situation_id,
        list(exclude_roles),
        list(exclude_records),
        limit,
    )
