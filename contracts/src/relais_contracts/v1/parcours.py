"""v1 events of the parcours domain: situations, reviews, consent, plan, handovers, exit.

Every event names the situation and the pseudonymous ``subject_id``; none carries a name,
a birth date, an address, a phone number, an email address or a free-text note. Anything
a person wrote stays in ``parcours``; what travels is ids, dates, counts and codes.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import ClassVar, Self

from pydantic import AwareDatetime, Field, model_validator
from pydantic.config import JsonDict, JsonValue

from relais_contracts.base import Event, Strict
from relais_contracts.base import examples as _examples
from relais_contracts.types import (
    Axis,
    ConsentForm,
    DataCategory,
    DeadlineKind,
    DeclineReason,
    ErasureReason,
    ExitReason,
    FollowupOutcome,
    HandoverCancelReason,
    HandoverDeclineReason,
    HandoverOutcome,
    PartnerCategory,
    ReviewDecision,
    SituationStage,
    Slug,
)

_SITUATION_DOC = (
    "The situation: the PRE's file on one child (one open at a time, however referred; "
    "a child referred again once it is finished gets a new one)."
)
_SUBJECT_DOC = "Pseudonymous id of the child within the PRE, as in referral.submitted."
_REFERRALS_DOC = (
    "The referrals this situation answers, so the referral service can update each "
    "sender's timeline."
)
_REFERENT_DOC = "The référent's user id in Relais (a staff member, never a family member)."
_HANDOVER_DOC = "The handover: one action handed to one partner."
_PARTNER_DOC = "The partner organisation."

# Example ids shared by the examples below, so they read as one story.
_SITUATION = "5c0e8f4a-2b7d-4c1e-8a3f-9d6b2e1f0a77"
_SUBJECT = "7e1d3c2b-5a4f-4e3d-9c2b-1a0f9e8d7c6b"
_REFERRAL = "0b9a2f5e-1c9e-4f0c-9d2e-3b1f6f0c2a11"
_REFERRAL_2 = "3f6c1b2a-8d4e-4a9b-b7c1-2e5d9f0a4c33"
_REFERENT = "c4d9e2f1-6a3b-4c8d-9e0f-1a2b3c4d5e6f"
_CONSENT = "d2e3f4a5-b6c7-4d8e-9f0a-1b2c3d4e5f60"
_HANDOVER = "e7f8a9b0-c1d2-4e3f-8a4b-5c6d7e8f9a01"
_ACTION = "f0a1b2c3-d4e5-4f6a-9b7c-8d9e0f1a2b3c"


def _unique(values: list[object], what: str) -> None:
    if len(set(values)) != len(values):
        raise ValueError(f"{what} must not repeat")


# --- situations and reviews -------------------------------------------------------------


class SituationOpened(Event):
    """Parcours opened a situation for a referred child; it now awaits the team review."""

    message_type: ClassVar[str] = "situation.opened"
    subject_field: ClassVar[str | None] = "situation_id"

    situation_id: uuid.UUID = Field(description=_SITUATION_DOC)
    subject_id: uuid.UUID = Field(description=_SUBJECT_DOC)
    referral_ids: list[uuid.UUID] = Field(min_length=1, max_length=50, description=_REFERRALS_DOC)
    opened_at: AwareDatetime = Field(description="When the situation was opened.")
    review_due_on: date = Field(
        description="Date by which the team review should decide (PRE time zone); "
        "deadline.overdue (kind review) follows if it does not."
    )

    model_config = _examples(
        {
            "situation_id": _SITUATION,
            "subject_id": _SUBJECT,
            "referral_ids": [_REFERRAL],
            "opened_at": "2026-10-05T08:31:00Z",
            "review_due_on": "2026-10-26",
        }
    )


class SituationReferralAttached(Event):
    """A further referral about a child who already has an open situation was attached to it.

    The same child referred by two institutions is one situation, not two; this event lets
    the second sender hear back like the first, and tells the PRE's coordinators. A child
    whose situation was declined, redirected or closed gets a new one (situation.opened).
    """

    message_type: ClassVar[str] = "situation.referral_attached"
    subject_field: ClassVar[str | None] = "situation_id"

    situation_id: uuid.UUID = Field(description=_SITUATION_DOC)
    subject_id: uuid.UUID = Field(description=_SUBJECT_DOC)
    referral_id: uuid.UUID = Field(description="The referral just attached.")
    stage: SituationStage = Field(description="Where the situation stands now.")
    attached_at: AwareDatetime = Field(description="When the referral was attached.")

    model_config = _examples(
        {
            "situation_id": _SITUATION,
            "subject_id": _SUBJECT,
            "referral_id": _REFERRAL_2,
            "stage": "in_parcours",
            "attached_at": "2026-11-12T10:00:00Z",
        }
    )


class ReviewDecided(Event):
    """The team review (EPS) decided on a situation: take it up, redirect it, or decline it.

    ``decline_reason`` is set exactly when the decision is ``decline``; ``redirected_to`` and
    ``redirect_category`` exactly when it is ``redirect``.
    """

    message_type: ClassVar[str] = "review.decided"
    subject_field: ClassVar[str | None] = "situation_id"

    review_id: uuid.UUID = Field(description="The review meeting's record of this situation.")
    situation_id: uuid.UUID = Field(description=_SITUATION_DOC)
    subject_id: uuid.UUID = Field(description=_SUBJECT_DOC)
    referral_ids: list[uuid.UUID] = Field(min_length=1, max_length=50, description=_REFERRALS_DOC)
    decision: ReviewDecision = Field(description="What the team review decided.")
    decline_reason: DeclineReason | None = Field(
        default=None, description="Why it was declined; only with decision decline."
    )
    redirected_to: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Name of the service redirected to: an organisation, never a person. "
        "Only with decision redirect.",
    )
    redirect_category: PartnerCategory | None = Field(
        default=None, description="Kind of that service; only with decision redirect."
    )
    axes: list[Axis] = Field(
        default_factory=list,
        max_length=len(Axis),
        description="Axes retained for the plan; only with decision take_up.",
    )
    decided_at: AwareDatetime = Field(description="When the decision was recorded.")

    @model_validator(mode="after")
    def _fields_match_decision(self) -> Self:
        is_decline = self.decision is ReviewDecision.DECLINE
        is_redirect = self.decision is ReviewDecision.REDIRECT
        if (self.decline_reason is not None) != is_decline:
            raise ValueError("decline_reason is required with decision decline, and only then")
        given = [f is not None for f in (self.redirected_to, self.redirect_category)]
        if given != [is_redirect, is_redirect]:
            raise ValueError(
                "redirected_to and redirect_category are required with decision redirect, "
                "and only then"
            )
        if self.axes and self.decision is not ReviewDecision.TAKE_UP:
            raise ValueError("axes are only given with decision take_up")
        _unique(list(self.axes), "axes")
        return self

    model_config = _examples(
        {
            "review_id": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
            "situation_id": _SITUATION,
            "subject_id": _SUBJECT,
            "referral_ids": [_REFERRAL],
            "decision": "take_up",
            "axes": ["schooling", "health"],
            "decided_at": "2026-10-19T16:30:00Z",
        },
        {
            "review_id": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
            "situation_id": _SITUATION,
            "subject_id": _SUBJECT,
            "referral_ids": [_REFERRAL],
            "decision": "redirect",
            "redirected_to": "CMPP de Rouen rive gauche",
            "redirect_category": "cmpp",
            "decided_at": "2026-10-19T16:30:00Z",
        },
        {
            "review_id": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
            "situation_id": _SITUATION,
            "subject_id": _SUBJECT,
            "referral_ids": [_REFERRAL],
            "decision": "decline",
            "decline_reason": "outside_territory",
            "decided_at": "2026-10-19T16:30:00Z",
        },
    )


class ReferentAssigned(Event):
    """A référent was assigned to a situation (first assignment or a change of référent)."""

    message_type: ClassVar[str] = "referent.assigned"
    subject_field: ClassVar[str | None] = "situation_id"

    situation_id: uuid.UUID = Field(description=_SITUATION_DOC)
    subject_id: uuid.UUID = Field(description=_SUBJECT_DOC)
    referent_id: uuid.UUID = Field(description=_REFERENT_DOC)
    previous_referent_id: uuid.UUID | None = Field(
        default=None, description="The référent replaced, when the situation changes hands."
    )
    assigned_at: AwareDatetime = Field(description="When the référent was assigned.")

    model_config = _examples(
        {
            "situation_id": _SITUATION,
            "subject_id": _SUBJECT,
            "referent_id": _REFERENT,
            "assigned_at": "2026-10-19T16:45:00Z",
        }
    )


class ReferentRegistered(Event):
    """A référent was registered, or changed, in the PRE's directory of référents.

    Events name a référent by ``referent_id``; people sign in with the identity provider's
    subject (``user_sub``), which may differ. This tells the notifications service which
    login a référent's notifications go to. ``sequence`` orders the changes of a référent.
    """

    message_type: ClassVar[str] = "referent.registered"
    subject_field: ClassVar[str | None] = "referent_id"

    referent_id: uuid.UUID = Field(description=_REFERENT_DOC)
    user_sub: str = Field(
        pattern=r"^[\x21-\x7e]{1,200}$",
        description="The login the référent signs in with: the identity provider's subject "
        "(the token's sub claim), a staff member's, never a family member's.",
    )
    active: bool = Field(description="Whether the référent is still in post.")
    registered_at: AwareDatetime = Field(description="When the directory entry was written.")

    model_config = _examples(
        {
            "referent_id": _REFERENT,
            "user_sub": "f3b1c2d4-camille",
            "active": True,
            "registered_at": "2026-10-19T16:40:00Z",
        }
    )


# --- consent ------------------------------------------------------------------------------


class ConsentScope(Strict):
    """What one partner may receive under a consent (secret partagé: only what it needs)."""

    partner_id: Slug = Field(description=_PARTNER_DOC)
    data_categories: list[DataCategory] = Field(
        min_length=1, max_length=len(DataCategory), description="What it may receive."
    )

    @model_validator(mode="after")
    def _no_repeat(self) -> Self:
        _unique(list(self.data_categories), "data_categories")
        return self


class ConsentGiven(Event):
    """The family gave its agreement to the parcours, with a scope of sharing.

    A change of scope is a new consent that supersedes the previous one.
    """

    message_type: ClassVar[str] = "consent.given"
    subject_field: ClassVar[str | None] = "situation_id"

    consent_id: uuid.UUID = Field(description="The consent recorded.")
    situation_id: uuid.UUID = Field(description=_SITUATION_DOC)
    subject_id: uuid.UUID = Field(description=_SUBJECT_DOC)
    form: ConsentForm = Field(description="How the agreement was recorded.")
    scope: list[ConsentScope] = Field(
        default_factory=list,
        max_length=200,
        description="Partners that may receive information, and what. Empty: the parcours "
        "may start but nothing is shared outside the PRE team.",
    )
    given_at: AwareDatetime = Field(description="When the family gave it.")
    valid_until: date | None = Field(
        default=None, description="Last day the consent is valid; consent.expired follows."
    )
    supersedes_consent_id: uuid.UUID | None = Field(
        default=None, description="The consent this one replaces (a change of scope)."
    )

    @model_validator(mode="after")
    def _one_scope_per_partner(self) -> Self:
        _unique([s.partner_id for s in self.scope], "scope partner_id")
        return self

    model_config = _examples(
        {
            "consent_id": _CONSENT,
            "situation_id": _SITUATION,
            "subject_id": _SUBJECT,
            "form": "signed",
            "scope": [
                {
                    "partner_id": "cmpp-rouen-rive-gauche",
                    "data_categories": ["identity_and_contact", "health"],
                },
                {"partner_id": "clas-saint-sever", "data_categories": ["schooling"]},
            ],
            "given_at": "2026-10-22T10:00:00Z",
            "valid_until": "2027-10-21",
        }
    )


class ConsentWithdrawn(Event):
    """The family withdrew its consent: every sharing under it stops at once.

    Open handovers to the partners listed are cancelled (handover.cancelled follows).
    """

    message_type: ClassVar[str] = "consent.withdrawn"
    subject_field: ClassVar[str | None] = "situation_id"

    consent_id: uuid.UUID = Field(description="The consent that ends.")
    situation_id: uuid.UUID = Field(description=_SITUATION_DOC)
    subject_id: uuid.UUID = Field(description=_SUBJECT_DOC)
    partner_ids: list[Slug] = Field(
        default_factory=list, max_length=200, description="Partners whose access ends now."
    )
    withdrawn_at: AwareDatetime = Field(description="When the family withdrew it.")

    model_config = _examples(
        {
            "consent_id": _CONSENT,
            "situation_id": _SITUATION,
            "subject_id": _SUBJECT,
            "partner_ids": ["cmpp-rouen-rive-gauche", "clas-saint-sever"],
            "withdrawn_at": "2027-02-03T09:15:00Z",
        }
    )


class ConsentExpired(Event):
    """A consent reached its end date without renewal: sharing under it stops."""

    message_type: ClassVar[str] = "consent.expired"
    subject_field: ClassVar[str | None] = "situation_id"

    consent_id: uuid.UUID = Field(description="The consent that ends.")
    situation_id: uuid.UUID = Field(description=_SITUATION_DOC)
    subject_id: uuid.UUID = Field(description=_SUBJECT_DOC)
    partner_ids: list[Slug] = Field(
        default_factory=list, max_length=200, description="Partners whose access ends now."
    )
    expired_on: date = Field(description="The consent's last valid day.")

    model_config = _examples(
        {
            "consent_id": _CONSENT,
            "situation_id": _SITUATION,
            "subject_id": _SUBJECT,
            "partner_ids": ["clas-saint-sever"],
            "expired_on": "2027-10-21",
        }
    )


# --- plan ---------------------------------------------------------------------------------


class ObjectiveCounts(Strict):
    """Objectives of one axis, counted by status."""

    open: int = Field(default=0, ge=0, le=100)
    met: int = Field(default=0, ge=0, le=100)
    abandoned: int = Field(default=0, ge=0, le=100)


class ActionCounts(Strict):
    """Actions of one axis, counted by status."""

    planned: int = Field(default=0, ge=0, le=200)
    in_progress: int = Field(default=0, ge=0, le=200)
    done: int = Field(default=0, ge=0, le=200)
    cancelled: int = Field(default=0, ge=0, le=200)
    with_partner: int = Field(
        default=0, ge=0, le=200, description="Of all actions, how many are handed to a partner."
    )


class AxisPlan(Strict):
    """The plan on one axis, as counts only."""

    axis: Axis
    objectives: ObjectiveCounts = Field(default_factory=ObjectiveCounts)
    actions: ActionCounts = Field(default_factory=ActionCounts)


class PlanUpdated(Event):
    """The individual plan changed. Carries counts per axis, never the plan's wording."""

    message_type: ClassVar[str] = "plan.updated"
    subject_field: ClassVar[str | None] = "situation_id"

    situation_id: uuid.UUID = Field(description=_SITUATION_DOC)
    subject_id: uuid.UUID = Field(description=_SUBJECT_DOC)
    plan_version: int = Field(ge=1, description="Increases with every change of the plan.")
    axes: list[AxisPlan] = Field(
        max_length=len(Axis), description="One entry per axis the plan works on."
    )
    updated_at: AwareDatetime = Field(description="When the plan changed.")

    @model_validator(mode="after")
    def _one_entry_per_axis(self) -> Self:
        _unique([a.axis for a in self.axes], "axes")
        return self

    model_config = _examples(
        {
            "situation_id": _SITUATION,
            "subject_id": _SUBJECT,
            "plan_version": 3,
            "axes": [
                {
                    "axis": "schooling",
                    "objectives": {"open": 1, "met": 1, "abandoned": 0},
                    "actions": {
                        "planned": 0,
                        "in_progress": 1,
                        "done": 1,
                        "cancelled": 0,
                        "with_partner": 1,
                    },
                },
                {
                    "axis": "health",
                    "objectives": {"open": 1},
                    "actions": {"planned": 1, "with_partner": 1},
                },
            ],
            "updated_at": "2026-11-04T15:20:00Z",
        }
    )


