"""Parcours' use cases on in-memory fakes of the unit of work (no PostgreSQL, no broker):
the rules as the routes, the scheduler and the consumers run them, in milliseconds."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest

from relais_contracts.envelope import new_event
from relais_contracts.types import (
    Axis,
    ConsentForm,
    DataCategory,
    ErasureReason,
    ExitReason,
    FollowupOutcome,
    HandoverCancelReason,
    ReviewDecision,
)
from relais_contracts.v1.referral import ReferralSubmitted, ReferralWithdrawn
from relais_parcours.context import Parcours
from relais_parcours.domain.consent import UnknownGuardianError
from relais_parcours.service import (
    child_texts,
    closure,
    consent,
    erasure,
    handovers,
    open_situation,
    plan,
    referents,
    review,
)
from relais_parcours.service.dates import FieldRefused
from relais_parcours.service.deadlines import fire_due_deadlines
from relais_parcours.service.withdraw_referral import referral_withdrawn
from relais_runtime.auth import Principal
from relais_runtime.consumer import Tx
from relais_runtime.errors import DomainError
from relais_runtime.vault import SubjectVault

from .fakes import SOURCE, FakeDatabase, FakeParked, FakeUnitOfWork

PRE = "pre-76540"
OTHER_PRE = "pre-13055"
NOW = datetime(2027, 2, 10, 9, 30, tzinfo=UTC)
CTX = cast(
    Parcours,
    SimpleNamespace(
        settings=SimpleNamespace(
            timezone="Europe/Paris", caseload_limit=2, handover_response_days=15
        ),
        vault=SubjectVault(bytes(range(32))),
    ),
)

COORDINATOR = Principal(sub="coord-1", org=PRE, tenant=PRE, roles=frozenset({"coordinator"}))


def referent_principal(sub: str) -> Principal:
    return Principal(sub=sub, org=PRE, tenant=PRE, roles=frozenset({"referent"}))


def partners(tenant: str = PRE) -> list[dict[str, Any]]:
    return [
        {"id": "cmpp-rouen", "name": "CMPP de Rouen", "category": "cmpp", "pre_id": tenant},
        {
            "id": "clas-saint-sever",
            "name": "CLAS Saint-Sever",
            "category": "clas",
            "pre_id": tenant,
        },
    ]


class World:
    """One PRE's situation in parcours, its consent and handovers, in the fake tables."""

    def __init__(self, db: FakeDatabase, tenant: str = PRE) -> None:
        self.db = db
        self.tenant = tenant
        t = db.tables
        t.directory[tenant] = partners(tenant)
        self.referent_id = uuid.uuid4()
        t.referents[self.referent_id] = {
            "id": self.referent_id,
            "pre_id": tenant,
            "user_sub": "referent-1",
            "display_name": "Awa Diallo",
            "active": True,
            "caseload_limit": None,
            "version": 1,
        }
        self.situation_id = uuid.uuid4()
        t.situations[self.situation_id] = {
            "id": self.situation_id,
            "pre_id": tenant,
            "subject_id": uuid.uuid4(),
            "stage": "in_parcours",
            "referent_id": self.referent_id,
            "opened_at": NOW - timedelta(days=60),
            "referral_ids": [uuid.uuid4()],
            # Each referral's facts, as the situation is read (never a name).
            "facts": [{"reason_categories": ["learning_difficulties"], "school_level": "cm2"}],
            "axes": ["schooling"],
            "started_on": (NOW - timedelta(days=50)).date(),
            "closed_at": None,
            "plan_version": 0,
            "version": 3,
        }
        self.consent_id = uuid.uuid4()
        t.consents[self.consent_id] = {
            "id": self.consent_id,
            "pre_id": tenant,
            "situation_id": self.situation_id,
            "status": "active",
            "form": "signed",
            "guardians": [{"label": "Mère"}, {"label": "Père"}],
            "scope": [
                {"partner_id": "cmpp-rouen", "data_categories": ["health"]},
                {"partner_category": "clas", "data_categories": ["schooling"]},
            ],
            "given_at": NOW - timedelta(days=30),
            "valid_until": None,
            "ended_at": None,
            "withdrawn_by": None,
        }

    def handover(self, partner_id: str, status: str = "requested", **row: Any) -> uuid.UUID:
        handover_id = uuid.uuid4()
        self.db.tables.handovers[handover_id] = {
            "id": handover_id,
            "pre_id": self.tenant,
            "situation_id": self.situation_id,
            "partner_id": partner_id,
            "referent_id": self.referent_id,
            "status": status,
            "data_categories": ["health"] if partner_id == "cmpp-rouen" else ["schooling"],
            "version": 1,
            **row,
        }
        self.db.tables.deadlines.append(
            {
                "id": uuid.uuid4(),
                "pre_id": self.tenant,
                "situation_id": self.situation_id,
                "kind": "handover_response",
                "handover_id": handover_id,
                "due_on": NOW.date() + timedelta(days=15),
                "resolved": False,
            }
        )
        return handover_id


