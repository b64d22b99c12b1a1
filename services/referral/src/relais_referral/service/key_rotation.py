"""Use case: rotate a PRE's store key or blind-index key (issue 15, item 4).

1. The new key goes first in the PRE's secrets file: every replica uses it for new data
   from its next request (the file is re-read when it changes).
2. A grace period lets submissions already under way with the old key commit.
3. What rests under the old key is re-encrypted in batches, with progress.
4. When nothing is left under it, the old key is destroyed (removed from the file).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from relais_referral.adapters import fiches, rotation
from relais_referral.adapters.keys import (
    ReferralKeys,
    drop_old_keys,
    generate_pre_secrets,
    rotate_index_key,
)


@dataclass
class Report:
    moved: int = 0
    left: rotation.Left | None = None
    destroyed: list[str] = field(default_factory=list)
    seconds: float = 0.0


async def rotate(
    pool: asyncpg.Pool,
    keys: ReferralKeys,
    secrets_dir: Path,
    tenant: str,
    *,
    store: bool,
    index: bool,
    new_key: bool = True,
    grace_s: float = 5.0,
    batch: int = 500,
    say: Callable[[str], None] = lambda _line: None,
) -> Report:
    """Rotate (``new_key``) or finish rotating (after an interruption) a PRE's keys."""
    report = Report()
    started = time.perf_counter()
    if new_key:
        if store:
            generate_pre_secrets(secrets_dir, tenant, rotate_store=True)
            say(f"nouvelle clé de stockage / new store key: {keys.vault(tenant).master_kid}")
        if index:
            say(f"nouvelle clé d'index / new index key: {rotate_index_key(secrets_dir, tenant)}")
        await asyncio.sleep(grace_s)

    def progress(label: str) -> rotation.Progress:
        return lambda done, total: say(f"{label}: {done}/{total}")

    for _attempt in range(3):  # rows a replica held (SKIP LOCKED) are taken on the next pass
        if store:
            report.moved += await fiches.move_under_child_keys(pool, keys, batch=batch)
            report.moved += await rotation.rewrap_child_keys(
                pool, keys, tenant, batch=batch, progress=progress("clés d'enfant / child keys")
            )
        if index:
            report.moved += await rotation.reindex_subjects(
                pool, keys, tenant, batch=batch, progress=progress("index / blind indexes")
            )
        report.left = await rotation.left(pool, keys, tenant)
        if (not store or report.left.store_done) and (not index or report.left.indexes == 0):
            report.destroyed = drop_old_keys(secrets_dir, tenant, store=store, index=index)
            break
    report.seconds = time.perf_counter() - started
    return report