# --- handovers ----------------------------------------------------------------------------


class _HandoverEvent(Event):
    """Fields every handover event carries: which handover, to whom, for whom."""

    subject_field: ClassVar[str | None] = "handover_id"

    handover_id: uuid.UUID = Field(description=_HANDOVER_DOC)
    situation_id: uuid.UUID = Field(description=_SITUATION_DOC)
    subject_id: uuid.UUID = Field(description=_SUBJECT_DOC)
    partner_id: Slug = Field(description=_PARTNER_DOC)
    referent_id: uuid.UUID = Field(
        description="The référent responsible for the handover, who hears the partner's answer."
    )


def _handover_example(**fields: JsonValue) -> JsonDict:
    return {
        "handover_id": _HANDOVER,
        "situation_id": _SITUATION,
        "subject_id": _SUBJECT,
        "partner_id": "cmpp-rouen-rive-gauche",
        "referent_id": _REFERENT,
        **fields,
    }


class HandoverRequested(_HandoverEvent):
    """The référent handed one action of the plan to a partner, within the consent's scope.

    The partner reads the handover sheet over HTTPS from parcours; nothing of it travels here.
    """

    message_type: ClassVar[str] = "handover.requested"

    action_id: uuid.UUID = Field(description="The plan action handed over.")
    axis: Axis = Field(description="Axis of the action.")
    partner_category: PartnerCategory = Field(description="Kind of the partner, for reporting.")
    consent_id: uuid.UUID = Field(description="The consent that allows this sharing.")
    requested_at: AwareDatetime = Field(description="When the référent handed it over.")
    response_due_on: date = Field(
        description="Date by which the partner should answer (PRE time zone); "
        "deadline.overdue (kind handover_response) follows if it does not."
    )

    model_config = _examples(
        _handover_example(
            action_id=_ACTION,
            axis="health",
            partner_category="cmpp",
            consent_id=_CONSENT,
            requested_at="2026-11-04T15:30:00Z",
            response_due_on="2026-11-18",
        )
    )