@pytest.fixture
def db() -> FakeDatabase:
    return FakeDatabase()


@pytest.fixture
def world(db: FakeDatabase) -> World:
    return World(db)


def types_of(db: FakeDatabase) -> list[str]:
    """The types of the events written, without prefix and version: consent.withdrawn."""
    return [e.type.removeprefix("fr.relais.").rsplit(".", 1)[0] for e in db.outbox]


async def test_withdrawn_consent_cancels_open_handovers(db: FakeDatabase, world: World) -> None:
    cmpp = world.handover("cmpp-rouen")
    clas = world.handover("clas-saint-sever", "accepted")
    done = world.handover("cmpp-rouen", "completed")

    partners_cut_off = await consent.withdraw(
        db.scoped(PRE), COORDINATOR, world.situation_id, world.consent_id, guardian=" mère "
    )

    t = db.tables
    assert set(partners_cut_off) == {"cmpp-rouen", "clas-saint-sever"}
    assert t.consents[world.consent_id]["status"] == "withdrawn"
    assert t.consents[world.consent_id]["withdrawn_by"] == "Mère"
    assert {t.handovers[h]["status"] for h in (cmpp, clas)} == {"cancelled"}
    assert {t.handovers[h]["cancel_reason"] for h in (cmpp, clas)} == {"consent_withdrawn"}
    assert t.handovers[done]["status"] == "completed"
    # The partners' answer deadlines of the cancelled handovers are met, not the other's.
    resolved = {d["handover_id"] for d in t.deadlines if d["resolved"]}
    assert resolved == {cmpp, clas}
    # One event per cancelled handover (its own sequence), then the withdrawal (the
    # situation's next version); all written in the same unit, over HTTP a flow of its own.
    assert sorted(types_of(db)[:2]) == ["handover.cancelled"] * 2
    withdrawn = db.outbox[-1]
    assert withdrawn.data.partner_ids == partners_cut_off
    assert (withdrawn.sequence, withdrawn.tenant) == (4, PRE)
    assert withdrawn.correlationid == str(withdrawn.id)
    assert {e.sequence for e in db.outbox[:2]} == {2}
    # Every change is in the access log: the consent, the partners it cut off, the handovers.
    logged = [(a.record_type, a.purpose) for a in t.accesses]
    assert (
        "consent",
        "recueil du consentement de la famille au partage (CASF L.121-6-2)",
    ) in logged
    assert sum(1 for a in t.accesses if a.record_type == "handover") == 2
    assert db.opened == [PRE]


async def test_a_withdrawal_by_someone_who_did_not_give_the_consent_changes_nothing(
    db: FakeDatabase, world: World
) -> None:
    cmpp = world.handover("cmpp-rouen")

    with pytest.raises(UnknownGuardianError):
        await consent.withdraw(
            db.scoped(PRE), COORDINATOR, world.situation_id, world.consent_id, guardian="Tante"
        )

    assert db.tables.consents[world.consent_id]["status"] == "active"
    assert db.tables.handovers[cmpp]["status"] == "requested"
    assert (db.outbox, db.tables.accesses) == ([], [])


async def test_a_consent_no_longer_in_force_cannot_be_withdrawn_again(
    db: FakeDatabase, world: World
) -> None:
    await consent.withdraw(
        db.scoped(PRE), COORDINATOR, world.situation_id, world.consent_id, guardian="Père"
    )
    with pytest.raises(DomainError) as refused:
        await consent.withdraw(
            db.scoped(PRE), COORDINATOR, world.situation_id, world.consent_id, guardian="Père"
        )
    assert refused.value.code == "consent_not_active"
    assert types_of(db) == ["consent.withdrawn"]


async def test_another_pre_cannot_withdraw_a_consent_it_does_not_hold(
    db: FakeDatabase, world: World
) -> None:
    other = Principal(
        sub="coord-2", org=OTHER_PRE, tenant=OTHER_PRE, roles=frozenset({"coordinator"})
    )
    with pytest.raises(DomainError) as refused:
        await consent.withdraw(
            db.scoped(OTHER_PRE), other, world.situation_id, world.consent_id, guardian="Mère"
        )
    assert refused.value.status == 404
    assert db.tables.consents[world.consent_id]["status"] == "active"


