"""The family's door across the services (issue 14), with dev-up's demo family.

A school refers Inès Ouali; dev-up's demo loader takes her situation up and prints one
access letter per parent. The mother reads her letter (in Arabic), opens her space with
its link and code, reads the ledger in Arabic, withdraws her consent for the CMPP: the
CMPP's sheet is refused at once and the référent's consent ledger shows it. The father's
code does not open the mother's letter, and a used letter opens nothing.
"""

from __future__ import annotations

import asyncio
import io
import re
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from tests.e2e.test_backbone_flow import register_school

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from demo_family import REFERENT_ID, load_demo_family

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PRE = "pre-76540"
COORDINATION = "pre-76540-coordination"
CMPP = "cmpp-rouen-rive-gauche"
CLAS = "clas-saint-sever"
CODE = re.compile(r"\b[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}\b")


def pdf_text(path: Path) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(path.read_bytes())).pages)


def read_letter(path: Path) -> tuple[str, str, str]:
    """What a parent reads on the paper: the text, the link and the code."""
    text = pdf_text(path)
    link = re.search(r"https?://\S+/famille/lettre/\S+", text)
    code = CODE.search(text)
    assert link is not None, text
    assert code is not None, text
    return text, link.group(0), code.group(0)


async def test_a_parent_opens_the_space_with_the_printed_letter_and_cuts_one_partner_off(
    stack_factory: Any, tmp_path: Path
) -> None:
    stack = await stack_factory()
    parcours = stack.url("parcours")
    coordinator = stack.auth("coordinator", COORDINATION)
    referent = {"Authorization": "Bearer " + stack.token("referent", COORDINATION, sub=REFERENT_ID)}
    partner = stack.auth("partner", CMPP)
    async with httpx.AsyncClient(timeout=30) as http:
        await register_school(http, stack)
        for pid, name, category in (
            (CMPP, "CMPP Rouen rive gauche", "cmpp"),
            (CLAS, "CLAS Saint-Sever", "clas"),
        ):
            r = await http.put(
                f"{parcours}/v1/partners/{pid}",
                json={"id": pid, "pre_id": PRE, "name": name, "category": category},
                headers=coordinator,
            )
            assert r.status_code == 200, r.text
        r = await http.put(
            f"{parcours}/v1/referents/{REFERENT_ID}",
            json={"display_name": "Camille Morel"},
            headers=coordinator,
        )
        assert r.status_code == 200, r.text
        tokens = {
            "coordinator": coordinator["Authorization"].split()[1],
            "referent": referent["Authorization"].split()[1],
            "institution": stack.token("institution", "ecole-jules-ferry-rouen"),
        }

        letters = await asyncio.to_thread(
            load_demo_family,
            {"referral": stack.url("referral"), "parcours": parcours},
            tokens,
            tmp_path / "demo-famille",
        )

        mother_text, mother_link, mother_code = read_letter(letters[0])
        father_text, _, father_code = read_letter(letters[1])
        assert "رسالة الدخول إلى فضاء العائلة" in mother_text
        assert "Samira Ouali" in mother_text
        assert "Lettre d'accès à votre espace famille" in father_text
        assert "Karim Ouali" in father_text
        assert "Ouali" not in mother_link

        # The référent hands a health action to the CMPP, which reads its sheet.
        [situation] = (
            await http.get(f"{parcours}/v1/situations?stage=in_parcours", headers=coordinator)
        ).json()["items"]
        base = f"{parcours}/v1/situations/{situation['id']}"
        objective = await http.post(
            f"{base}/plan/objectives", json={"axis": "health", "title": "Bilan"}, headers=referent
        )
        action = await http.post(
            f"{base}/plan/objectives/{objective.json()['id']}/actions",
            json={"title": "Bilan orthophonique"},
            headers=referent,
        )
        handover = await http.post(
            f"{base}/handovers",
            json={
                "action_id": action.json()["id"],
                "partner_id": CMPP,
                "data_categories": ["identity_and_contact", "health"],
            },
            headers=referent,
        )
        assert handover.status_code == 201, handover.text
        sheet = f"{parcours}/v1/handovers/{handover.json()['id']}/sheet"
        await http.post(
            f"{parcours}/v1/handovers/{handover.json()['id']}/acceptance",
            json={},
            headers=partner,
        )
        assert (await http.get(sheet, headers=partner)).status_code == 200

        wrong_parent = await http.post(
            f"{parcours}/v1/family/sessions", json={"link": mother_link, "code": father_code}
        )
        opened = await http.post(
            f"{parcours}/v1/family/sessions", json={"link": mother_link, "code": mother_code}
        )
        assert wrong_parent.status_code == 401
        assert opened.status_code == 200, opened.text
        mother = {"Authorization": f"Bearer {opened.json()['access_token']}"}
        reused = await http.post(
            f"{parcours}/v1/family/sessions", json={"link": mother_link, "code": mother_code}
        )
        assert reused.json()["code"] == "letter_used"

        ledger = await http.get(f"{parcours}/v1/family/documents/ledger", headers=mother)
        ledger_path = tmp_path / "registre.pdf"
        ledger_path.write_bytes(ledger.content)
        ledger_text = pdf_text(ledger_path)
        assert "من قرأ ماذا عن طفلكم" in ledger_text
        assert "CMPP Rouen" in ledger_text

        withdrawn = await http.post(
            f"{parcours}/v1/family/consent/withdrawal", json={"partner_id": CMPP}, headers=mother
        )
        assert withdrawn.status_code == 200, withdrawn.text
        assert (await http.get(sheet, headers=partner)).status_code == 403
        consents = (await http.get(f"{base}/consents", headers=referent)).json()
        assert [c["status"] for c in consents] == ["superseded", "active"]
        assert all(entry.get("partner_id") != CMPP for entry in consents[-1]["scope"])
        space = (await http.get(f"{parcours}/v1/family/space", headers=mother)).json()
        assert [p["partner_id"] for p in space["consent"]["partners"]] == [CLAS]
        assert (await http.get(f"{base}", headers=mother)).status_code == 403