class HandoverAccepted(_HandoverEvent):
    """The partner accepted the handover."""

    message_type: ClassVar[str] = "handover.accepted"

    accepted_at: AwareDatetime = Field(description="When the partner accepted.")
    starts_on: date | None = Field(default=None, description="First session, when known.")

    model_config = _examples(
        _handover_example(accepted_at="2026-11-09T11:00:00Z", starts_on="2026-11-23")
    )


class HandoverDeclined(_HandoverEvent):
    """The partner declined the handover."""

    message_type: ClassVar[str] = "handover.declined"

    reason: HandoverDeclineReason = Field(description="Why the partner declined.")
    declined_at: AwareDatetime = Field(description="When the partner declined.")

    model_config = _examples(
        _handover_example(reason="no_capacity", declined_at="2026-11-09T11:00:00Z")
    )


class HandoverWaitlisted(_HandoverEvent):
    """The partner put the handover on its waiting list (CMP and CMPP waits run months)."""

    message_type: ClassVar[str] = "handover.waitlisted"

    waitlisted_at: AwareDatetime = Field(description="When the partner put it on its list.")
    expected_start_on: date | None = Field(
        default=None, description="When the partner expects to start; null if it cannot say."
    )

    model_config = _examples(
        _handover_example(waitlisted_at="2026-11-09T11:00:00Z", expected_start_on="2027-03-01")
    )