async def test_a_referent_acts_only_on_the_situations_they_follow(
    db: FakeDatabase, world: World
) -> None:
    world.handover("cmpp-rouen")
    db.tables.referents[uuid.uuid4()] = {
        "id": uuid.uuid4(),
        "pre_id": PRE,
        "user_sub": "referent-2",
    }

    with pytest.raises(DomainError) as refused:
        await consent.withdraw(
            db.scoped(PRE),
            referent_principal("referent-2"),
            world.situation_id,
            world.consent_id,
            guardian="Mère",
        )
    assert refused.value.code == "not_your_situation"

    await consent.withdraw(
        db.scoped(PRE),
        referent_principal("referent-1"),
        world.situation_id,
        world.consent_id,
        guardian="Mère",
    )
    assert db.tables.consents[world.consent_id]["status"] == "withdrawn"


async def test_a_narrower_consent_cancels_the_handovers_it_no_longer_covers(
    db: FakeDatabase, world: World
) -> None:
    cmpp = world.handover("cmpp-rouen")
    clas = world.handover("clas-saint-sever")

    new_id = await consent.give(
        db.scoped(PRE),
        CTX,
        COORDINATOR,
        world.situation_id,
        form=ConsentForm.SIGNED,
        given_at=NOW,
        valid_until=None,
        guardians=[{"label": "Mère"}],
        sole_guardian_reason=None,
        witness=None,
        scope=[{"partner_category": "clas", "data_categories": ["schooling"]}],
    )

    t = db.tables
    assert t.consents[world.consent_id]["status"] == "superseded"
    assert t.consents[new_id]["status"] == "active"
    assert t.consents[new_id]["supersedes"] == world.consent_id
    assert t.handovers[cmpp]["status"] == "cancelled"
    assert t.handovers[clas]["status"] == "requested"
    assert types_of(db) == ["handover.cancelled", "consent.given"]
    given = db.outbox[-1]
    assert given.data.supersedes_consent_id == world.consent_id
    assert [s.partner_id for s in given.data.scope] == ["clas-saint-sever"]


async def test_a_consent_naming_a_partner_outside_the_directory_is_refused(
    db: FakeDatabase, world: World
) -> None:
    with pytest.raises(DomainError) as refused:
        await consent.give(
            db.scoped(PRE),
            CTX,
            COORDINATOR,
            world.situation_id,
            form=ConsentForm.SIGNED,
            given_at=NOW,
            valid_until=None,
            guardians=[{"label": "Mère"}],
            sole_guardian_reason=None,
            witness=None,
            scope=[{"partner_id": "inconnu", "data_categories": ["health"]}],
        )
    assert refused.value.code == "partner_not_found"
    assert db.tables.consents[world.consent_id]["status"] == "active"
    assert db.outbox == []


async def test_a_consent_dated_before_the_situation_opened_is_refused(
    db: FakeDatabase, world: World
) -> None:
    with pytest.raises(FieldRefused):
        await consent.give(
            db.scoped(PRE),
            CTX,
            COORDINATOR,
            world.situation_id,
            form=ConsentForm.SIGNED,
            given_at=NOW - timedelta(days=90),
            valid_until=None,
            guardians=[{"label": "Mère"}],
            sole_guardian_reason=None,
            witness=None,
            scope=[],
        )
    assert db.outbox == []


async def test_consents_past_their_last_day_expire_and_cut_off_their_partners(
    db: FakeDatabase, world: World
) -> None:
    db.tables.consents[world.consent_id]["valid_until"] = date(2027, 2, 9)
    cmpp = world.handover("cmpp-rouen")
    elsewhere = World(db, OTHER_PRE)  # another PRE's consent, still valid

    assert await consent.expire_consents(db.sweep(), CTX, NOW) == 1

    t = db.tables
    assert t.consents[world.consent_id]["status"] == "expired"
    assert t.consents[elsewhere.consent_id]["status"] == "active"
    assert t.handovers[cmpp]["cancel_reason"] == "consent_expired"
    expired = db.outbox[-1]
    assert types_of(db)[-1] == "consent.expired"
    assert (expired.tenant, expired.data.partner_ids) == (PRE, ["cmpp-rouen"])
    assert db.opened == [None]  # a sweep, not a PRE's unit
    assert await consent.expire_consents(db.sweep(), CTX, NOW) == 0


async def test_a_consent_sent_again_under_its_key_is_recorded_once(
    db: FakeDatabase, world: World
) -> None:
    retry = consent.retries.Keyed(consent.retries.CONSENT, "key-1", "digest-1")

    async def give() -> uuid.UUID:
        return await consent.give(
            db.scoped(PRE),
            CTX,
            COORDINATOR,
            world.situation_id,
            form=ConsentForm.SIGNED,
            given_at=NOW,
            valid_until=None,
            guardians=[{"label": "Mère"}],
            sole_guardian_reason=None,
            witness=None,
            scope=[],
            retry=retry,
        )

    first = await give()
    assert await give() == first
    assert types_of(db) == ["consent.given"]


