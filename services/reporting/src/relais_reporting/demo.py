"""Synthetic but realistic event streams: a PRE's school year of situations.

Used by the tests, the rebuild benchmark and ``relais-reporting demo`` (which loads two
school years into reporting's log only: nothing is published). Proportions follow
DOMAIN.md (58% boys; ages 6-10 52%, 11-16 32%, 2-5 15%; most referrals from schools; 61%
in a QPV; about two in three six-month follow-ups held). Nothing here is a real person:
``sealed`` is a placeholder JWE that nobody can open.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from relais_contracts.base import Message
from relais_contracts.envelope import CloudEvent, new_event
from relais_contracts.v1 import parcours as p
from relais_contracts.v1 import referral as r

FAKE_SEALED = "eyJhbGciOiJFQ0RILUVTIn0.AAAA.AAAA.AAAA.AAAA"
SOURCES = (["school"] * 55 + ["social_service"] * 20 + ["health"] * 12 + ["association"] * 8) + [
    "family"
] * 5
PARTNERS = ["cmpp", "speech_therapist", "clas", "sports_association", "family_guidance"]


class _Stream:
    def __init__(self, tenant: str, rng: random.Random) -> None:
        self.tenant = tenant
        self.rng = rng
        self.events: list[CloudEvent[Any]] = []
        self.sequences: dict[str, int] = {}

    def add(
        self,
        data: Message,
        at: datetime,
        *,
        source: str = "/relais/parcours",
        event_id: uuid.UUID | None = None,
    ) -> None:
        subject = data.ce_subject()
        assert subject is not None
        self.sequences[subject] = self.sequences.get(subject, 0) + 1
        self.events.append(
            new_event(
                data,
                source=source,
                tenant=self.tenant,
                sequence=self.sequences[subject],
                time=at,
                # Same seed, same ids: loading twice adds nothing.
                event_id=event_id or _uid(self.rng),
            )
        )


def school_year(
    tenant: str, start_year: int, children: int, *, seed: int = 7, until: datetime | None = None
) -> list[CloudEvent[Any]]:
    """Events of ``children`` referred children over the school year starting ``start_year``.

    Events are returned in time order; those after ``until`` (default: none) are left out,
    so a six-month follow-up is in only once it has been recorded.
    """
    rng = random.Random(seed)
    s = _Stream(tenant, random.Random(seed + 1))
    year_start = datetime(start_year, 9, 2, 8, tzinfo=UTC)
    for _ in range(children):
        _one_child(
            rng, s, year_start + timedelta(days=rng.randrange(0, 300), hours=rng.randrange(8))
        )
    events = sorted(s.events, key=lambda e: e.time)
    return [e for e in events if until is None or e.time <= until]


def _uid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _one_child(rng: random.Random, s: _Stream, submitted: datetime) -> None:
    subject, referral_id, situation = _uid(rng), _uid(rng), _uid(rng)
    roll = rng.random()
    age = (
        rng.randint(2, 5)
        if roll < 0.15
        else rng.randint(6, 10)
        if roll < 0.68
        else rng.randint(11, 16)
    )
    axes = rng.sample(["schooling", "health", "parenting", "wellbeing"], rng.randint(1, 3))
    s.add(
        r.ReferralSubmitted(
            referral_id=referral_id,
            subject_id=subject,
            known_subject=False,
            institution_id="ecole-jules-ferry-rouen",
            submitted_at=submitted,
            parents_informed=True,
            parents_agree=True,
            facts=r.ReferralFacts.model_validate(
                {
                    "age_years": age,
                    # A few senders leave sex out: small cells the dashboard must hide.
                    "sex": None
                    if rng.random() < 0.02
                    else rng.choices(["male", "female"], [58, 42])[0],
                    "school_level": "ce2",
                    "lives_in_qpv": "yes" if rng.random() < 0.61 else "no",
                    "source_category": rng.choice(SOURCES),
                    "reason_categories": rng.sample(
                        ["learning_difficulties", "behaviour", "speech", "family_situation"], 2
                    ),
                    "axes": axes,
                }
            ),
            sealed=FAKE_SEALED,
        ),
        submitted,
        source="/relais/referral",
    )
    opened = submitted + timedelta(minutes=1)
    ids = [referral_id]
    s.add(
        p.SituationOpened(
            situation_id=situation,
            subject_id=subject,
            referral_ids=ids,
            opened_at=opened,
            review_due_on=(opened + timedelta(days=21)).date(),
        ),
        opened,
    )
    decided = opened + timedelta(days=rng.randint(7, 30))
    decision = rng.choices(["take_up", "redirect", "decline"], [80, 10, 10])[0]
    review: dict[str, Any] = {
        "review_id": _uid(rng),
        "situation_id": situation,
        "subject_id": subject,
        "referral_ids": ids,
        "decision": decision,
        "decided_at": decided,
    }
    if decision == "take_up":
        review["axes"] = axes
    elif decision == "redirect":
        review |= {"redirected_to": "CMPP de Rouen", "redirect_category": "cmpp"}
    else:
        review["decline_reason"] = "outside_territory"
    s.add(p.ReviewDecided.model_validate(review), decided)
    if decision != "take_up":
        return
    referent = _uid(rng)
    s.add(
        p.ReferentAssigned(
            situation_id=situation, subject_id=subject, referent_id=referent, assigned_at=decided
        ),
        decided,
    )
    consented = decided + timedelta(days=rng.randint(3, 20))
    consent = _uid(rng)
    s.add(
        p.ConsentGiven(
            consent_id=consent,
            situation_id=situation,
            subject_id=subject,
            form="signed",
            given_at=consented,
        ),
        consented,
    )
    s.add(
        p.PlanUpdated.model_validate(
            {
                "situation_id": situation,
                "subject_id": subject,
                "plan_version": 1,
                "axes": [{"axis": a} for a in axes],
                "updated_at": consented,
            }
        ),
        consented,
    )
    at = consented
    for _ in range(rng.randint(0, 2)):
        handover = _uid(rng)
        category = rng.choice(PARTNERS)
        base = {
            "handover_id": handover,
            "situation_id": situation,
            "subject_id": subject,
            "partner_id": f"{category.replace('_', '-')}-rouen",
            "referent_id": referent,
        }
        at = at + timedelta(days=rng.randint(5, 20))
        s.add(
            p.HandoverRequested.model_validate(
                {
                    **base,
                    "action_id": _uid(rng),
                    "axis": axes[0],
                    "partner_category": category,
                    "consent_id": consent,
                    "requested_at": at,
                    "response_due_on": (at + timedelta(days=14)).date(),
                }
            ),
            at,
        )
        answered = at + timedelta(days=rng.randint(1, 15))
        if category == "cmpp" and rng.random() < 0.7:
            s.add(
                p.HandoverWaitlisted.model_validate({**base, "waitlisted_at": answered}), answered
            )
            answered = answered + timedelta(days=rng.randint(30, 120))
        s.add(p.HandoverAccepted.model_validate({**base, "accepted_at": answered}), answered)
    if rng.random() < 0.05:
        withdrawn = consented + timedelta(days=rng.randint(10, 60))
        s.add(
            p.ConsentWithdrawn(
                consent_id=consent,
                situation_id=situation,
                subject_id=subject,
                withdrawn_at=withdrawn,
            ),
            withdrawn,
        )
    if rng.random() < 0.35:
        closed = consented + timedelta(days=rng.randint(60, 270))
        s.add(
            p.ParcoursClosed.model_validate(
                {
                    "situation_id": situation,
                    "subject_id": subject,
                    "referral_ids": ids,
                    "exit_reason": rng.choices(
                        [
                            "objectives_met",
                            "relay_to_ordinary_services",
                            "family_moved",
                            "age_limit",
                        ],
                        [50, 25, 20, 3],
                    )[0],
                    "axes": axes,
                    "started_on": consented.date(),
                    "closed_at": closed,
                    "final_review_held": True,
                    "followup_due_on": (closed + timedelta(days=182)).date(),
                }
            ),
            closed,
        )
        _followup(s, situation, subject, (closed + timedelta(days=182)).date())


#: What the six-month follow-ups found, when they were held.
FOLLOWUP_OUTCOMES = {
    "stable": 45,
    "improved": 33,
    "new_difficulties": 12,
    "new_referral_needed": 6,
    "family_declined": 4,
}
#: Share of the six-month follow-ups that the team manages to hold (and record).
FOLLOWUP_HELD = 0.68


def _followup(s: _Stream, situation: uuid.UUID, subject: uuid.UUID, due: date) -> None:
    """About two in three families are met again six months after the exit, a few weeks
    after the due day at most. The draws come from the situation's own generator, not the
    stream's: the other events of the demo keep the ids they had before follow-ups were
    added to it, so loading this demo over an older one adds the follow-ups and nothing else.
    """
    rng = random.Random(situation.int)
    event_id, followup_id = _uid(rng), _uid(rng)
    held = due + timedelta(days=rng.randint(0, 30))
    recorded = datetime(held.year, held.month, held.day, 9, tzinfo=UTC) + timedelta(
        hours=rng.randint(0, 8), days=rng.choice([0, 0, 0, 1, 2])
    )
    outcome = rng.choices(list(FOLLOWUP_OUTCOMES), list(FOLLOWUP_OUTCOMES.values()))[0]
    if rng.random() >= FOLLOWUP_HELD:
        return
    s.add(
        p.FollowupRecorded.model_validate(
            {
                "followup_id": followup_id,
                "situation_id": situation,
                "subject_id": subject,
                "outcome": outcome,
                "held_on": held,
                "recorded_at": recorded,
            }
        ),
        recorded,
        event_id=event_id,
    )


def day(value: str) -> date:
    return date.fromisoformat(value)


def chunks(events: list[CloudEvent[Any]], size: int) -> Iterator[list[CloudEvent[Any]]]:
    for i in range(0, len(events), size):
        yield events[i : i + size]
