"""Retention: a child's data is erased when the PRE's period after its last contact ends.

The rule (CNIL, délibération 2021-028 and its 2023 update): two years after the last
contact with the family, configurable per PRE (``RELAIS_RETENTION_MONTHS``,
``RELAIS_RETENTION_MONTHS_BY_PRE``, shared by every service so they agree). Each service
that holds a child's data defines the SQL view ``relais_retention_candidates`` (one row per
thing to erase: ``pre_id``, ``record_type``, ``record_id``, ``last_contact_at``) in its own
migrations, and erases a due row by the same use case as a manual erasure, from its
scheduled loop. :func:`due` is that query for the loop and for ``relais retention report``
(what falls due in the next days, a dry run). Rows leave the view once erased, so a
restart finds only what is left and nothing is erased twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg

from relais_runtime.db import Conn
from relais_runtime.settings import RelaisSettings

__all__ = ["DEFAULT_MONTHS", "Due", "RetentionPolicy", "due"]

DEFAULT_MONTHS = 24


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    default_months: int = DEFAULT_MONTHS
    by_tenant: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, settings: RelaisSettings) -> RetentionPolicy:
        return cls(settings.retention_months, dict(settings.retention_months_by_pre))

    def months(self, tenant: str) -> int:
        return self.by_tenant.get(tenant, self.default_months)


@dataclass(frozen=True, slots=True)
class Due:
    tenant: str
    record_type: str
    record_id: str
    last_contact_at: datetime
    due_at: datetime


# PostgreSQL adds months by the calendar (31 March + 1 month = 30 April).
_DUE = """
SELECT c.pre_id, c.record_type, c.record_id, c.last_contact_at,
       c.last_contact_at + make_interval(months => COALESCE(p.months, $1)) AS due_at
FROM relais_retention_candidates c
LEFT JOIN unnest($2::text[], $3::int[]) AS p(pre_id, months) ON p.pre_id = c.pre_id
WHERE c.last_contact_at + make_interval(months => COALESCE(p.months, $1)) <= $4
  AND ($5::text IS NULL OR c.pre_id = $5)
  AND ($7::text IS NULL OR c.record_id = $7)
ORDER BY due_at, c.record_id
LIMIT $6
"""


async def due(
    conn: Conn,
    policy: RetentionPolicy,
    now: datetime,
    *,
    within: timedelta = timedelta(0),
    tenant: str | None = None,
    record_id: str | None = None,
    limit: int = 10_000,
) -> list[Due]:
    """What is due at ``now`` (``within=0``), or will be within that time (the report)."""
    tenants = sorted(policy.by_tenant)
    rows: list[asyncpg.Record] = await conn.fetch(
        _DUE,
        policy.default_months,
        tenants,
        [policy.by_tenant[p] for p in tenants],
        now + within,
        tenant,
        limit,
        record_id,
    )
    return [
        Due(r["pre_id"], r["record_type"], str(r["record_id"]), r["last_contact_at"], r["due_at"])
        for r in rows
    ]
