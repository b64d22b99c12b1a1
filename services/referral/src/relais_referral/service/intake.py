"""Use case: a referral arriving as a ``referral.submit`` command on ``relais.intake``.

The command carries the non-identifying facts in clear and the identity sealed to this
service's intake key. Once opened, facts and identity make the domain's ``ReferralRequest``
(the fiche and its rules, ``domain/content.py``), which goes through the same use case as
one sent over HTTP, in the consumer's unit of work.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from relais_contracts.envelope import CloudEvent
from relais_contracts.v1.referral import SubmitReferral
from relais_referral.adapters.keys import ReferralKeys, UnreadableError
from relais_referral.domain.content import ReferralRequest
from relais_referral.service.ports import Uows
from relais_referral.service.submit_referral import Submission, submit
from relais_runtime.errors import translate_validation_errors
from relais_runtime.sealing import KeyNotFoundError


class IntakeRejected(Exception):
    """The command can't become a referral; ``code`` and ``fields`` say why (no values)."""

    def __init__(self, code: str, fields: list[str] | None = None) -> None:
        self.code = code
        self.fields = fields or []
        super().__init__(f"{code}: {', '.join(self.fields)}" if self.fields else code)


def request_from_command(command: SubmitReferral, opened: dict[str, Any]) -> ReferralRequest:
    """Merge the facts in clear with the opened identity into the fiche, checked by its
    rules (``invalid_referral`` with the failing fields' codes, never their values)."""
    facts = command.facts
    child = opened.get("child")
    child = child if isinstance(child, dict) else {}
    reasons: dict[str, Any] = {"categories": list(facts.reason_categories)}
    if "description" in opened:
        reasons["description"] = opened["description"]
    body: dict[str, Any] = {
        "pre_id": command.tenant,
        "child": {
            "sex": facts.sex,
            "school_level": facts.school_level,
            "lives_in_qpv": facts.lives_in_qpv,
            **child,
        },
        "reasons": reasons,
        "axes": list(facts.axes),
        "parents_informed": command.parents_informed,
        "parents_agree": command.parents_agree,
    }
    # Parts the sender left out stay absent, so the error says "missing", not "wrong type".
    for part in ("guardians", "referrer", "parents_informed_on"):
        if part in opened:
            body[part] = opened[part]
    try:
        return ReferralRequest.model_validate(body)
    except ValidationError as exc:
        fields = [f"{e['field']}:{e['code']}" for e in translate_validation_errors(exc.errors())]
        raise IntakeRejected("invalid_referral", fields) from None


async def submit_from_intake(
    uows: Uows, keys: ReferralKeys, event: CloudEvent[Any], *, sender: str | None
) -> Submission:
    """``sender``: the institution named by the routing key (vouched for by the broker)."""
    command: SubmitReferral = event.data
    # The envelope's source and the command's institution are the sender's own words;
    # only the routing key is checked by the broker: all three must agree.
    if sender != command.institution_id or event.source != f"/institutions/{sender}":
        raise IntakeRejected("institution_mismatch")
    if event.tenant != command.tenant:
        raise IntakeRejected("pre_mismatch")
    try:
        opened = keys.open_intake(command.sealed)
    except KeyNotFoundError:
        raise IntakeRejected("intake_key_missing") from None
    except UnreadableError:
        raise IntakeRejected("sealed_unreadable") from None
    request = request_from_command(command, opened)
    async with uows() as uow:
        return await submit(
            uow,
            keys,
            institution_id=command.institution_id,
            request=request,
            channel="amqp",
            # The sender's own reference names one referral: a command it publishes again
            # (its own retry, a new message id) returns the first one instead of a duplicate.
            idempotency_key=(
                f"external-ref:{command.external_ref}" if command.external_ref else None
            ),
            external_ref=command.external_ref,
        )