async def test_a_cancellation_run_for_a_message_continues_that_messages_flow(
    db: FakeDatabase, world: World
) -> None:
    """A use case given a consumer's unit (``units.within(tx)``): its events are caused by
    the message being handled, as over AMQP."""
    cmpp = world.handover("cmpp-rouen")
    incoming = new_event(
        ReferralWithdrawn(
            referral_id=uuid.uuid4(),
            subject_id=uuid.uuid4(),
            institution_id="college-hugo",
            withdrawn_at=NOW,
        ),
        source="/relais/referral",
        subject="r1",
        tenant=PRE,
        sequence=2,
    )
    tx = Tx(None, incoming, SOURCE)  # type: ignore[arg-type]

    await handovers.cancel(db.within(tx), COORDINATOR, cmpp, HandoverCancelReason.OTHER)

    (cancelled,) = db.outbox
    assert cancelled.correlationid == incoming.correlationid
    assert cancelled.causationid == str(incoming.id)
    assert db.tables.handovers[cmpp]["status"] == "cancelled"


async def test_a_closed_handover_cannot_be_cancelled(db: FakeDatabase, world: World) -> None:
    done = world.handover("cmpp-rouen", "completed")
    with pytest.raises(DomainError) as refused:
        await handovers.cancel(db.scoped(PRE), COORDINATOR, done, HandoverCancelReason.OTHER)
    assert refused.value.code == "handover_closed"
    assert db.outbox == []


def awaiting_review(db: FakeDatabase, referrals: int) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A situation awaiting its review, opened by ``referrals`` referrals, its review due."""
    situation_id = uuid.uuid4()
    db.tables.situations[situation_id] = {
        "id": situation_id,
        "pre_id": PRE,
        "subject_id": uuid.uuid4(),
        "stage": "awaiting_review",
        "referent_id": None,
        # Decisions are checked against the real « today » (review.decide reads the clock).
        "opened_at": datetime.now(UTC) - timedelta(days=2),
        "referral_ids": [],
        "axes": [],
        "started_on": None,
        "closed_at": None,
        "version": 1,
    }
    referral_ids = [uuid.uuid4() for _ in range(referrals)]
    db.tables.situations[situation_id]["referral_ids"] = referral_ids
    for referral_id in referral_ids:
        db.tables.referrals[referral_id] = {
            "id": referral_id,
            "pre_id": PRE,
            "situation_id": situation_id,
            "withdrawn_at": None,
            "identity_enc": b"sealed",
        }
    db.tables.deadlines.append(
        {
            "id": uuid.uuid4(),
            "pre_id": PRE,
            "situation_id": situation_id,
            "kind": "review",
            "handover_id": None,
            "due_on": NOW.date(),
            "resolved": False,
        }
    )
    return situation_id, referral_ids


def withdrawal_of(referral_id: uuid.UUID, tenant: str = PRE) -> Tx:
    """A consumer's unit for referral.withdrawn (the message as its cause)."""
    incoming = new_event(
        ReferralWithdrawn(
            referral_id=referral_id,
            subject_id=uuid.uuid4(),
            institution_id="college-hugo",
            withdrawn_at=NOW,
        ),
        source="/relais/referral",
        subject=str(referral_id),
        tenant=tenant,
        sequence=2,
    )
    return Tx(None, incoming, SOURCE)  # type: ignore[arg-type]


async def test_a_situation_whose_every_referral_is_withdrawn_before_its_review_is_withdrawn(
    db: FakeDatabase,
) -> None:
    situation_id, (first, second) = awaiting_review(db, 2)

    tx = withdrawal_of(first)
    await referral_withdrawn(db.within(tx), PRE, tx.incoming.data)
    assert db.tables.situations[situation_id]["stage"] == "awaiting_review"  # one left
    assert db.tables.referrals[first]["identity_enc"] is None  # its identity dropped

    tx = withdrawal_of(second)
    await referral_withdrawn(db.within(tx), PRE, tx.incoming.data)
    assert db.tables.situations[situation_id]["stage"] == "withdrawn"
    assert [d["resolved"] for d in db.tables.deadlines] == [True]
    assert db.opened == [PRE, PRE]  # the message's PRE


async def test_a_withdrawal_after_the_review_leaves_the_situation_as_it_is(
    db: FakeDatabase,
) -> None:
    situation_id, (only,) = awaiting_review(db, 1)
    db.tables.situations[situation_id]["stage"] = "in_parcours"

    tx = withdrawal_of(only)
    await referral_withdrawn(db.within(tx), PRE, tx.incoming.data)

    assert db.tables.situations[situation_id]["stage"] == "in_parcours"
    assert db.tables.referrals[only]["identity_enc"] is None
    assert [d["resolved"] for d in db.tables.deadlines] == [False]


async def test_a_withdrawal_of_another_pres_referral_changes_nothing(db: FakeDatabase) -> None:
    situation_id, (only,) = awaiting_review(db, 1)

    tx = withdrawal_of(only, OTHER_PRE)
    await referral_withdrawn(db.within(tx), OTHER_PRE, tx.incoming.data)

    assert db.tables.situations[situation_id]["stage"] == "awaiting_review"
    assert db.tables.referrals[only]["identity_enc"] == b"sealed"