class HandoverCompleted(_HandoverEvent):
    """The partner reported the handed-over action as ended."""

    message_type: ClassVar[str] = "handover.completed"

    outcome: HandoverOutcome = Field(description="How the action ended.")
    completed_at: AwareDatetime = Field(description="When the partner reported it ended.")

    model_config = _examples(
        _handover_example(outcome="achieved", completed_at="2027-06-30T16:00:00Z")
    )


class HandoverCancelled(_HandoverEvent):
    """The PRE cancelled a handover before it ended; the partner's access ends."""

    message_type: ClassVar[str] = "handover.cancelled"

    reason: HandoverCancelReason = Field(description="Why the PRE cancelled it.")
    cancelled_at: AwareDatetime = Field(description="When it was cancelled.")

    model_config = _examples(
        _handover_example(reason="consent_withdrawn", cancelled_at="2027-02-03T09:15:01Z")
    )


# --- end of parcours and follow-up --------------------------------------------------------


class ParcoursClosed(Event):
    """The parcours ended. The follow-up with the family is due six months later."""

    message_type: ClassVar[str] = "parcours.closed"
    subject_field: ClassVar[str | None] = "situation_id"

    situation_id: uuid.UUID = Field(description=_SITUATION_DOC)
    subject_id: uuid.UUID = Field(description=_SUBJECT_DOC)
    referral_ids: list[uuid.UUID] = Field(min_length=1, max_length=50, description=_REFERRALS_DOC)
    exit_reason: ExitReason = Field(description="Why the parcours ended (a code, never text).")
    axes: list[Axis] = Field(
        default_factory=list, max_length=len(Axis), description="Axes the plan worked on."
    )
    started_on: date = Field(description="Day the parcours started (take-up), for durations.")
    closed_at: AwareDatetime = Field(description="When the parcours was closed.")
    final_review_held: bool = Field(description="A final review with partners was held.")
    followup_due_on: date = Field(description="Day the six-month follow-up is due.")

    @model_validator(mode="after")
    def _no_repeat(self) -> Self:
        _unique(list(self.axes), "axes")
        return self

    model_config = _examples(
        {
            "situation_id": _SITUATION,
            "subject_id": _SUBJECT,
            "referral_ids": [_REFERRAL, _REFERRAL_2],
            "exit_reason": "objectives_met",
            "axes": ["schooling", "health"],
            "started_on": "2026-10-19",
            "closed_at": "2027-12-15T17:00:00Z",
            "final_review_held": True,
            "followup_due_on": "2028-06-15",
        }
    )


