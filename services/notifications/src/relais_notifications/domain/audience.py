"""Who must hear about each event, and what it tells them. Plain rules, no I/O.

An event becomes one ``Notice``: the people who must hear about it (its audience), what
it says (a template key and non-identifying facts), and the link to authenticated
content. Audience members are:

- ``org:<org_id>``: an organisation (the sending institution, the partner);
- ``role:<role>``: every holder of a role in the PRE (the coordinators);
- ``user:<user_id>``: one staff member (the référent named in the event), written at the
  login it signs in with once ``referent.registered`` told it (``service/notify.py``).

Nothing here reads or writes a name, a birth date, an address or a note: events carry
none, and facts are ids, codes and dates.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from relais_contracts.base import Message
from relais_contracts.types import DeadlineKind
from relais_contracts.v1.parcours import (
    DeadlineOverdue,
    FollowupDue,
    HandoverAccepted,
    HandoverCancelled,
    HandoverCompleted,
    HandoverDeclined,
    HandoverRequested,
    HandoverWaitlisted,
    ReferentAssigned,
    SituationOpened,
    SituationReferralAttached,
)
from relais_contracts.v1.referral import ReferralStatusChanged, ReferralSubmitRejected

RecipientKind = Literal["org", "role", "user"]


@dataclass(frozen=True, order=True)
class Recipient:
    kind: RecipientKind
    id: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"

    @classmethod
    def parse(cls, key: str) -> Recipient:
        kind, _, ident = key.partition(":")
        if kind not in ("org", "role", "user") or not ident:
            raise ValueError(f"not a recipient key: {key!r}")
        return cls(kind, ident)  # type: ignore[arg-type]


COORDINATORS = Recipient("role", "coordinator")


def org(org_id: str) -> Recipient:
    return Recipient("org", org_id)


def user(user_id: uuid.UUID) -> Recipient:
    return Recipient("user", str(user_id))


@dataclass(frozen=True)
class Links:
    """Public base URLs of the services that own the content a message links to."""

    referral: str
    parcours: str

    def referral_page(self, referral_id: uuid.UUID) -> str:
        return f"{self.referral}/v1/referrals/{referral_id}"

    def situation_page(self, situation_id: uuid.UUID) -> str:
        return f"{self.parcours}/v1/situations/{situation_id}"

    def handover_page(self, handover_id: uuid.UUID) -> str:
        return f"{self.parcours}/v1/handovers/{handover_id}"


@dataclass(frozen=True)
class Notice:
    """What one event tells, and to whom. ``facts`` hold ids, codes and dates only."""

    template: str
    audience: tuple[Recipient, ...]
    link: str
    facts: dict[str, Any] = field(default_factory=dict)
    #: Filters a PRE subscription can select on ("by situation or référent").
    situation_id: uuid.UUID | None = None
    referent_id: uuid.UUID | None = None
    #: A deadline whose reminder escalates to the coordinators if it stays overdue, and
    #: its kind (``handover_response``, ``followup``...): what answer resolves it.
    deadline_id: uuid.UUID | None = None
    deadline_kind: str | None = None


def short_ref(prefix: str, value: uuid.UUID) -> str:
    """A reference people can read out on the phone: ``O-1A2B3C4D``."""
    return f"{prefix}-{value.hex[:8].upper()}"


def _unique(*recipients: Recipient | None) -> tuple[Recipient, ...]:
    seen: list[Recipient] = []
    for r in recipients:
        if r is not None and r not in seen:
            seen.append(r)
    return tuple(seen)


# --- one rule per event type --------------------------------------------------------------


def _referral_status_changed(d: ReferralStatusChanged, links: Links) -> Notice:
    # The closed loop: the sender always hears how its referral moves.
    return Notice(
        template="referral_status_changed",
        audience=(org(d.institution_id),),
        link=links.referral_page(d.referral_id),
        facts={
            "ref": short_ref("O", d.referral_id),
            "status": d.status.value,
            "previous_status": d.previous_status.value if d.previous_status else None,
            "reason": d.reason,
        },
    )


def _referral_submit_rejected(d: ReferralSubmitRejected, _links: Links) -> Notice:
    # The AMQP sender hears why its command was refused, by its own reference: no referral
    # exists, so no link. Codes and field names only; the event carries no value.
    return Notice(
        template="referral_submit_rejected",
        audience=(org(d.institution_id),),
        link="",
        facts={
            "ref": d.external_ref or d.command_id,
            "command_id": d.command_id,
            "external_ref": d.external_ref,
            "code": d.code,
            "fields": list(d.fields),
        },
    )


def _situation_opened(d: SituationOpened, links: Links) -> Notice:
    # A new situation waits for the team review, which the coordinators prepare.
    return Notice(
        template="situation_opened",
        audience=(COORDINATORS,),
        link=links.situation_page(d.situation_id),
        facts={"ref": short_ref("S", d.situation_id), "review_due_on": d.review_due_on},
        situation_id=d.situation_id,
    )


def _situation_referral_attached(d: SituationReferralAttached, links: Links) -> Notice:
    # Another referral joined a situation under review or in parcours: the coordinators
    # decide what it changes (the review to come, the référent to tell).
    return Notice(
        template="situation_referral_attached",
        audience=(COORDINATORS,),
        link=links.situation_page(d.situation_id),
        facts={"ref": short_ref("S", d.situation_id), "stage": d.stage.value},
        situation_id=d.situation_id,
    )


def _referent_assigned(d: ReferentAssigned, links: Links) -> Notice:
    # The new référent takes the situation; the one replaced is told it left their caseload.
    return Notice(
        template="referent_assigned",
        audience=_unique(
            user(d.referent_id),
            user(d.previous_referent_id) if d.previous_referent_id else None,
        ),
        link=links.situation_page(d.situation_id),
        facts={
            "ref": short_ref("S", d.situation_id),
            "referent_id": str(d.referent_id),
            "changed_hands": d.previous_referent_id is not None,
        },
        situation_id=d.situation_id,
        referent_id=d.referent_id,
    )


def _handover_requested(d: HandoverRequested, links: Links) -> Notice:
    # The partner must answer; it reads the handover sheet over HTTPS, never in the message.
    return Notice(
        template="handover_requested",
        audience=(org(d.partner_id),),
        link=links.handover_page(d.handover_id),
        facts={
            "ref": short_ref("R", d.handover_id),
            "axis": d.axis.value,
            "response_due_on": d.response_due_on,
        },
        situation_id=d.situation_id,
        referent_id=d.referent_id,
    )


def _partner_answered(template: str, **extra: Callable[[Any], Any]) -> Callable[..., Notice]:
    """Accepted, declined, waitlisted, completed: the référent hears the partner's answer."""

    def rule(d: Any, links: Links) -> Notice:
        return Notice(
            template=template,
            audience=(user(d.referent_id),),
            link=links.handover_page(d.handover_id),
            facts={
                "ref": short_ref("R", d.handover_id),
                "partner_id": d.partner_id,
                **{name: get(d) for name, get in extra.items()},
            },
            situation_id=d.situation_id,
            referent_id=d.referent_id,
        )

    return rule