async def test_a_deadline_past_due_fires_once_as_an_event_of_its_situation(
    db: FakeDatabase, world: World
) -> None:
    late = world.handover("cmpp-rouen")
    world.handover("clas-saint-sever")  # its deadline is also due in 15 days
    db.tables.deadlines[0]["due_on"] = NOW.date() - timedelta(days=3)

    assert await fire_due_deadlines(db.sweep(), CTX, now=NOW) == 1
    assert await fire_due_deadlines(db.sweep(), CTX, now=NOW) == 0

    (overdue,) = db.outbox
    assert types_of(db) == ["deadline.overdue"]
    assert (overdue.data.handover_id, overdue.data.partner_id) == (late, "cmpp-rouen")
    assert overdue.data.days_overdue == 3
    assert (overdue.tenant, overdue.sequence) == (PRE, 4)  # the situation's next version
    assert db.opened == [None, None]  # sweeps


async def a_meeting(db: FakeDatabase, meets_on: date, *situation_ids: uuid.UUID) -> uuid.UUID:
    return await review.plan_meeting(
        db.scoped(PRE),
        CTX,
        COORDINATOR,
        meets_on=meets_on,
        attendees=[{"name": "Coordination", "role": "coordinator"}],
        situation_ids=list(situation_ids),
    )


async def decide(
    db: FakeDatabase, meeting_id: uuid.UUID, situation_id: uuid.UUID, note: str | None = None
) -> uuid.UUID:
    return await review.decide(
        db.scoped(PRE),
        CTX,
        COORDINATOR,
        meeting_id,
        situation_id=situation_id,
        decision=ReviewDecision.TAKE_UP,
        decline_reason=None,
        redirected_to=None,
        redirect_category=None,
        axes=[Axis.SCHOOLING, Axis.HEALTH],
        note=note,
    )


async def test_a_decision_before_its_meeting_is_refused(db: FakeDatabase) -> None:
    situation_id, _ = awaiting_review(db, 1)
    meeting_id = await a_meeting(db, datetime.now(UTC).date() + timedelta(days=7), situation_id)

    with pytest.raises(DomainError) as refused:
        await decide(db, meeting_id, situation_id)

    assert refused.value.code == "review_not_held"
    assert db.tables.situations[situation_id]["stage"] == "awaiting_review"
    assert (db.outbox, db.tables.decisions) == ([], {})


async def test_a_take_up_decided_at_its_meeting_starts_the_parcours(db: FakeDatabase) -> None:
    situation_id, _ = awaiting_review(db, 1)
    today = datetime.now(UTC).date()
    meeting_id = await a_meeting(db, today - timedelta(days=1), situation_id)

    decision_id = await decide(db, meeting_id, situation_id, note="Fatigue en classe")

    situation = db.tables.situations[situation_id]
    assert situation["stage"] == "in_parcours"
    assert situation["axes"] == ["health", "schooling"]
    assert [d["resolved"] for d in db.tables.deadlines] == [True]  # the review is done
    (decided,) = db.outbox
    assert (decided.data.review_id, decided.sequence) == (decision_id, 2)
    # The note is under the child's key, never in clear.
    stored = db.tables.decisions[decision_id]
    assert "note" not in stored
    texts = await child_texts.texts_in(FakeUnitOfWork(db.tables), CTX, PRE, situation["subject_id"])
    assert texts.text({"note_enc": stored["note_enc"], "note": None}, "note") == (
        "Fatigue en classe"
    )


async def test_a_situation_off_the_agenda_cannot_be_decided(db: FakeDatabase) -> None:
    on, _ = awaiting_review(db, 1)
    off, _ = awaiting_review(db, 1)
    meeting_id = await a_meeting(db, datetime.now(UTC).date(), on)

    with pytest.raises(DomainError) as refused:
        await decide(db, meeting_id, off)

    assert refused.value.code == "not_on_agenda"


async def test_a_meeting_cannot_review_a_situation_opened_after_its_day(
    db: FakeDatabase,
) -> None:
    situation_id, _ = awaiting_review(db, 1)

    with pytest.raises(FieldRefused) as refused:
        await a_meeting(db, datetime.now(UTC).date() - timedelta(days=10), situation_id)

    assert refused.value.field == "meets_on"
    assert db.tables.meetings == {}