class FollowupDue(Event):
    """The six-month follow-up with the family of a closed parcours is due."""

    message_type: ClassVar[str] = "followup.due"
    subject_field: ClassVar[str | None] = "situation_id"

    situation_id: uuid.UUID = Field(description=_SITUATION_DOC)
    subject_id: uuid.UUID = Field(description=_SUBJECT_DOC)
    referent_id: uuid.UUID | None = Field(
        default=None, description="The last référent, if still in post; else the coordinators."
    )
    closed_on: date = Field(description="Day the parcours closed.")
    due_on: date = Field(description="Day the follow-up is due (PRE time zone).")

    model_config = _examples(
        {
            "situation_id": _SITUATION,
            "subject_id": _SUBJECT,
            "referent_id": _REFERENT,
            "closed_on": "2027-12-15",
            "due_on": "2028-06-15",
        }
    )


class FollowupRecorded(Event):
    """The follow-up with the family was held (or attempted) and its outcome recorded."""

    message_type: ClassVar[str] = "followup.recorded"
    subject_field: ClassVar[str | None] = "situation_id"

    followup_id: uuid.UUID = Field(description="The follow-up record.")
    situation_id: uuid.UUID = Field(description=_SITUATION_DOC)
    subject_id: uuid.UUID = Field(description=_SUBJECT_DOC)
    outcome: FollowupOutcome = Field(description="What the follow-up found.")
    held_on: date = Field(description="Day of the contact with the family (or last attempt).")
    recorded_at: AwareDatetime = Field(description="When the outcome was recorded.")

    model_config = _examples(
        {
            "followup_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
            "situation_id": _SITUATION,
            "subject_id": _SUBJECT,
            "outcome": "stable",
            "held_on": "2028-06-20",
            "recorded_at": "2028-06-20T14:00:00Z",
        }
    )


