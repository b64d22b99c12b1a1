"""Referral's rules through its use cases, on in-memory fakes (no PostgreSQL, no broker)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from relais_contracts.envelope import new_event
from relais_contracts.types import ReferralStatus
from relais_contracts.v1.parcours import SituationOpened
from relais_contracts.v1.referral import ReferralSubmitted
from relais_referral.adapters.keys import ReferralKeys
from relais_referral.domain.content import ReferralRequest
from relais_referral.domain.referral import facts_of
from relais_referral.domain.timeline import StatusChange
from relais_referral.service import institutions
from relais_referral.service.follow_parcours import (
    SUBJECT_ERASED_REASON,
    erase_subject,
    record_status,
)
from relais_referral.service.read_referrals import list_referrals, view_referral
from relais_referral.service.submit_referral import Submission, submit_referral
from relais_referral.service.withdraw_referral import withdraw_referral
from relais_runtime.auth import Principal
from relais_runtime.errors import DomainError

from .fakes import FakeDatabase

PRE = "pre-76540"
SCHOOL = "ecole-jules-ferry-rouen"
COLLEGE = "college-barbey-daurevilly"


@pytest.fixture
def keys(keys_dir: Path) -> ReferralKeys:
    return ReferralKeys(keys_dir, keys_dir / "referral")


@pytest.fixture
async def db() -> FakeDatabase:
    db = FakeDatabase()
    for institution in (SCHOOL, COLLEGE):
        await institutions.register_institution(
            db,
            {"id": institution, "pre_id": PRE, "name": institution, "category": "school"},
        )
    return db


def sender(org: str = SCHOOL) -> Principal:
    return Principal(sub=f"user-{org}", org=org, tenant=PRE, roles=frozenset({"institution"}))


async def submit(
    db: FakeDatabase, keys: ReferralKeys, body: dict[str, Any], org: str = SCHOOL, **kw: Any
) -> Submission:
    submission, _ = await submit_referral(
        db,
        keys,
        institution_id=org,
        request=ReferralRequest.model_validate(body),
        **kw,
    )
    return submission


async def test_a_referral_without_the_parents_agreement_is_refused_and_nothing_is_kept(
    db: FakeDatabase, keys: ReferralKeys, fiche: Any
) -> None:
    with pytest.raises(DomainError) as refused:
        await submit(db, keys, fiche(parents_agree=False))
    assert refused.value.code == "parents_agreement_required"
    assert db.tables.referrals == {}
    assert db.outbox == []


async def test_an_institution_not_registered_or_no_longer_active_may_not_refer(
    db: FakeDatabase, keys: ReferralKeys, fiche: Any
) -> None:
    with pytest.raises(DomainError) as unknown:
        await submit(db, keys, fiche(), org="mairie-inconnue")
    await institutions.set_active(db, PRE, SCHOOL, False)
    with pytest.raises(DomainError) as inactive:
        await submit(db, keys, fiche())
    assert (unknown.value.code, inactive.value.code) == (
        "institution_not_registered",
        "institution_inactive",
    )
    assert db.outbox == []


async def test_a_submission_emits_the_referral_then_its_status_caused_by_it(
    db: FakeDatabase, keys: ReferralKeys, fiche: Any
) -> None:
    submission = await submit(db, keys, fiche())
    submitted, received = db.outbox
    assert isinstance(submitted.data, ReferralSubmitted)
    assert received.data.status == ReferralStatus.RECEIVED
    # An HTTP submission starts a flow; the status follows from the submission.
    assert submitted.causationid is None
    assert received.causationid == str(submitted.id)
    assert received.correlationid == submitted.correlationid == str(submitted.id)
    assert submitted.data.referral_id == submission.referral_id
    # Nothing of the child's identity travels in clear: only facts and the sealed part.
    assert "Éloïse" not in submitted.model_dump_json()
    assert submitted.data.facts.axes == sorted(fiche()["axes"])


async def test_the_same_key_replays_the_same_fiche_and_refuses_another_one(
    db: FakeDatabase, keys: ReferralKeys, fiche: Any
) -> None:
    first = await submit(db, keys, fiche(), idempotency_key="fiche-42")
    again = await submit(db, keys, fiche(), idempotency_key="fiche-42")
    assert (again.referral_id, again.replayed) == (first.referral_id, True)
    with pytest.raises(DomainError) as reused:
        await submit(db, keys, fiche(axes=["health"]), idempotency_key="fiche-42")
    assert (reused.value.code, reused.value.status) == ("idempotency_key_reused", 409)
    # Keys are the institution's own: another one's same key is a new referral.
    elsewhere = await submit(db, keys, fiche(), org=COLLEGE, idempotency_key="fiche-42")
    assert elsewhere.referral_id != first.referral_id
    assert len(db.tables.referrals) == 2


async def test_a_second_referral_of_the_same_child_however_spelt_is_known(
    db: FakeDatabase, keys: ReferralKeys, fiche: Any
) -> None:
    first = await submit(db, keys, fiche())
    child = fiche()["child"] | {"first_name": "eloise", "last_name": "LE GALL MARTIN"}
    second = await submit(db, keys, fiche(child=child), org=COLLEGE)
    rows = db.tables.referrals
    assert rows[first.referral_id]["subject_id"] == rows[second.referral_id]["subject_id"]
    assert (
        rows[first.referral_id]["known_subject"],
        rows[second.referral_id]["known_subject"],
    ) == (
        False,
        True,
    )


async def test_the_sender_may_withdraw_until_the_child_is_taken_up(
    db: FakeDatabase, keys: ReferralKeys, fiche: Any
) -> None:
    early = await submit(db, keys, fiche())
    late = await submit(db, keys, fiche())
    stored = await withdraw_referral(
        db,
        tenant=PRE,
        institution_id=SCHOOL,
        referral_id=early.referral_id,
        reader=sender(SCHOOL),
    )
    assert stored.status == ReferralStatus.WITHDRAWN
    withdrawn, changed = db.outbox[-2:]
    assert changed.causationid == str(withdrawn.id)
    db.tables.referrals[late.referral_id]["status"] = ReferralStatus.TAKEN_UP.value
    with pytest.raises(DomainError) as too_late:
        await withdraw_referral(
            db,
            tenant=PRE,
            institution_id=SCHOOL,
            referral_id=late.referral_id,
            reader=sender(SCHOOL),
        )
    assert (too_late.value.code, too_late.value.status) == ("referral_not_withdrawable", 409)
    assert "pris en charge" in too_late.value.message


async def test_another_institutions_referral_is_not_found_rather_than_forbidden(
    db: FakeDatabase, keys: ReferralKeys, fiche: Any
) -> None:
    submission = await submit(db, keys, fiche())
    for attempt in (
        view_referral(
            db,
            institution_id=COLLEGE,
            referral_id=submission.referral_id,
            reader=sender(COLLEGE),
        ),
        withdraw_referral(
            db,
            tenant=PRE,
            institution_id=COLLEGE,
            referral_id=submission.referral_id,
            reader=sender(COLLEGE),
        ),
    ):
        with pytest.raises(DomainError) as hidden:
            await attempt
        assert (hidden.value.code, hidden.value.status) == ("referral_not_found", 404)
    assert db.tables.accesses == []


async def test_a_senders_reads_are_recorded_in_the_access_log(
    db: FakeDatabase, keys: ReferralKeys, fiche: Any
) -> None:
    submission = await submit(db, keys, fiche())
    await view_referral(
        db,
        institution_id=SCHOOL,
        referral_id=submission.referral_id,
        reader=sender(),
    )
    items, total = await list_referrals(
        db,
        institution_id=SCHOOL,
        statuses=None,
        limit=10,
        offset=0,
        reader=sender(),
    )
    assert (total, [i.id for i in items]) == (1, [submission.referral_id])
    one, page = db.tables.accesses
    assert (one.record_type, one.record_id) == ("referral", str(submission.referral_id))
    assert "identity.child" in one.field_groups
    assert (page.record_type, page.field_groups) == ("referral_page", ("identity.child.name",))


async def test_a_parcours_fact_moves_a_referral_forward_never_back_caused_by_that_fact(
    db: FakeDatabase, keys: ReferralKeys, fiche: Any
) -> None:
    submission = await submit(db, keys, fiche())
    opened_at = datetime.now(UTC)
    message = new_event(
        SituationOpened.model_validate(
            SituationOpened.model_json_schema()["examples"][0]
            | {"referral_ids": [str(submission.referral_id)]}
        ),
        source="/relais/parcours",
        tenant=PRE,
        sequence=1,
    )
    consumer = db.handling(message)
    under_review = StatusChange(ReferralStatus.UNDER_REVIEW, opened_at)
    assert await record_status(consumer, PRE, [submission.referral_id], under_review) == 1
    changed = db.outbox[-1]
    assert (changed.causationid, changed.correlationid) == (
        str(message.id),
        message.correlationid,
    )
    # Repeated, or arriving after a later status: nothing moves, nothing is emitted.
    received = StatusChange(ReferralStatus.RECEIVED, opened_at)
    assert await record_status(consumer, PRE, [submission.referral_id], under_review) == 0
    assert await record_status(consumer, PRE, [submission.referral_id], received) == 0
    assert db.outbox[-1] == changed


async def test_the_childs_erasure_forgets_the_fiche_and_tells_undecided_senders(
    db: FakeDatabase, keys: ReferralKeys, fiche: Any
) -> None:
    submission = await submit(db, keys, fiche())
    subject_id = db.tables.referrals[submission.referral_id]["subject_id"]
    await erase_subject(
        db,
        PRE,
        subject_id,
        [submission.referral_id],
        datetime.now(UTC),
    )
    stored = await view_referral(
        db,
        institution_id=SCHOOL,
        referral_id=submission.referral_id,
        reader=sender(),
    )
    assert stored.content is None
    assert stored.status == ReferralStatus.DECLINED
    assert db.outbox[-1].data.reason == SUBJECT_ERASED_REASON
    assert db.tables.subjects == {}


def test_the_facts_in_clear_are_the_age_on_the_day_and_the_categories_once_each(
    fiche: Any,
) -> None:
    request = ReferralRequest.model_validate(fiche(axes=["health", "schooling", "health"]))
    facts = facts_of(request, "school", date(2026, 3, 13))
    assert facts.age_years == 8  # the day before the birthday
    assert facts_of(request, "school", date(2026, 3, 14)).age_years == 9
    assert facts.axes == ["health", "schooling"]
    assert facts.source_category == "school"


def test_a_fiche_is_refused_by_its_own_rules_whatever_way_it_arrives(fiche: Any) -> None:
    with pytest.raises(ValueError, match="parents_not_informed"):
        ReferralRequest.model_validate(fiche(parents_informed=False))
