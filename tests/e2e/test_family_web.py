"""The family's door in a browser, on the real stack (issue 14's proof).

A référent prints the mother's access letter from her page (a PDF in Arabic); the mother
opens her space with its link and code on a 360 px phone, reads who read what in Arabic
and withdraws her consent for the CMPP: the CMPP's sheet is refused at once and the
référent's page says the family withdrew it. A guardian of another child cannot open that
child's space with her code; a revoked letter, an expired one and a revoked session are
refused with a French sentence. The mother asks for a correction from her space and the
coordination answers it from its « Demandes des familles » page. axe-core checks every
page; screenshots go to ``var/screenshots``.
"""

from __future__ import annotations

import asyncio
import re
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from relais_web.devidp.users import DEMO_USERS
from tests.conftest import RunningStack
from tests.e2e.browser import Visits, chromium, sign_in
from tests.e2e.test_backbone_flow import register_school

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from demo_family import REFERENT_ID, REFERRAL, load_demo_family, read_letter

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

StackFactory = Callable[..., Awaitable[RunningStack]]
COORDINATION = "pre-76540-coordination"
CMPP = "cmpp-rouen-rive-gauche"
CLAS = "clas-saint-sever"
REFERENT = next(u for u in DEMO_USERS if u.sub == REFERENT_ID)
COORDINATOR = next(u for u in DEMO_USERS if u.role == "coordinator" and u.org == COORDINATION)
IDENTITY = ("Inès", "Ouali", "Samira", "Karim", "Lucas", "Sofia", "Martin")
#: Another child of the same PRE, whose space the Ouali parents must not open.
OTHER_CHILD = {
    **REFERRAL,
    "child": {**REFERRAL["child"], "first_name": "Lucas", "last_name": "Martin"},
    "guardians": [
        {
            "first_name": "Sofia",
            "last_name": "Martin",
            "relationship": "mother",
            "email": "sofia.martin@example.org",
            "languages": ["pt"],
        }
    ],
}


async def load_directory(stack: RunningStack, http: httpx.AsyncClient) -> dict[str, str]:
    coordinator = stack.auth("coordinator", COORDINATION)
    await register_school(http, stack)
    for pid, name, category in (
        (CMPP, "CMPP Rouen rive gauche", "cmpp"),
        (CLAS, "CLAS Saint-Sever", "clas"),
    ):
        r = await http.put(
            f"{stack.url('parcours')}/v1/partners/{pid}",
            json={"id": pid, "pre_id": "pre-76540", "name": name, "category": category},
            headers=coordinator,
        )
        assert r.status_code == 200, r.text
    r = await http.put(
        f"{stack.url('parcours')}/v1/referents/{REFERENT_ID}",
        json={"display_name": "Camille Morel"},
        headers=coordinator,
    )
    assert r.status_code == 200, r.text
    return {
        "coordinator": stack.token("coordinator", COORDINATION),
        "referent": stack.token("referent", COORDINATION, sub=REFERENT_ID),
        "institution": stack.token("institution", "ecole-jules-ferry-rouen"),
    }


async def hand_health_action_to_the_cmpp(
    stack: RunningStack, http: httpx.AsyncClient, situation_id: str
) -> str:
    """The référent hands an action to the CMPP, which accepts and reads its sheet."""
    referent = {"Authorization": "Bearer " + stack.token("referent", COORDINATION, sub=REFERENT_ID)}
    partner = stack.auth("partner", CMPP)
    base = f"{stack.url('parcours')}/v1/situations/{situation_id}"
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
    accepted = await http.post(
        f"{stack.url('parcours')}/v1/handovers/{handover.json()['id']}/acceptance",
        json={},
        headers=partner,
    )
    assert accepted.status_code < 300, accepted.text
    sheet = f"{stack.url('parcours')}/v1/handovers/{handover.json()['id']}/sheet"
    assert (await http.get(sheet, headers=partner)).status_code == 200
    return sheet


async def guardian_page(browser: Browser) -> Page:
    """A parent's phone: 360 px wide, a fresh browser profile, no Relais account."""
    context = await browser.new_context(viewport={"width": 360, "height": 740})
    return await context.new_page()


async def fits_the_screen(page: Page) -> bool:
    width: bool = await page.evaluate(
        "document.documentElement.scrollWidth <= window.innerWidth + 1"
    )
    return width


async def type_code(page: Page, link: str, code: str) -> None:
    await page.goto(link)
    await page.fill("#code", code)
    await page.locator("form button[type=submit]").click()
    await page.wait_for_load_state("load")


