"""Use case: record an event in the anonymous log and fold it into its fact document."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from relais_contracts.catalogue import by_ce_type
from relais_reporting.adapters import store
from relais_reporting.domain import facts
from relais_reporting.domain.privacy import anonymous_data
from relais_runtime.consumer import PermanentError, Tx
from relais_runtime.db import Conn

#: What a compatible (minor) change of a v1 contract makes a strict model refuse
#: (docs/decisions/0002): a new optional field (``extra_forbidden``) and a new code
#: (``enum``: counted under « Autre », docs/decisions/0005). Reporting reads past both.
TOLERATED_ERRORS = frozenset({"extra_forbidden", "enum"})
_PATH_WORD = re.compile(r"[^A-Za-z0-9_-]")


def tolerant_data(type_: str, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` of a type reporting reads, checked against its contract model (tolerant reader).

    Errors a minor version causes are ignored, and fields the model does not know are
    dropped: nobody vetted them for the log. Any other error raises a ``PermanentError``
    (``schema_violation``, parked at once) naming the fields, never their values.
    """
    try:
        by_ce_type(type_).model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        fields = [_code(e["loc"], e["type"]) for e in errors if e["type"] not in TOLERATED_ERRORS]
        if fields:
            # ``from None``: pydantic's own message would carry the values.
            detail = "; ".join(fields[:20])
            raise PermanentError("schema_violation", detail, fields=fields[:50]) from None
        for unknown in (e["loc"] for e in errors if e["type"] == "extra_forbidden"):
            data = _without(data, unknown)
    return data


def _code(loc: tuple[int | str, ...], error: str) -> str:
    """``data.facts.sex:enum``: where and what, never the value."""
    return "data." + ".".join(_PATH_WORD.sub("", str(p)) for p in loc) + ":" + error


def _without(value: Any, loc: tuple[int | str, ...]) -> Any:
    """A copy of ``value`` without the field at ``loc`` (unchanged if it is not there)."""
    if not loc:
        return value
    head, rest = loc[0], loc[1:]
    if isinstance(value, dict) and head in value:
        if not rest:
            return {k: v for k, v in value.items() if k != head}
        return {**value, head: _without(value[head], rest)}
    if isinstance(value, list) and isinstance(head, int) and 0 <= head < len(value):
        return [_without(v, rest) if i == head else v for i, v in enumerate(value)]
    return value


def logged(event: Any) -> facts.LoggedEvent:
    """The event as the log keeps it: a type reporting does not read keeps no payload.

    A payload as received (a dict) is checked first (``tolerant_data``); one built from
    its model (the demo) already is.
    """
    data: dict[str, Any] = {}
    if event.type in facts.READ_TYPES:
        if isinstance(event.data, dict):
            raw = tolerant_data(event.type, event.data)
        else:
            raw = event.data.model_dump(mode="json")
        data = anonymous_data(raw)
    return facts.LoggedEvent(
        type=event.type,
        tenant=event.tenant,
        subject=event.subject,
        sequence=event.sequence,
        occurred_at=event.time,
        data=data,
    )


async def record_event(tx: Tx) -> None:
    """Log one event and fold it into its fact document (``record_events`` of one)."""
    await record_events([tx])


async def record_events(txs: Sequence[Tx]) -> None:
    """Log events and fold them into their fact documents, in their order, in one
    transaction (the consumer's batch, docs/decisions/0021).

    Each run of events between erasures is logged in one statement and every document it
    touches is read, folded and written once; an erasure is applied where it stands, as
    if the events came one by one. A payload a contract refuses raises before any write.
    """
    entries = [(tx.incoming.id, logged(tx.incoming), tx) for tx in txs]
    runs: list[list[tuple[Any, facts.LoggedEvent, Tx]]] = []
    for item in entries:
        erasure = item[1].type == facts.SUBJECT_ERASED
        if erasure or not runs or runs[-1][-1][1].type == facts.SUBJECT_ERASED:
            runs.append([])
        runs[-1].append(item)
    for run in runs:
        conn = run[0][2].conn
        new_ids = await store.log_events(conn, [(i, e) for i, e, _ in run])
        fresh: list[tuple[facts.LoggedEvent, Tx]] = []
        for event_id, entry, tx in run:
            if event_id in new_ids:  # else already logged (and folded) by another delivery
                new_ids.discard(event_id)  # the same event twice in the run: once
                fresh.append((entry, tx))
        if run[0][1].type == facts.SUBJECT_ERASED:
            for entry, tx in fresh:
                await unlink_subject(tx, entry)
        else:
            await _fold(conn, [entry for entry, _ in fresh])


async def _fold(conn: Conn, entries: Sequence[facts.LoggedEvent]) -> None:
    targeted = [(t, e) for e in entries if (t := facts.target_of(e)) is not None]
    if not targeted:
        return
    docs = await store.lock_facts(conn, [t for t, _ in targeted])
    for target, entry in targeted:
        facts.apply(docs.setdefault(target, {}), entry)
    await store.save_facts(conn, docs)


async def unlink_subject(tx: Tx, entry: facts.LoggedEvent) -> None:
    """A child's records were erased upstream: give its pseudonymous ids fresh random ones.

    The facts stay (figures do not change, past answers stay true), but nothing in
    reporting can be joined any more to an id another service once held for the child:
    subject, situations, referrals and their handovers all get new random ids, in the log
    and in the documents alike, so a rebuild still gives the live figures.
    """
    data = entry.data
    situations = [str(s) for s in data.get("situation_ids", [])]
    old = [
        str(data["subject_id"]),
        *situations,
        *(str(r) for r in data.get("referral_ids", [])),
        *await store.handovers_of(tx.conn, entry.tenant, situations),
    ]
    rewritten = await store.replace_ids(tx.conn, entry.tenant, {o: str(uuid.uuid4()) for o in old})
    await store.save_facts(tx.conn, facts.fold_all(rewritten))
