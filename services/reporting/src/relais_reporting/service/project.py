"""Use case: record an event in the anonymous log and fold it into its fact document."""

from __future__ import annotations

import re
import uuid
from typing import Any

from pydantic import ValidationError

from relais_contracts.catalogue import by_ce_type
from relais_reporting.adapters import store
from relais_reporting.domain import facts
from relais_reporting.domain.privacy import anonymous_data
from relais_runtime.consumer import PermanentError, Tx

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
        pre_id=event.tenant,
        subject=event.subject,
        sequence=event.sequence,
        occurred_at=event.time,
        data=data,
    )


async def record_event(tx: Tx) -> None:
    entry = logged(tx.incoming)
    if not await store.log_event(tx.conn, tx.incoming.id, entry):
        return  # already logged (and folded) under another message id's delivery
    if entry.type == facts.SUBJECT_ERASED:
        await unlink_subject(tx, entry)
        return
    target = facts.target_of(entry)
    if target is None:
        return
    doc = await store.lock_fact(tx.conn, target)
    await store.save_fact(tx.conn, target, facts.apply(doc, entry))


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
        *await store.handovers_of(tx.conn, entry.pre_id, situations),
    ]
    rewritten = await store.replace_ids(tx.conn, entry.pre_id, {o: str(uuid.uuid4()) for o in old})
    for target, doc in facts.fold_all(rewritten).items():
        await store.save_fact(tx.conn, target, doc)
