"""What people write about a child, kept under the child's own key (crypto-erasure).

A review note, a caseload override reason, a référent's message to a partner, a plan's
titles, the closure's reason in words, a consent's sole-guardian reason and witness, a
family's request and the coordinator's answer name the child's situation in words;
stored in clear it survived the erasure (issue 15). Encrypted with the child's data key
(``adapters/vault.py``), it is gone, old row versions and backups included, when the
erasure deletes the key. Reads give ``None`` once the key is gone.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from relais_parcours.adapters.vault import IdentityUnreadableError
from relais_parcours.context import Parcours
from relais_parcours.service.ports import Stores, Uows


async def child_key_in(uow: Stores, ctx: Parcours, tenant: str, subject_id: uuid.UUID) -> bytes:
    """The child's wrapped data key, created on first use."""
    wrapped = await uow.situations.subject_key(tenant, subject_id)
    if wrapped is None:
        wrapped = ctx.vault.new_data_key(subject_id)
        await uow.situations.add_subject_key(tenant, subject_id, wrapped, ctx.vault.master_kid)
    return wrapped


async def seal_in(
    uow: Stores, ctx: Parcours, tenant: str, subject_id: uuid.UUID, text: str | None
) -> bytes | None:
    """``seal`` through a unit of work's stores."""
    if text is None:
        return None
    wrapped = await child_key_in(uow, ctx, tenant, subject_id)
    return ctx.vault.encrypt(wrapped, subject_id, {"text": text})


def unseal(
    ctx: Parcours, wrapped_key: bytes | None, subject_id: uuid.UUID, blob: bytes | None
) -> str | None:
    if blob is None or wrapped_key is None:
        return None
    try:
        text: str = ctx.vault.decrypt(wrapped_key, subject_id, blob)["text"]
    except IdentityUnreadableError:
        return None
    return text


#: A consent's texts in words (sealed in ``<column>_enc``).
CONSENT_TEXTS = ("sole_guardian_reason", "witness")

#: What an erased child's plan shows in place of its titles.
ERASED = "[effacé]"


@dataclass(frozen=True)
class Texts:
    """Opens the texts written about one child: ``texts.text(row, "title")`` is the clear
    text of ``row["title_enc"]``, or ``row["title"]`` for a row not moved under the key
    yet (and for an erased child's placeholder)."""

    ctx: Parcours
    subject_id: uuid.UUID
    wrapped_key: bytes | None

    def text(self, row: Any, column: str) -> str | None:
        sealed = row[f"{column}_enc"]
        if sealed is None:
            clear: str | None = row[column]
            return clear
        return unseal(self.ctx, self.wrapped_key, self.subject_id, sealed)

    def titled(self, rows: Iterable[Any]) -> list[dict[str, Any]]:
        """Plan rows (objectives, actions) as dicts, their ``title`` opened (a placeholder
        once the child is erased)."""
        return [{**dict(row), "title": self.text(row, "title") or ERASED} for row in rows]


async def texts_in(uow: Stores, ctx: Parcours, tenant: str, subject_id: uuid.UUID) -> Texts:
    """What opens the texts about this child (nothing, once its key is deleted)."""
    return Texts(ctx, subject_id, await uow.situations.subject_key(tenant, subject_id))


async def with_texts_in(
    uow: Stores, ctx: Parcours, tenant: str, rows: Iterable[Any], columns: Sequence[str]
) -> list[dict[str, Any]]:
    """Rows of several children (``subject_id``, ``<column>[_enc]``) as dicts, each column
    opened with its own child's key (``None`` once erased); the ``_enc`` twins left out."""
    by_child: dict[uuid.UUID, Texts] = {}
    opened = []
    for row in rows:
        subject_id = row["subject_id"]
        if subject_id not in by_child:
            by_child[subject_id] = await texts_in(uow, ctx, tenant, subject_id)
        texts = by_child[subject_id]
        plain = {k: v for k, v in dict(row).items() if not k.endswith("_enc")}
        opened.append(plain | {column: texts.text(row, column) for column in columns})
    return opened


async def with_action_titles(
    uow: Stores, ctx: Parcours, tenant: str, rows: Iterable[Any]
) -> list[dict[str, Any]]:
    """Handover rows (``subject_id``, ``action_title[_enc]``), the action's title opened
    with its own child's key."""
    return await with_texts_in(uow, ctx, tenant, rows, ("action_title",))


# Rows written before migrations 0017, 0021, 0023 and 0024 hold the text in clear: (table,
# clear, encrypted, the column naming the row's situation).
_CLEAR_COLUMNS = (
    ("review_decisions", "note", "note_enc", "situation_id"),
    ("referent_assignments", "override_reason", "override_reason_enc", "situation_id"),
    ("handovers", "message", "message_enc", "situation_id"),  # before 0021
    ("plan_objectives", "title", "title_enc", "situation_id"),  # before 0023
    ("plan_actions", "title", "title_enc", "situation_id"),
    ("situations", "exit_reason_text", "exit_reason_text_enc", "id"),  # before 0024
    ("consents", "sole_guardian_reason", "sole_guardian_reason_enc", "situation_id"),
    ("consents", "witness", "witness_enc", "situation_id"),
    ("family_requests", "details", "details_enc", "situation_id"),
    ("family_requests", "answer", "answer_enc", "situation_id"),
)


async def seal_clear_texts(sweeps: Uows, ctx: Parcours, batch: int = 200) -> int:
    """Move up to ``batch`` clear texts of each table under their child's key; how many
    (``sweeps``: units across PREs, ``ctx.units.sweep()``)."""
    moved = 0
    async with sweeps() as uow:
        for table, clear, sealed, situation in _CLEAR_COLUMNS:
            # Children erased before the erasure cleared these: clear them now, no new key.
            await uow.conn.execute(
                f"UPDATE {table} t SET {clear} = NULL FROM situations s "  # noqa: S608 - constant names
                f"WHERE s.id = t.{situation} AND s.erased_at IS NOT NULL "
                f"AND t.{clear} IS NOT NULL"
            )
            rows = await uow.conn.fetch(
                f"SELECT t.id, t.{clear} AS text, s.pre_id, s.subject_id FROM {table} t "  # noqa: S608 - constant names
                f"JOIN situations s ON s.id = t.{situation} "
                f"WHERE t.{clear} IS NOT NULL AND t.{sealed} IS NULL AND s.erased_at IS NULL "
                f"LIMIT $1 FOR UPDATE OF t SKIP LOCKED",
                batch,
            )
            for row in rows:
                blob = await seal_in(uow, ctx, row["pre_id"], row["subject_id"], row["text"])
                await uow.conn.execute(
                    f"UPDATE {table} SET {sealed} = $2, {clear} = NULL WHERE id = $1",  # noqa: S608
                    row["id"],
                    blob,
                )
            moved += len(rows)
    return moved
