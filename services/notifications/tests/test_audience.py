"""Unit tests of who hears about what, and of the texts they get."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from relais_contracts.topology import QUEUES
from relais_contracts.types import ReferralStatus
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
)
from relais_contracts.v1.referral import ReferralStatusChanged, ReferralSubmitRejected
from relais_notifications.domain.audience import (
    COORDINATORS,
    RULES,
    Links,
    Recipient,
    notice_for,
    org,
    short_ref,
    user,
)
from relais_notifications.domain.labels import STATUS_LABELS
from relais_notifications.domain.texts import available_templates, render

from .samples import example

LINKS = Links(referral="https://r.example", parcours="https://p.example")
REFERENT = uuid.UUID("c4d9e2f1-6a3b-4c8d-9e0f-1a2b3c4d5e6f")
PARTNER = "cmpp-rouen-rive-gauche"


def test_every_type_bound_to_the_queue_has_a_handler() -> None:
    from relais_notifications.entrypoints.consumers import SILENT_TYPES

    bound = {key.rsplit(".", 1)[0] for key in QUEUES["notifications.events"].binding_keys}
    handled = {model.routing_prefix() for model in [*RULES, *SILENT_TYPES]}
    assert bound <= handled
    assert {model.routing_prefix() for model in RULES} <= bound


def test_every_status_has_a_french_label() -> None:
    assert set(STATUS_LABELS) == set(ReferralStatus)


def test_sender_hears_about_its_referral_by_reference_and_link() -> None:
    rid = uuid.UUID("1346224f-567a-4404-8b75-eadad09a6fdb")
    data = example(
        ReferralStatusChanged, 0, referral_id=str(rid), status="under_review", reason=None
    )
    notice = notice_for(data, LINKS)
    assert notice.audience == (org("ecole-jules-ferry"),)
    assert notice.link == f"https://r.example/v1/referrals/{rid}"
    text = render(notice.template, notice.facts, notice.link)
    assert text.title == "Orientation O-1346224F : en cours d'examen par l'équipe du PRE."
    assert notice.link in text.body


def test_declined_referral_tells_the_reason_in_french() -> None:
    notice = notice_for(example(ReferralStatusChanged, 0), LINKS)
    text = render(notice.template, notice.facts, notice.link)
    assert "Motif : hors du territoire du PRE." in text.body


def test_a_referral_the_childs_erasure_overtook_does_not_read_as_a_refusal() -> None:
    notice = notice_for(example(ReferralStatusChanged, 0, reason="subject_erased"), LINKS)
    text = render(notice.template, notice.facts, notice.link)
    assert text.title == (
        "Orientation O-0B9A2F5E : close sans examen, ses informations ayant été effacées."
    )
    assert "non retenue" not in text.title + text.body
    assert "Motif : les informations de cette orientation ont été effacées" in text.body
    assert "l'équipe du PRE ne l'examinera pas" in text.body
    # Nothing the sender may not know: not who asked, nor that the PRE knew the child.
    assert "famille" not in text.title + text.body.split("Pour voir")[0]
    assert "suivi" not in text.body


def test_a_referral_the_team_declined_still_reads_as_its_decision() -> None:
    notice = notice_for(example(ReferralStatusChanged, 0), LINKS)
    text = render(notice.template, notice.facts, notice.link)
    assert text.title == "Orientation O-0B9A2F5E : non retenue par l'équipe du PRE."


def test_a_refused_amqp_referral_tells_its_sender_why_by_its_own_reference() -> None:
    data = example(ReferralSubmitRejected)
    notice = notice_for(data, LINKS)
    assert notice.audience == (org("ecole-jules-ferry"),)
    assert notice.link == ""  # no referral exists to link to
    assert notice.facts == {
        "ref": "ENT-2026-0042",
        "command_id": data.command_id,
        "external_ref": "ENT-2026-0042",
        "code": "invalid_referral",
        "fields": ["child.birth_date:age_out_of_range", "referrer.email:missing"],
    }
    text = render(notice.template, notice.facts, notice.link)
    assert text.title == "Orientation ENT-2026-0042 refusée : à corriger puis renvoyer."
    assert "Motif : la fiche de liaison contient des erreurs (code invalid_referral)." in text.body
    assert "- la date de naissance de l'enfant (âge hors de la tranche du PRE)" in text.body
    assert "- l'adresse e-mail de la personne qui oriente (manquant)" in text.body
    assert "envoyez-la de nouveau" in text.body
    assert "connexion" not in text.body  # nothing to log in to see


def test_a_refused_command_without_reference_is_named_by_its_message_id() -> None:
    data = example(
        ReferralSubmitRejected,
        external_ref=None,
        code="schema_violation",
        fields=[
            "guardians.1.phone:phone_invalid",
            "child.nickname:extra_forbidden",
            "x.y:new_code",
        ],
    )
    notice = notice_for(data, LINKS)
    text = render(notice.template, notice.facts, notice.link)
    assert data.command_id in text.title
    assert "- le téléphone du responsable 2 (numéro invalide)" in text.body
    # No label: the path as sent, which the sender's software knows.
    assert "- child.nickname (non prévu)" in text.body
    assert "- x.y (new code)" in text.body


def test_a_new_situation_goes_to_the_coordinators() -> None:
    notice = notice_for(example(SituationOpened), LINKS)
    assert notice.audience == (COORDINATORS,)
    assert notice.link.startswith("https://p.example/v1/situations/")


def test_the_new_and_the_previous_referent_hear_of_a_change_of_hands() -> None:
    previous = uuid.uuid4()
    notice = notice_for(example(ReferentAssigned, previous_referent_id=str(previous)), LINKS)
    assert notice.audience == (user(REFERENT), user(previous))
    assert notice.referent_id == REFERENT


def test_the_partner_hears_of_a_handover_and_of_its_cancellation() -> None:
    assert notice_for(example(HandoverRequested), LINKS).audience == (org(PARTNER),)
    assert notice_for(example(HandoverCancelled), LINKS).audience == (org(PARTNER),)


@pytest.mark.parametrize(
    "model", [HandoverAccepted, HandoverDeclined, HandoverWaitlisted, HandoverCompleted]
)
def test_the_referent_hears_the_partners_answer(model: type) -> None:
    notice = notice_for(example(model), LINKS)
    assert notice.audience == (user(REFERENT),)
    assert notice.link.startswith("https://p.example/v1/handovers/")


def test_an_unanswered_handover_reminds_the_partner_and_tells_the_referent() -> None:
    notice = notice_for(example(DeadlineOverdue, 0), LINKS)
    assert notice.audience == (org(PARTNER), user(REFERENT))
    assert notice.deadline_id is not None


def test_an_overdue_review_goes_to_the_coordinators() -> None:
    assert notice_for(example(DeadlineOverdue, 1), LINKS).audience == (COORDINATORS,)


def test_a_followup_goes_to_the_referent_or_else_the_coordinators() -> None:
    assert notice_for(example(FollowupDue), LINKS).audience == (user(REFERENT),)
    assert notice_for(example(FollowupDue, referent_id=None), LINKS).audience == (COORDINATORS,)
    overdue = example(DeadlineOverdue, 1, deadline_kind="followup", referent_id=None)
    assert notice_for(overdue, LINKS).audience == (COORDINATORS,)


def test_a_followup_due_is_a_deadline_that_can_escalate_once_per_situation_and_day() -> None:
    first = notice_for(example(FollowupDue), LINKS)
    again = notice_for(example(FollowupDue), LINKS)
    later = notice_for(example(FollowupDue, due_on="2028-07-15"), LINKS)
    assert first.deadline_id is not None
    assert first.deadline_id == again.deadline_id != later.deadline_id
    assert first.deadline_kind == "followup"
    escalated = render(first.template, {**first.facts, "escalated": True}, first.link)
    assert escalated.title.startswith("Toujours en attente : suivi à six mois de la situation S-")


def test_every_rule_renders_a_short_text_with_a_reference_and_the_link() -> None:
    samples = [example(model, i) for model in RULES for i in range(_count(model))]
    assert {notice_for(s, LINKS).template for s in samples} <= available_templates()
    for sample in samples:
        notice = notice_for(sample, LINKS)
        text = render(notice.template, notice.facts, notice.link)
        assert notice.facts["ref"] in text.title
        assert len(text.title) <= 120
        assert notice.link in text.body
        # Ids of the child never appear: only the short reference of the file.
        subject_id = getattr(sample, "subject_id", None)
        assert subject_id is None or str(subject_id) not in text.title + text.body


def test_recipient_keys_round_trip() -> None:
    assert Recipient.parse("user:abc") == Recipient("user", "abc")
    with pytest.raises(ValueError, match="not a recipient"):
        Recipient.parse("family:1")
    assert short_ref("S", uuid.UUID(int=0xABCDEF12 << 96)) == "S-ABCDEF12"


def _count(model: type) -> int:
    return len(model.model_config["json_schema_extra"]["examples"])  # type: ignore[index]


def test_digests_go_out_at_the_configured_hour_in_paris_time() -> None:
    from datetime import UTC, datetime

    from relais_notifications.domain.delivery import digest_cutoff

    # 06:30 UTC in November is 07:30 in Paris: today's 07:00 digest has passed.
    cutoff = digest_cutoff(datetime(2026, 11, 23, 6, 30, tzinfo=UTC), "Europe/Paris", 7)
    assert cutoff.isoformat() == "2026-11-23T07:00:00+01:00"
    # 05:30 UTC is 06:30 in Paris: the last digest was yesterday's.
    cutoff = digest_cutoff(datetime(2026, 11, 23, 5, 30, tzinfo=UTC), "Europe/Paris", 7)
    assert cutoff.isoformat() == "2026-11-22T07:00:00+01:00"


def test_a_translation_overrides_french_one_template_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from relais_notifications.domain import texts

    root = tmp_path
    (root / "fr").symlink_to(texts.TEMPLATES_DIR / "fr")
    (root / "xx").mkdir()
    (root / "xx" / "situation_opened.j2").write_text(
        '{% extends "_base.j2" %}{% block title %}New case {{ ref }}.{% endblock %}'
        "{% block body %}To review.{% endblock %}"
    )
    monkeypatch.setattr(texts, "TEMPLATES_DIR", root)
    texts._environment.cache_clear()
    try:
        notice = notice_for(example(SituationOpened), LINKS)
        translated = render(notice.template, notice.facts, notice.link, "xx")
        assert translated.title == f"New case {notice.facts['ref']}."
        # Not translated yet: French.
        other = notice_for(example(FollowupDue), LINKS)
        assert render(other.template, other.facts, other.link, "xx").title.startswith("Suivi")
    finally:
        texts._environment.cache_clear()
