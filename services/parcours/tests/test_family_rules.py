"""Rules of the family's door, without a database: codes, deadlines, languages, scope,
and the catalogues every family text comes from."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir, extract_from_file
from babel.messages.pofile import read_po

from relais_contracts import family_labels
from relais_parcours.adapters import documents
from relais_parcours.domain import family

PARCOURS = Path(documents.__file__).resolve().parents[3]


def test_a_code_reads_aloud_without_ambiguous_characters_and_types_in_any_case() -> None:
    codes = {family.new_code() for _ in range(200)}

    assert all(re.fullmatch(r"[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}", c) for c in codes)
    assert len(codes) == 200
    link = family.new_link_token()
    stored = family.code_hash(link, "K7PM-Q3XA")
    assert family.code_matches(link, " k7pm q3xa ", stored)
    assert not family.code_matches(family.new_link_token(), "K7PM-Q3XA", stored)


@pytest.mark.parametrize(
    ("made_on", "due_on"),
    [
        (date(2026, 12, 3), date(2027, 1, 3)),
        (date(2027, 1, 31), date(2027, 2, 28)),
        (date(2028, 1, 30), date(2028, 2, 29)),
        (date(2026, 3, 31), date(2026, 4, 30)),
    ],
)
def test_a_request_is_due_the_same_day_next_month_or_its_last_day(
    made_on: date, due_on: date
) -> None:
    assert family.request_due_on(made_on) == due_on


def test_the_guardians_choice_then_its_languages_then_french_pick_the_language() -> None:
    assert family.pick_language(["ar", "fr"]) == "ar"
    assert family.pick_language(["wo", "pt-BR"]) == "pt"
    assert family.pick_language(["wo"]) == "fr"
    assert family.pick_language(["ar"], chosen="tr") == "tr"
    assert family.pick_language(["ar"], chosen="xx") == "ar"


def test_withdrawing_one_partner_of_a_category_keeps_the_others_by_name_only() -> None:
    directory = {
        "cmpp-rouen": {"category": "cmpp"},
        "clas-a": {"category": "clas"},
        "clas-b": {"category": "clas"},
    }
    scope = [
        {"partner_id": "cmpp-rouen", "data_categories": ["health"]},
        {"partner_category": "clas", "data_categories": ["schooling"]},
    ]

    assert family.scope_without(scope, "clas-a", directory) == [
        {"partner_id": "cmpp-rouen", "data_categories": ["health"]},
        {"partner_id": "clas-b", "data_categories": ["schooling"]},
    ]
    assert family.scope_without(scope, "cmpp-rouen", directory) == [scope[1]]


def test_a_guardian_is_found_in_the_consent_by_name_else_by_a_unique_relationship() -> None:
    samira = {"first_name": "Samira", "last_name": "Ouali", "relationship": "mother"}
    by_name = [{"label": "Mme Samira OUALI", "relationship": "other"}]
    by_role = [
        {"label": "Mère", "relationship": "mother"},
        {"label": "Père", "relationship": "father"},
    ]
    two_mothers = [
        {"label": "Mère", "relationship": "mother"},
        {"label": "Mère 2", "relationship": "mother"},
    ]

    assert family.consent_label_for(by_name, samira) == "Mme Samira OUALI"
    assert family.consent_label_for(by_role, samira) == "Mère"
    assert family.consent_label_for(two_mothers, samira) is None


def test_a_letter_says_why_it_opens_nothing() -> None:
    now = datetime.now(UTC)
    fresh = {
        "revoked_at": None,
        "used_at": None,
        "expires_at": now + timedelta(days=1),
        "failed_attempts": 0,
    }

    assert family.letter_refusal(fresh, now) is None
    assert family.letter_refusal(None, now) is family.LetterRefusal.UNKNOWN
    assert family.letter_refusal({**fresh, "used_at": now}, now) is family.LetterRefusal.USED
    assert family.letter_refusal({**fresh, "expires_at": now}, now) is family.LetterRefusal.EXPIRED
    revoked = {**fresh, "revoked_at": now}
    assert family.letter_refusal(revoked, now) is family.LetterRefusal.REVOKED
    locked = {**revoked, "failed_attempts": family.MAX_FAILED_ATTEMPTS}
    assert family.letter_refusal(locked, now) is family.LetterRefusal.LOCKED


def _extracted() -> set[str]:
    method_map = [
        ("src/relais_parcours/adapters/documents.py", "python"),
        ("src/relais_parcours/service/family_notices.py", "python"),
        ("src/relais_parcours/templates/family/**.html", "jinja2"),
    ]
    options = {"src/relais_parcours/templates/family/**.html": {"extensions": "jinja2.ext.i18n"}}
    keywords = {"_": None, "N_": None}
    own = extract_from_dir(PARCOURS, method_map, options_map=options, keywords=keywords)
    # The words shared with web's family pages (axes, data categories, statuses).
    shared = extract_from_file("python", family_labels.__file__, keywords=keywords)
    return {str(m) for _, _, m, *_ in own} | {str(m) for _, m, *_ in shared}


@pytest.mark.parametrize("language", family.LANGUAGES)
def test_every_family_text_is_translated_with_its_placeholders(language: str) -> None:
    path = documents.LOCALES / language / "LC_MESSAGES" / "family.po"
    with path.open("rb") as po:
        catalog = read_po(po, locale=language)
    translated = {m.id: m.string for m in catalog if m.id}
    wanted = _extracted()

    assert wanted, "no message extracted: the extraction itself is broken"
    assert sorted(wanted - translated.keys()) == []
    for msgid in wanted:
        assert translated[msgid], f"{language}: empty translation of {msgid!r}"
        placeholders = set(re.findall(r"%\(\w+\)s", str(msgid)))
        assert set(re.findall(r"%\(\w+\)s", str(translated[msgid]))) == placeholders, msgid