async def test_a_full_caseload_refuses_an_assignment_unless_the_coordination_gives_a_reason(
    db: FakeDatabase, world: World
) -> None:
    # Two situations followed already: the limit (2) is reached.
    second = World(db)
    db.tables.situations[second.situation_id]["referent_id"] = world.referent_id
    newcomer = World(db)

    with pytest.raises(DomainError) as refused:
        await referents.assign(
            db.scoped(PRE),
            CTX,
            COORDINATOR,
            newcomer.situation_id,
            referent_id=world.referent_id,
            override_reason=None,
        )
    assert refused.value.code == "caseload_full"
    assert db.tables.assignments == []

    over = await referents.assign(
        db.scoped(PRE),
        CTX,
        COORDINATOR,
        newcomer.situation_id,
        referent_id=world.referent_id,
        override_reason="Fratrie déjà suivie",
    )

    assert over is True
    (assignment,) = db.tables.assignments
    assert assignment["over_limit"]
    assert assignment["override_reason_enc"] is not None
    assert b"Fratrie" not in assignment["override_reason_enc"]
    assert db.tables.situations[newcomer.situation_id]["referent_id"] == world.referent_id
    (assigned,) = db.outbox
    assert assigned.data.previous_referent_id == newcomer.referent_id


async def test_a_login_another_referent_uses_is_refused(db: FakeDatabase, world: World) -> None:
    with pytest.raises(DomainError) as refused:
        await referents.register(
            db.scoped(PRE),
            COORDINATOR,
            uuid.uuid4(),
            {"user_sub": "referent-1", "display_name": "Homonyme", "active": True},
        )
    assert refused.value.code == "referent_conflict"
    assert db.outbox == []


async def test_an_objective_and_its_action_make_the_plan_s_next_versions(
    db: FakeDatabase, world: World
) -> None:
    objective_id = await plan.add_objective(
        db.scoped(PRE),
        CTX,
        COORDINATOR,
        world.situation_id,
        {"axis": Axis.SCHOOLING, "title": "Retrouver le goût de l'école", "target_on": None},
    )
    action_id = await plan.add_action(
        db.scoped(PRE),
        CTX,
        COORDINATOR,
        world.situation_id,
        objective_id,
        {"title": "Aide aux devoirs au CLAS", "starts_on": None, "ends_on": None},
    )

    assert types_of(db) == ["plan.updated", "plan.updated"]
    assert [e.data.plan_version for e in db.outbox] == [1, 2]
    assert [e.sequence for e in db.outbox] == [4, 5]  # the situation's own sequence
    # Titles are under the child's key, and read back through it.
    assert db.tables.objectives[objective_id]["title"] is None
    assert b"CLAS" not in db.tables.actions[action_id]["title_enc"]
    _, objectives, actions = await plan.read(db.scoped(PRE), CTX, COORDINATOR, world.situation_id)
    assert [o["title"] for o in objectives] == ["Retrouver le goût de l'école"]
    assert [(a["title"], a["axis"]) for a in actions] == [("Aide aux devoirs au CLAS", "schooling")]
    # Each change in the access log, naming the groups written, never the words.
    assert [a.record_type for a in db.tables.accesses] == ["plan_objective", "plan_action"]


async def test_a_plan_changes_only_while_the_parcours_is_open(
    db: FakeDatabase, world: World
) -> None:
    db.tables.situations[world.situation_id]["stage"] = "closed"

    with pytest.raises(DomainError) as refused:
        await plan.add_objective(
            db.scoped(PRE),
            CTX,
            COORDINATOR,
            world.situation_id,
            {"axis": Axis.HEALTH, "title": "Bilan orthophonique", "target_on": None},
        )

    assert refused.value.code == "situation_not_in_parcours"
    assert (db.outbox, db.tables.objectives, db.tables.accesses) == ([], {}, [])


async def test_an_action_ending_before_it_starts_is_refused(db: FakeDatabase, world: World) -> None:
    objective_id = await plan.add_objective(
        db.scoped(PRE),
        CTX,
        COORDINATOR,
        world.situation_id,
        {"axis": Axis.HEALTH, "title": "Bilan", "target_on": None},
    )
    with pytest.raises(DomainError) as refused:
        await plan.add_action(
            db.scoped(PRE),
            CTX,
            COORDINATOR,
            world.situation_id,
            objective_id,
            {
                "title": "Rendez-vous",
                "starts_on": datetime.now(UTC).date(),
                "ends_on": datetime.now(UTC).date() - timedelta(days=1),
            },
        )
    assert refused.value.code == "ends_before_start"
    assert db.tables.actions == {}


def with_identity(db: FakeDatabase, world: World, guardians: list[dict[str, Any]]) -> None:
    """The situation's referral, its identity sealed under the child's key."""
    subject_id = db.tables.situations[world.situation_id]["subject_id"]
    wrapped = CTX.vault.new_data_key(subject_id)
    db.tables.subject_keys[(PRE, subject_id)] = wrapped
    referral_id = uuid.uuid4()
    db.tables.referrals[referral_id] = {
        "id": referral_id,
        "pre_id": PRE,
        "situation_id": world.situation_id,
        "withdrawn_at": None,
        "received_at": NOW - timedelta(days=60),
        "identity_enc": CTX.vault.encrypt(
            wrapped, subject_id, {"child": {"first_name": "Lina"}, "guardians": guardians}
        ),
    }