class DeadlineOverdue(Event):
    """A deadline went by: a review not held, a partner not answering, a follow-up not done.

    ``handover_id`` and ``partner_id`` are set exactly when ``deadline_kind`` is
    ``handover_response``.
    """

    message_type: ClassVar[str] = "deadline.overdue"
    subject_field: ClassVar[str | None] = "situation_id"

    deadline_id: uuid.UUID = Field(description="The deadline; one event per deadline missed.")
    deadline_kind: DeadlineKind = Field(description="Which deadline went by.")
    situation_id: uuid.UUID = Field(description=_SITUATION_DOC)
    subject_id: uuid.UUID = Field(description=_SUBJECT_DOC)
    handover_id: uuid.UUID | None = Field(default=None, description=_HANDOVER_DOC)
    partner_id: Slug | None = Field(default=None, description=_PARTNER_DOC)
    referent_id: uuid.UUID | None = Field(
        default=None, description="The référent to remind, when one is assigned."
    )
    due_on: date = Field(description="Day the deadline fell (PRE time zone).")
    days_overdue: int = Field(ge=1, le=3660, description="Whole days past due_on.")
    detected_at: AwareDatetime = Field(description="When the scheduler noticed it.")

    @model_validator(mode="after")
    def _handover_fields_match_kind(self) -> Self:
        about_handover = self.deadline_kind is DeadlineKind.HANDOVER_RESPONSE
        for value, name in ((self.handover_id, "handover_id"), (self.partner_id, "partner_id")):
            if (value is not None) != about_handover:
                raise ValueError(
                    f"{name} is required with deadline_kind handover_response, and only then"
                )
        return self

    model_config = _examples(
        {
            "deadline_id": "b5c6d7e8-f9a0-4b1c-8d2e-3f4a5b6c7d8e",
            "deadline_kind": "handover_response",
            "situation_id": _SITUATION,
            "subject_id": _SUBJECT,
            "handover_id": _HANDOVER,
            "partner_id": "cmpp-rouen-rive-gauche",
            "referent_id": _REFERENT,
            "due_on": "2026-11-18",
            "days_overdue": 1,
            "detected_at": "2026-11-19T06:00:00Z",
        },
        {
            "deadline_id": "b5c6d7e8-f9a0-4b1c-8d2e-3f4a5b6c7d8f",
            "deadline_kind": "review",
            "situation_id": _SITUATION,
            "subject_id": _SUBJECT,
            "due_on": "2026-10-26",
            "days_overdue": 2,
            "detected_at": "2026-10-28T06:00:00Z",
        },
    )


class SubjectErased(Event):
    """Every record about a child is being erased; each service deletes what it holds.

    Consumers erase by ``subject_id`` and by the situation and referral ids listed.
    """

    message_type: ClassVar[str] = "subject.erased"
    subject_field: ClassVar[str | None] = "subject_id"

    subject_id: uuid.UUID = Field(description=_SUBJECT_DOC)
    situation_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=50, description="Situations of the child to erase."
    )
    referral_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=200, description="Referrals of the child to erase."
    )
    reason: ErasureReason = Field(description="Why the records are erased.")
    erased_at: AwareDatetime = Field(description="When the erasure was decided.")

    model_config = _examples(
        {
            "subject_id": _SUBJECT,
            "situation_ids": [_SITUATION],
            "referral_ids": [_REFERRAL, _REFERRAL_2],
            "reason": "retention_period_ended",
            "erased_at": "2030-01-02T03:00:00Z",
        }
    )