def _handover_cancelled(d: HandoverCancelled, links: Links) -> Notice:
    # The partner's access ends: it must stop and hear why (a code).
    return Notice(
        template="handover_cancelled",
        audience=(org(d.partner_id),),
        link=links.handover_page(d.handover_id),
        facts={"ref": short_ref("R", d.handover_id), "reason": d.reason.value},
        situation_id=d.situation_id,
        referent_id=d.referent_id,
    )


def _deadline_overdue(d: DeadlineOverdue, links: Links) -> Notice:
    """The person responsible hears first; escalation to coordinators is scheduled apart."""
    referent = user(d.referent_id) if d.referent_id else None
    if d.deadline_kind is DeadlineKind.HANDOVER_RESPONSE:
        # The contract sets both exactly for this kind.
        assert d.partner_id is not None
        assert d.handover_id is not None
        # The partner owes the answer; the référent is told it is late.
        audience = _unique(org(d.partner_id), referent or COORDINATORS)
        link = links.handover_page(d.handover_id)
        ref = short_ref("R", d.handover_id)
    elif d.deadline_kind in {DeadlineKind.REVIEW, DeadlineKind.FAMILY_REQUEST}:
        # The team review is the coordinators' to convene; a family's request (RGPD,
        # one month) is theirs to answer.
        audience = (COORDINATORS,)
        link = links.situation_page(d.situation_id)
        ref = short_ref("S", d.situation_id)
    else:
        # The follow-up is the référent's, or the coordinators' when none is in post.
        audience = (referent or COORDINATORS,)
        link = links.situation_page(d.situation_id)
        ref = short_ref("S", d.situation_id)
    return Notice(
        template=f"deadline_overdue_{d.deadline_kind.value}",
        audience=audience,
        link=link,
        facts={"ref": ref, "due_on": d.due_on, "days_overdue": d.days_overdue},
        situation_id=d.situation_id,
        referent_id=d.referent_id,
        deadline_id=d.deadline_id,
        deadline_kind=d.deadline_kind.value,
    )


def followup_deadline_id(situation_id: uuid.UUID, due_on: date) -> uuid.UUID:
    """``followup.due`` names no deadline: one per situation and due day, derived."""
    return uuid.uuid5(situation_id, f"followup:{due_on.isoformat()}")


def _followup_due(d: FollowupDue, links: Links) -> Notice:
    # Like an overdue deadline: the référent first, the coordinators if it is still not
    # recorded later (``followup.recorded`` resolves it).
    return Notice(
        template="followup_due",
        audience=(user(d.referent_id) if d.referent_id else COORDINATORS,),
        link=links.situation_page(d.situation_id),
        facts={"ref": short_ref("S", d.situation_id), "due_on": d.due_on},
        situation_id=d.situation_id,
        referent_id=d.referent_id,
        deadline_id=followup_deadline_id(d.situation_id, d.due_on),
        deadline_kind=DeadlineKind.FOLLOWUP.value,
    )


RULES: dict[type[Message], Callable[[Any, Links], Notice]] = {
    ReferralStatusChanged: _referral_status_changed,
    ReferralSubmitRejected: _referral_submit_rejected,
    SituationOpened: _situation_opened,
    SituationReferralAttached: _situation_referral_attached,
    ReferentAssigned: _referent_assigned,
    HandoverRequested: _handover_requested,
    HandoverAccepted: _partner_answered("handover_accepted", starts_on=lambda d: d.starts_on),
    HandoverDeclined: _partner_answered("handover_declined", reason=lambda d: d.reason.value),
    HandoverWaitlisted: _partner_answered(
        "handover_waitlisted", expected_start_on=lambda d: d.expected_start_on
    ),
    HandoverCompleted: _partner_answered("handover_completed", outcome=lambda d: d.outcome.value),
    HandoverCancelled: _handover_cancelled,
    DeadlineOverdue: _deadline_overdue,
    FollowupDue: _followup_due,
}


def notice_for(data: Message, links: Links) -> Notice:
    return RULES[type(data)](data, links)