async def close_it(db: FakeDatabase, world: World, **given: Any) -> list[str]:
    return await closure.close(
        db.scoped(PRE),
        CTX_CLOSING,
        COORDINATOR,
        world.situation_id,
        exit_reason=given.get("exit_reason", ExitReason.OBJECTIVES_MET),
        exit_reason_text=given.get("exit_reason_text"),
        final_review_held=True,
    )


CTX_CLOSING = cast(
    Parcours,
    SimpleNamespace(
        settings=SimpleNamespace(
            timezone="Europe/Paris", followup_after_months=6, max_duration_months=24
        ),
        vault=CTX.vault,
    ),
)


async def test_closing_a_parcours_cancels_its_handovers_and_plans_the_follow_up(
    db: FakeDatabase, world: World
) -> None:
    cmpp = world.handover("cmpp-rouen", "accepted")
    with_identity(db, world, [{"label": "Mère", "email": "mere@example.org"}, {"label": "Père"}])

    warnings = await close_it(db, world, exit_reason_text="Déménagement à Lyon")

    t = db.tables
    situation = t.situations[world.situation_id]
    assert warnings == []
    assert situation["stage"] == "closed"
    assert b"Lyon" not in situation["exit_reason_text_enc"]
    assert t.handovers[cmpp]["cancel_reason"] == "parcours_closed"
    (followup,) = [d for d in t.deadlines if d["kind"] == "followup"]
    assert followup["due_on"] == situation["followup_due_on"]
    # Each guardian is told when the follow-up is planned, once.
    assert [(n["kind"], n["guardian_index"]) for n in t.notices] == [
        ("followup_planned", 0),
        ("followup_planned", 1),
    ]
    assert types_of(db) == ["handover.cancelled", "parcours.closed"]
    assert ("situation", "change") in [(a.record_type, a.action) for a in t.accesses]


async def test_only_a_parcours_in_progress_can_be_closed(db: FakeDatabase, world: World) -> None:
    db.tables.situations[world.situation_id]["stage"] = "awaiting_review"

    with pytest.raises(DomainError):
        await close_it(db, world)

    assert db.outbox == []
    assert db.tables.notices == []


async def test_a_follow_up_is_recorded_once(db: FakeDatabase, world: World) -> None:
    await close_it(db, world)
    held_on = datetime.now(UTC).date()

    async def record() -> uuid.UUID:
        return await closure.record_followup(
            db.scoped(PRE),
            CTX_CLOSING,
            COORDINATOR,
            world.situation_id,
            outcome=FollowupOutcome.STABLE,
            held_on=held_on,
        )

    await record()
    with pytest.raises(DomainError) as refused:
        await record()

    assert refused.value.code == "followup_already_recorded"
    assert types_of(db)[-1] == "followup.recorded"
    assert [d["resolved"] for d in db.tables.deadlines if d["kind"] == "followup"] == [True]


async def test_an_erasure_destroys_the_child_s_key_and_stops_every_sharing(
    db: FakeDatabase, world: World
) -> None:
    cmpp = world.handover("cmpp-rouen")
    with_identity(db, world, [{"label": "Mère"}])
    subject_id = db.tables.situations[world.situation_id]["subject_id"]
    parked = FakeParked()

    await erasure.erase(
        db.scoped(PRE), parked, COORDINATOR, world.situation_id, ErasureReason.DATA_SUBJECT_REQUEST
    )

    t = db.tables
    assert (PRE, subject_id) not in t.subject_keys
    assert t.situations[world.situation_id]["stage"] == "erased"
    assert t.handovers[cmpp]["status"] == "cancelled"
    assert types_of(db) == ["handover.cancelled", "subject.erased"]
    assert [a.action for a in t.accesses][-1] == "erase"
    # Parked messages about the child, its situation and its referrals are dropped.
    assert str(subject_id) in parked.purged
    assert str(world.situation_id) in parked.purged
    with pytest.raises(DomainError) as again:
        await erasure.erase(
            db.scoped(PRE),
            parked,
            COORDINATOR,
            world.situation_id,
            ErasureReason.DATA_SUBJECT_REQUEST,
        )
    assert again.value.code == "already_erased"


async def an_action(db: FakeDatabase, world: World) -> uuid.UUID:
    objective_id = await plan.add_objective(
        db.scoped(PRE),
        CTX,
        COORDINATOR,
        world.situation_id,
        {"axis": Axis.SCHOOLING, "title": "Retrouver le goût de l'école", "target_on": None},
    )
    return await plan.add_action(
        db.scoped(PRE),
        CTX,
        COORDINATOR,
        world.situation_id,
        objective_id,
        {"title": "Aide aux devoirs", "starts_on": None, "ends_on": None},
    )


