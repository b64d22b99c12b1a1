"""Time to rotate a PRE's keys in the referral service, over N children.

    uv run python benchmarks/key_rotation.py [--children 1 350 10000] [--batch 500] [--json]

For each N: a throw-away database with referral's migrations and a secrets directory of
its own; N children, each with one referral whose fiche rests under the child's data key
(made with the service's own code: ``relais_runtime.vault``, the blind index of
``domain/identity.py``), written in bulk; then, as ``relais-referral keys rotate`` does
(``service/key_rotation.rotate``, no grace period):
  1. ``--store``: a new store key, every child's data key re-wrapped, the old key destroyed;
  2. ``--index``: a new index key, every blind index recomputed from the child's fiche
     (opened with its key), the old key destroyed;
and, in a database with parcours's ``subject_keys`` table, the second run of ``relais keys
rotate-master parcours``: N data keys re-wrapped by a new master key.
Checked afterwards: nothing left under an old key, one fiche opened with the new keys.
Progress goes to stderr, the table (or JSON) to stdout; the database is dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from relais_referral.adapters import fiches, rotation
from relais_referral.adapters.keys import ReferralKeys, generate_pre_secrets
from relais_referral.domain.identity import blind_index
from relais_referral.service import key_rotation
from relais_runtime import cli_master_key, testing
from relais_runtime.logging import configure_logging
from relais_runtime.runtime import prepare_database
from relais_runtime.vault import SubjectVault

PRE = "pre-76540"
SCHOOL = "ecole-bench"
MIGRATIONS = Path(__file__).resolve().parents[1] / "services" / "referral" / "migrations"


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def seed(dsn: str, keys: ReferralKeys, children: int) -> None:
    vault = keys.vault(PRE)
    index_key, index_kid = keys.index_key(PRE), keys.index_kid(PRE)
    born = date(2012, 1, 1)
    now = datetime.now(UTC)
    subjects, child_keys, referrals = [], [], []
    for i in range(children):
        subject_id, referral_id = uuid.uuid4(), uuid.uuid4()
        child = {
            "first_name": f"Enfant{i}",
            "last_name": "Banc",
            "birth_date": (born + timedelta(days=i % 2000)).isoformat(),
        }
        content = {
            "child": child,
            "guardians": [{"first_name": "Parent", "last_name": "Banc", "phone": "0600000000"}],
            "referrer": {"name": "Mme Essai", "role": "directrice"},
            "reasons": {"categories": ["other"], "description": "Texte libre de la fiche."},
        }
        wrapped = vault.new_data_key(subject_id)
        fiche = vault.encrypt(
            wrapped, subject_id, {"referral_id": str(referral_id), "content": content}
        )
        index = blind_index(
            index_key,
            child["first_name"],
            child["last_name"],
            date.fromisoformat(child["birth_date"]),
        )
        subjects.append((PRE, index, subject_id, index_kid))
        child_keys.append((PRE, subject_id, wrapped, vault.master_kid))
        referrals.append(
            (referral_id, PRE, SCHOOL, subject_id, False, "received", 1, "{}", fiche, now, now)
        )
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "INSERT INTO institutions (id, pre_id, name, category) "
            "VALUES ($1, $2, 'bench', 'school')",
            SCHOOL,
            PRE,
        )
        await conn.copy_records_to_table(
            "subjects",
            records=subjects,
            columns=["pre_id", "blind_index", "subject_id", "index_kid"],
        )
        await conn.copy_records_to_table(
            "subject_keys",
            records=child_keys,
            columns=["pre_id", "subject_id", "wrapped_key", "master_kid"],
        )
        await conn.executemany(
            "INSERT INTO referrals (id, pre_id, institution_id, subject_id, known_subject, status, "
            "version, facts, fiche, submitted_at, updated_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11)",
            referrals,
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def one_size(children: int, batch: int) -> dict[str, Any]:
    name = testing.unique_name("relais_bench_rotation")
    dsn = await testing.create_database(name)
    try:
        await prepare_database(dsn, "referral", MIGRATIONS)
        with tempfile.TemporaryDirectory() as tmp:
            secrets = Path(tmp)
            generate_pre_secrets(secrets, PRE)
            keys = ReferralKeys(secrets, secrets)
            started = time.perf_counter()
            await seed(dsn, keys, children)
            progress(f"{children} children seeded in {time.perf_counter() - started:.1f} s")
            pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
            assert pool is not None
            try:
                result: dict[str, Any] = {"children": children}
                for what in ("store", "index"):
                    report = await key_rotation.rotate(
                        pool,
                        keys,
                        secrets,
                        PRE,
                        store=what == "store",
                        index=what == "index",
                        grace_s=0,
                        batch=batch,
                        say=lambda line: (
                            progress(f"  {line}") if line.endswith(("/0", "0")) else None
                        ),
                    )
                    assert report.destroyed, f"{what}: old key not destroyed ({report.left})"
                    assert report.moved == children, (what, report.moved)
                    result[what] = round(report.seconds, 2)
                    progress(f"  {what}: {report.moved} in {report.seconds:.2f} s")
                left = await rotation.left(pool, keys, PRE)
                assert (left.child_keys, left.legacy_fiches, left.indexes) == (0, 0, 0), left
                async with pool.acquire() as conn:
                    row = await conn.fetchrow(
                        f"SELECT {fiches.FICHE_COLUMNS} FROM referrals r "
                        f"{fiches.FICHE_JOIN} LIMIT 1"
                    )
                assert fiches.open_fiche(keys, PRE, row) is not None
            finally:
                await pool.close()
        result["parcours_master"] = await parcours_master(children, batch)
        return result
    finally:
        await testing.drop_database(name)


async def parcours_master(children: int, batch: int) -> float:
    """``relais keys rotate-master parcours``'s second run: N data keys re-wrapped."""
    name = testing.unique_name("relais_bench_master")
    dsn = await testing.create_database(name)
    try:
        old, new = os.urandom(32), os.urandom(32)
        before = SubjectVault(old)
        conn = await asyncpg.connect(dsn)
        try:
            # parcours's table (migration 0003_identity_at_rest.sql)
            await conn.execute(
                "CREATE TABLE subject_keys (subject_id uuid PRIMARY KEY, pre_id text NOT NULL, "
                "wrapped_key bytea NOT NULL, master_kid text NOT NULL)"
            )
            rows = []
            for _ in range(children):
                subject = uuid.uuid4()
                rows.append((subject, PRE, before.new_data_key(subject), before.master_kid))
            await conn.copy_records_to_table("subject_keys", records=rows)
        finally:
            await conn.close()
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
        assert pool is not None
        try:
            started = time.perf_counter()
            moved, left = await cli_master_key.rewrap_all(
                pool,
                SubjectVault(new, previous={before.master_kid: old}),
                batch=batch,
                say=progress,
            )
            seconds = time.perf_counter() - started
        finally:
            await pool.close()
        assert (moved, left) == (children, 0), (moved, left)
        progress(f"  parcours master: {moved} in {seconds:.2f} s")
        return round(seconds, 2)
    finally:
        await testing.drop_database(name)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--children", type=int, nargs="+", default=[1, 350, 10_000])
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    configure_logging("bench", "WARNING", stream="stderr")
    results = [await one_size(n, args.batch) for n in args.children]
    if args.json:
        print(json.dumps(results))
        return
    print("| children | store key (s) | index key (s) | parcours master key (s) |")
    print("|---|---|---|---|")
    for r in results:
        print(f"| {r['children']} | {r['store']} | {r['index']} | {r['parcours_master']} |")


if __name__ == "__main__":
    asyncio.run(main())