@pytest.mark.timeout(900)
async def test_a_parent_opens_her_space_from_the_printed_letter_reads_it_in_arabic_and_withdraws(
    stack_factory: StackFactory, tmp_path: Path
) -> None:
    stack = await stack_factory(["web", "devidp", "referral", "parcours"])
    web, parcours = stack.url("web"), stack.url("parcours")
    partner = stack.auth("partner", CMPP)
    visits = Visits()
    check = visits.check
    async with httpx.AsyncClient(timeout=30) as http:
        tokens = await load_directory(stack, http)
        urls = {"referral": stack.url("referral"), "parcours": parcours}
        ouali = await asyncio.to_thread(load_demo_family, urls, tokens, tmp_path / "ouali")
        martin = await asyncio.to_thread(
            load_demo_family, urls, tokens, tmp_path / "martin", OTHER_CHILD, "famille-martin"
        )

        async with chromium() as browser:
            # -- the référent opens the Ouali situation: the mother needs an interpreter
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            referent = await context.new_page()
            await sign_in(referent, web, REFERENT.sub)
            await referent.goto(f"{web}/situations")
            links = referent.get_by_role("link", name="Ouvrir la situation")
            hrefs = [await a.get_attribute("href") for a in await links.all()]
            situation_url = ""
            for href in hrefs:
                await referent.goto(f"{web}{href}")
                if await referent.get_by_text("Samira Ouali").count():
                    situation_url = referent.url
                    break
            shown = (await referent.inner_text("main"))[:600]
            assert situation_url, f"no Ouali situation among {hrefs}; last page: {shown}"
            situation_id = situation_url.rsplit("/", 1)[-1]
            sheet = await hand_health_action_to_the_cmpp(stack, http, situation_id)
            await referent.reload()
            await expect(referent.get_by_text("interprète à prévoir")).to_be_visible()
            await check(referent, "famille-referent-situation", forbidden_in_title=IDENTITY)

            # -- she prints the mother's access letter (a PDF, in Arabic)
            await referent.get_by_role("link", name=re.compile("La famille et son espace")).click()
            await expect(
                referent.get_by_role("heading", name="La famille et son espace")
            ).to_be_visible()
            await check(referent, "famille-referent-lettres", forbidden_in_title=IDENTITY)
            async with referent.expect_download() as printed:
                await referent.locator("#imprimer-lettre-0").click()
            letter_pdf = tmp_path / "lettre-samira.pdf"
            await (await printed.value).save_as(letter_pdf)
            link, code = read_letter(letter_pdf)
            assert "Ouali" not in link
            assert situation_id not in link
            _, father_code = read_letter(ouali[1])
            father_link, _ = read_letter(ouali[1])
            martin_link, martin_code = read_letter(martin[0])

            # -- the mother opens her space on her phone: it speaks Arabic, right to left
            mother = await guardian_page(browser)
            await mother.goto(link)
            await check(mother, "famille-lettre-code", forbidden_in_title=IDENTITY)
            await type_code(mother, link, code)
            await expect(mother.locator("html")).to_have_attribute("lang", "ar")
            await expect(mother.locator("html")).to_have_attribute("dir", "rtl")
            await expect(mother.get_by_text("CMPP Rouen rive gauche").first).to_be_visible()
            assert await fits_the_screen(mother), "the space is wider than a 360 px phone"
            await check(mother, "famille-espace-ar", forbidden_in_title=IDENTITY)
            assert mother.url == f"{web}/famille"

            await mother.get_by_role("link", name="من قرأ ماذا").first.click()
            await expect(mother.get_by_role("heading", name="من قرأ ماذا عن طفلكم")).to_be_visible()
            ledger = mother.locator("#partenaires + .fr-table")
            await expect(ledger).to_contain_text("CMPP Rouen rive gauche")
            await expect(ledger).to_contain_text("الصحة")  # health, in Arabic
            assert await fits_the_screen(mother), "the ledger is wider than a 360 px phone"
            await check(mother, "famille-registre-ar", forbidden_in_title=IDENTITY)

            # the language switch on the page: the same page in French
            await mother.get_by_role("link", name="Français").click()
            await expect(mother.locator("html")).to_have_attribute("dir", "ltr")
            await expect(
                mother.get_by_role("heading", name="Qui a lu quoi sur votre enfant")
            ).to_be_visible()
            await check(mother, "famille-registre-fr", forbidden_in_title=IDENTITY)
            await mother.get_by_role("link", name="العربية").click()

            # -- she withdraws her consent for the CMPP only
            await mother.get_by_role("link", name="فضائي").click()
            await mother.locator(f"#retirer-{CMPP}").click()
            await check(mother, "famille-retrait-confirmation", forbidden_in_title=IDENTITY)
            await mother.locator("#confirmer-retrait").click()
            await expect(mother.get_by_role("status")).to_be_visible()
            await expect(mother.locator("#accord ~ ul").first).not_to_contain_text("CMPP")
            await expect(mother.locator("#accord ~ ul").first).to_contain_text("CLAS Saint-Sever")
            await check(mother, "famille-retrait-fait", forbidden_in_title=IDENTITY)

            # the CMPP's sheet is refused at once; the référent's page shows the withdrawal
            assert (await http.get(sheet, headers=partner)).status_code == 403
            await referent.goto(situation_url)
            await expect(
                referent.get_by_text(
                    re.compile("la famille a retiré son accord depuis son espace pour : CMPP")
                )
            ).to_be_visible()
            await check(referent, "famille-referent-retrait-vu", forbidden_in_title=IDENTITY)

            # -- she asks for a correction; the coordination answers it within the month
            await mother.goto(f"{web}/famille/demandes")
            await mother.locator("label[for=kind-correction]").click()  # DSFR hides the radio
            await mother.fill("#details", "Le nom de l'école est faux.")
            await mother.locator("form[action='/famille/demandes'] button").click()
            await expect(mother.get_by_role("status")).to_be_visible()
            coordination = await (
                await browser.new_context(viewport={"width": 1280, "height": 900})
            ).new_page()
            await sign_in(coordination, web, COORDINATOR.sub)
            await coordination.goto(f"{web}/")
            await coordination.get_by_role("link", name="Demandes des familles").first.click()
            await expect(
                coordination.get_by_role("cell", name=re.compile("Rectification"))
            ).to_be_visible()
            await expect(
                coordination.get_by_text(re.compile(r"\d+ jours restants"))
            ).to_be_visible()
            await check(coordination, "famille-demandes-coordination", forbidden_in_title=IDENTITY)
            await coordination.get_by_role("link", name="Répondre").click()
            await expect(coordination.get_by_text("Le nom de l'école est faux.")).to_be_visible()
            await coordination.locator("label[for=outcome-accept]").click()
            await coordination.fill("#answer", "Le nom de l'école est rectifié.")
            await check(coordination, "famille-demande-reponse", forbidden_in_title=IDENTITY)
            await coordination.get_by_role("button", name="Envoyer la réponse").click()
            await expect(
                coordination.get_by_role("cell", name=re.compile("répondue le"))
            ).to_be_visible()
            await mother.goto(f"{web}/famille/demandes")
            await expect(
                mother.get_by_text("Demande acceptée. Le nom de l'école est rectifié.")
            ).to_be_visible()
            await mother.goto(f"{web}/famille")

            # -- another child's letter does not open with the mother's code
            stranger = await guardian_page(browser)
            await type_code(stranger, martin_link, code)
            await expect(
                stranger.get_by_text("Ce lien ou ce code n'est pas reconnu")
            ).to_be_visible()
            assert "Lucas" not in await stranger.content()
            await check(stranger, "famille-code-d-un-autre-enfant", forbidden_in_title=IDENTITY)
            assert (await stranger.goto(f"{web}/famille")).status == 401  # type: ignore[union-attr]

            # -- a revoked letter: the référent cancels the father's letter
            await referent.goto(f"{situation_url}/famille")
            father_row = referent.locator("tr", has_text="Père").filter(has_text="à utiliser")
            await father_row.get_by_role("button", name=re.compile("Annuler la lettre")).click()
            await expect(referent.locator("tr", has_text="Père").first).to_contain_text("annulée")
            father = await guardian_page(browser)
            await type_code(father, father_link, father_code)
            await expect(father.get_by_text("Cette lettre a été annulée.").first).to_be_visible()
            await expect(father.locator("#code")).to_have_count(0)
            await check(father, "famille-lettre-annulee", forbidden_in_title=IDENTITY)

            # -- an expired letter (thirty days pass: its expiry is moved to the past)
            db = await asyncpg.connect(stack.dsn("parcours"))
            try:
                moved = await db.execute(
                    "UPDATE family_letters SET expires_at = now() - interval '1 minute' "
                    "WHERE revoked_at IS NULL AND used_at IS NULL AND situation_id <> $1",
                    uuid.UUID(situation_id),
                )
            finally:
                await db.close()
            assert moved == "UPDATE 1"
            late = await guardian_page(browser)
            await type_code(late, martin_link, martin_code)
            await expect(late.get_by_text("Cette lettre a expiré.").first).to_be_visible()
            await check(late, "famille-lettre-expiree", forbidden_in_title=IDENTITY)

            # -- the référent cancels the mother's letter: her open session ends at once
            mother_row = referent.locator("tr", has_text="Mère").filter(has_text="utilisée")
            await mother_row.get_by_role("button", name=re.compile("Annuler la lettre")).click()
            response = await mother.reload()
            assert response is not None
            assert response.status == 403
            await expect(mother.get_by_text("Cette lettre a été annulée.").first).to_be_visible()
            await check(mother, "famille-session-annulee", forbidden_in_title=IDENTITY)

    logs = stack.logs()
    for word in IDENTITY:
        assert word not in logs, f"{word!r} written to a service log"
    (visits.directory / "famille-pages.txt").write_text("\n".join(visits.seen) + "\n")