async def test_a_handover_beyond_the_consent_is_refused(db: FakeDatabase, world: World) -> None:
    action_id = await an_action(db, world)
    before = len(db.outbox)

    # The consent lets the CLAS see the schooling, not the health.
    with pytest.raises(DomainError) as refused:
        await handovers.request(
            db.scoped(PRE),
            CTX,
            COORDINATOR,
            world.situation_id,
            action_id=action_id,
            partner_id="clas-saint-sever",
            data_categories=[DataCategory.HEALTH],
            message=None,
        )

    assert refused.value.code == "consent_scope_exceeded"
    assert db.tables.handovers == {}
    assert len(db.outbox) == before


async def test_a_partner_s_acceptance_emits_its_event_and_starts_the_action(
    db: FakeDatabase, world: World
) -> None:
    action_id = await an_action(db, world)
    handover_id = await handovers.request(
        db.scoped(PRE),
        CTX,
        COORDINATOR,
        world.situation_id,
        action_id=action_id,
        partner_id="clas-saint-sever",
        data_categories=[DataCategory.SCHOOLING],
        message="Le mardi soir",
    )
    assert types_of(db)[-2:] == ["handover.requested", "plan.updated"]
    assert b"mardi" not in db.tables.handovers[handover_id]["message_enc"]
    clas = Principal(sub="clas-1", org="clas-saint-sever", tenant=PRE, roles=frozenset({"partner"}))
    cmpp = Principal(sub="cmpp-1", org="cmpp-rouen", tenant=PRE, roles=frozenset({"partner"}))

    # Another partner does not see it.
    with pytest.raises(DomainError) as unseen:
        await handovers.respond(db.scoped(PRE), CTX, cmpp, handover_id, "accepted")
    assert unseen.value.status == 404

    await handovers.respond(db.scoped(PRE), CTX, clas, handover_id, "accepted")

    accepted, updated = db.outbox[-2:]
    assert types_of(db)[-2:] == ["handover.accepted", "plan.updated"]
    assert (accepted.subject, accepted.sequence, accepted.tenant) == (str(handover_id), 2, PRE)
    assert db.tables.handovers[handover_id]["status"] == "accepted"
    assert db.tables.actions[action_id]["status"] == "in_progress"
    assert updated.sequence == accepted.sequence + 5  # the situation's: 3, two plan changes, two
    # The partner's deadline to answer is met.
    assert [d["resolved"] for d in db.tables.deadlines if d["handover_id"] == handover_id] == [True]
    sheet = await handovers.read_sheet(db.scoped(PRE), CTX, clas, handover_id)
    assert sheet["complete"]
    assert sheet["data_categories"] == ["schooling"]
    assert sheet["schooling"] == {
        "reason_categories": ["learning_difficulties"],
        "school_level": "cm2",
    }
    assert sheet["message"] == "Le mardi soir"
    assert [d["data_categories"] for d in db.tables.disclosures] == [["schooling"]]


def referral_of(subject_id: uuid.UUID, tenant: str = PRE) -> Tx:
    """A consumer's unit for referral.submitted (the message as its cause)."""
    extra = cast(dict[str, Any], ReferralSubmitted.model_config["json_schema_extra"])
    example: dict[str, Any] = extra["examples"][0]
    referral = ReferralSubmitted.model_validate(
        {**example, "referral_id": str(uuid.uuid4()), "subject_id": str(subject_id)}
    )
    incoming = new_event(
        referral,
        source="/relais/referral",
        subject=str(referral.referral_id),
        tenant=tenant,
        sequence=1,
    )
    return Tx(None, incoming, SOURCE)  # type: ignore[arg-type]


async def test_a_referral_of_a_child_erased_meanwhile_is_never_opened_and_erased_again(
    db: FakeDatabase, world: World
) -> None:
    situation = db.tables.situations[world.situation_id]
    situation.update(stage="erased", erased_at=NOW, erasure_reason="data_subject_request")
    tx = referral_of(situation["subject_id"])
    referral = tx.incoming.data

    kept = await open_situation.receive_referral(db.within(tx), CTX, PRE, referral)

    assert kept == world.situation_id
    assert db.opened == [PRE]  # the unit of the message's PRE
    stored = db.tables.referrals[referral.referral_id]
    assert stored["identity_enc"] is None  # its identity is never opened nor kept
    assert situation["stage"] == "erased"
    (erased,) = db.outbox
    assert types_of(db) == ["subject.erased"]
    assert erased.data.referral_ids == [referral.referral_id]
    assert (erased.sequence, erased.tenant) == (4, PRE)
    assert erased.correlationid == tx.incoming.correlationid  # caused by the message
