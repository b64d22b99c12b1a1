"""The transactions of parcours: each scoped to one PRE, or an explicit sweep across PREs.

Row-level security (migration 0020, ADR 0018) lets a transaction see and change the rows of
the PRE it is scoped to, and nothing when it is scoped to none. A sweep runs as the role
whose policy lets it through every PRE: only schedulers and lookups that cannot know the
PRE beforehand (a guardian's letter found by its secret link) use it.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from relais_parcours.context import Parcours
from relais_runtime import db
from relais_runtime.db import Conn
from relais_runtime.runtime import ServiceRuntime


def scoped(runtime: ServiceRuntime, tenant: str) -> AbstractAsyncContextManager[Conn]:
    """A transaction that sees the rows of ``tenant`` only."""
    return db.tenant_transaction(runtime.pool, tenant)


def sweep(runtime: ServiceRuntime, ctx: Parcours) -> AbstractAsyncContextManager[Conn]:
    """A transaction across every PRE, as the sweep role."""
    return db.role_transaction(runtime.pool, ctx.settings.db_sweep_role)
