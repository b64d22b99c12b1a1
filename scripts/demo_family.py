"""The demo family of dev-up (issue 14): a referral for the Ouali family, taken up by the
team, with the parents' consent, then one access letter per parent printed to
``var/demo-famille/`` (the mother's in Arabic, the father's in French), as a référent
would print them. Idempotent: a new start prints new letters (the older ones stop)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

DEMO_PRE = "pre-76540"
REFERENT_ID = "c4d9e2f1-6a3b-4c8d-9e0f-1a2b3c4d5e6f"  # Camille Morel (demo référente)
REFERRAL = {
    "pre_id": DEMO_PRE,
    "child": {
        "first_name": "Inès",
        "last_name": "Ouali",
        "birth_date": "2016-09-21",
        "sex": "female",
        "school_level": "cm1",
        "lives_in_qpv": "yes",
    },
    "guardians": [
        {
            "first_name": "Samira",
            "last_name": "Ouali",
            "relationship": "mother",
            "phone": "06 98 76 54 32",
            "languages": ["ar", "fr"],
            "interpreter_needed": True,
        },
        {
            "first_name": "Karim",
            "last_name": "Ouali",
            "relationship": "father",
            "email": "karim.ouali@example.org",
            "languages": ["fr"],
        },
    ],
    "referrer": {"name": "Mme Durand", "role": "directrice", "email": "direction@ecole.example"},
    "reasons": {
        "categories": ["language", "learning_difficulties"],
        "description": "Inès comprend mal les consignes écrites.",
    },
    "axes": ["schooling", "health"],
    "parents_informed": True,
    "parents_agree": True,
}
CONTACT = {
    "name": "PRE de Rouen — accueil des familles",
    "phone": "02 35 00 12 34",
    "address": "Hôtel de ville, place du Général de Gaulle, 76000 Rouen",
    "hours": "du lundi au vendredi, 9 h - 12 h et 14 h - 17 h",
}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _situation(
    http: httpx.Client, parcours: str, coordinator: dict[str, str], referral: str
) -> Any:
    for _ in range(60):
        for stage in ("awaiting_review", "in_parcours"):
            r = http.get(f"{parcours}/v1/situations?stage={stage}&limit=200", headers=coordinator)
            r.raise_for_status()
            for item in r.json()["items"]:
                if referral in item["referral_ids"]:
                    return item
        time.sleep(0.5)
    raise RuntimeError("the demo family's situation did not open in parcours")


def read_letter(path: Path) -> tuple[str, str]:
    """What a parent reads on the printed letter: its link and its code."""
    from pypdf import PdfReader  # a development dependency, as this script is

    text = "\n".join(page.extract_text() for page in PdfReader(path).pages)
    link = re.search(r"https?://\S+/famille/lettre/\S+", text)
    code = re.search(r"\b[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}\b", text)
    if link is None or code is None:
        raise ValueError(f"no link or code on the letter {path}")
    return link.group(0), code.group(0)


def load_demo_family(
    urls: dict[str, str],
    tok: dict[str, str],
    out: Path,
    referral: dict[str, Any] | None = None,
    idempotency_key: str = "demo-famille-ouali",
) -> list[Path]:
    """Refer, take up, consent, print the letters; returns the PDF files written (one per
    guardian, ``lettre-acces-<first name>.pdf``). Another family than the Ouali one
    (``referral``, its own ``idempotency_key``) gets the same treatment."""
    referral = referral or REFERRAL
    guardians = referral["guardians"]
    referral_url, parcours = urls["referral"], urls["parcours"]
    coordinator, referent = _bearer(tok["coordinator"]), _bearer(tok["referent"])
    with httpx.Client(timeout=30) as http:
        r = http.post(
            f"{referral_url}/v1/referrals",
            json=referral,
            headers={**_bearer(tok["institution"]), "Idempotency-Key": idempotency_key},
        )
        r.raise_for_status()
        situation = _situation(http, parcours, coordinator, r.json()["id"])
        sid = situation["id"]
        http.put(f"{parcours}/v1/family-contact", json=CONTACT, headers=coordinator)
        if situation["stage"] == "awaiting_review":
            meeting = http.post(
                f"{parcours}/v1/reviews",
                json={
                    # The PRE's day: a meeting dated before the situation opened is refused.
                    "meets_on": datetime.now(ZoneInfo("Europe/Paris")).date().isoformat(),
                    "attendees": [{"name": "Mme Leroy", "organisation": "PRE"}],
                    "situation_ids": [sid],
                },
                headers=coordinator,
            )
            meeting.raise_for_status()
            http.post(
                f"{parcours}/v1/reviews/{meeting.json()['id']}/decisions",
                json={"situation_id": sid, "decision": "take_up", "axes": ["schooling", "health"]},
                headers=coordinator,
            ).raise_for_status()
            http.put(
                f"{parcours}/v1/situations/{sid}/referent",
                json={"referent_id": REFERENT_ID},
                headers=coordinator,
            ).raise_for_status()
            http.post(
                f"{parcours}/v1/situations/{sid}/consents",
                json={
                    "form": "signed",
                    "given_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "guardians": [
                        {
                            "label": f"{g['first_name']} {g['last_name']}",
                            "relationship": g["relationship"],
                        }
                        for g in guardians
                    ],
                    **(
                        {"sole_guardian_reason": "Seul titulaire connu de l'autorité parentale."}
                        if len(guardians) == 1
                        else {}
                    ),
                    "scope": [
                        {
                            "partner_id": "cmpp-rouen-rive-gauche",
                            "data_categories": ["identity_and_contact", "health"],
                        },
                        {"partner_category": "clas", "data_categories": ["schooling"]},
                    ],
                },
                headers=referent,
            ).raise_for_status()
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for guardian, name in enumerate(g["first_name"].lower() for g in guardians):
            letter = http.post(
                f"{parcours}/v1/situations/{sid}/family-letters",
                json={"guardian": guardian},
                headers={**referent, "Accept": "application/pdf"},
            )
            letter.raise_for_status()
            path = out / f"lettre-acces-{name}.pdf"
            path.write_bytes(letter.content)
            written.append(path)
        return written
