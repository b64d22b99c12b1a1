"""The whole closed loop in a browser, against the real stack (five services, dev provider):
a school refers a child, the coordinator takes it up at a team meeting and names a référent,
who records the family's consent, builds the plan and hands an action to a partner; the
partner accepts and reads the sheet; the school reads « pris en charge »; the family
withdraws its consent and the partner's sheet is gone. axe-core checks every page."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from relais_web.devidp.users import DEMO_USERS
from tests.conftest import PRE, RunningStack
from tests.e2e.browser import Visits, chromium, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

StackFactory = Callable[..., Awaitable[RunningStack]]
SCHOOL = "ecole-jules-ferry-rouen"
CMPP = "cmpp-rouen-rive-gauche"
REFERENT = next(u for u in DEMO_USERS if u.role == "referent")
IDENTITY = ("Lina", "Martin", "Sofia")


async def load_demo_directory(stack: RunningStack) -> None:
    """The demo PRE's school, partner and référent, as dev-up loads them."""
    admin = stack.auth("admin", f"{PRE}-coordination")
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.put(
            f"{stack.url('referral')}/v1/institutions/{SCHOOL}",
            json={
                "id": SCHOOL,
                "pre_id": PRE,
                "name": "École élémentaire Jules Ferry",
                "category": "school",
                "uai": "0761234A",
            },
            headers=admin,
        )
        r.raise_for_status()
        r = await http.put(
            f"{stack.url('parcours')}/v1/partners/{CMPP}",
            json={"id": CMPP, "pre_id": PRE, "name": "CMPP Rouen rive gauche", "category": "cmpp"},
            headers=admin,
        )
        r.raise_for_status()
        r = await http.put(
            f"{stack.url('parcours')}/v1/referents/{REFERENT.sub}",
            json={"display_name": "Camille Morel"},
            headers=admin,
        )
        r.raise_for_status()


async def person(browser: Browser, web: str, sub: str) -> Page:
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = await context.new_page()
    await sign_in(page, web, sub)
    return page


async def reload_until(page: Page, text: str, timeout_s: float = 30) -> None:
    """Events travel through the broker: the page shows them after a moment."""
    for _ in range(int(timeout_s * 2)):
        if await page.get_by_text(text).count():
            return
        await page.wait_for_timeout(500)
        await page.reload()
    raise AssertionError(f"{text!r} not shown on {page.url}")


@pytest.mark.timeout(900)  # six processes and a browser: 1.5 to 3.5 min on 2 busy cores
async def test_the_closed_loop_in_the_browser(stack_factory: StackFactory) -> None:
    stack = await stack_factory(
        ["web", "devidp", "referral", "parcours", "notifications", "reporting"]
    )
    await load_demo_directory(stack)
    web = stack.url("web")
    visits = Visits()
    check = visits.check

    async with chromium() as browser:
        # -- the school fills the fiche de liaison; one mistake first, kept and explained
        school = await person(browser, web, "directrice-demo")
        await check(school, "ecole-accueil", forbidden_in_title=IDENTITY)
        await school.get_by_role("link", name="Adresser un enfant").first.click()
        await school.fill("#child-first_name", "Lina")
        await school.fill("#child-last_name", "Martin")
        await school.fill("#child-birth_date", "2030-01-01")
        await school.select_option("#child-school_level", "ce2")
        await school.fill("#guardians-0-first_name", "Sofia")
        await school.fill("#guardians-0-last_name", "Martin")
        await school.fill("#guardians-0-phone", "06 12 34 56 78")
        await school.get_by_label("Difficultés d'apprentissage").check(force=True)
        await school.get_by_label("Parole, langage oral").check(force=True)
        await school.fill("#reasons-description", "Difficultés de lecture depuis la rentrée.")
        await school.locator("#axes-schooling").check(force=True)
        await school.locator("#axes-health").check(force=True)
        await school.locator("#parents_informed-yes").check(force=True)
        await school.locator("#parents_agree-yes").check(force=True)
        await school.fill("#referrer-role", "directrice")
        await school.fill("#referrer-email", "direction@ecole.example")
        await school.get_by_role("button", name="Envoyer la fiche au PRE").click()
        await expect(school.locator("#child-birth_date-erreur")).to_contain_text("futur")
        await expect(school.locator("#child-first_name")).to_have_value("Lina")
        await check(school, "ecole-fiche-erreur", forbidden_in_title=IDENTITY)
        await school.fill("#child-birth_date", "2017-03-14")
        await school.get_by_role("button", name="Envoyer la fiche au PRE").click()
        await expect(school.get_by_text("Fiche envoyée au PRE")).to_be_visible()
        referral_url = school.url.split("?")[0]
        await check(school, "ecole-orientation", forbidden_in_title=IDENTITY)
        # the school keeps its notifications open: what follows arrives there live
        await school.get_by_role("link", name="Notifications").first.click()
        await check(school, "ecole-notifications", forbidden_in_title=IDENTITY)

        # -- the coordinator sees it in the inbox and takes it up at a team meeting
        coordinator = await person(browser, web, "coordinatrice-demo")
        await coordinator.goto(f"{web}/coordination/a-examiner")
        await reload_until(coordinator, "Ouvrir la situation")
        await expect(coordinator.get_by_text("Parole, langage oral").first).to_be_visible()
        await check(coordinator, "coordination-a-examiner", forbidden_in_title=IDENTITY)
        await coordinator.goto(f"{web}/coordination/reunions")
        await coordinator.locator("input[name=situation_ids]").first.check(force=True)
        await coordinator.fill("#attendees", "Nadia Benali, PRE de Rouen, coordinatrice")
        await check(coordinator, "coordination-reunions", forbidden_in_title=IDENTITY)
        await coordinator.get_by_role("button", name="Créer la réunion").click()
        await coordinator.get_by_label("Prise en charge par le PRE").check(force=True)
        await coordinator.get_by_label("Scolarité").first.check(force=True)
        await coordinator.get_by_label("Santé").first.check(force=True)
        await coordinator.get_by_label("Pourquoi cette décision").fill(
            "Besoin d'un bilan du langage ; la famille est demandeuse."
        )
        await check(coordinator, "coordination-reunion", forbidden_in_title=IDENTITY)
        await coordinator.get_by_role("button", name="Enregistrer la décision").click()
        await expect(
            coordinator.get_by_text("Décision : Prise en charge par le PRE")
        ).to_be_visible()
        await coordinator.get_by_role("link", name="Désigner le ou la référent·e").click()
        await check(coordinator, "coordination-referent", forbidden_in_title=IDENTITY)
        await coordinator.get_by_label(re.compile("Camille Morel")).check(force=True)
        await coordinator.get_by_role("button", name="Désigner").click()
        situation_url = coordinator.url
        assert re.search(r"/situations/[0-9a-f-]{36}$", situation_url)

        # -- the référent records the consent, builds the plan, hands an action over
        referent = await person(browser, web, REFERENT.sub)
        await referent.goto(f"{web}/situations")
        await check(referent, "referent-situations", forbidden_in_title=IDENTITY)
        await referent.get_by_role("link", name="Ouvrir la situation").first.click()
        await expect(
            referent.get_by_role("heading", name="Situation de Lina Martin")
        ).to_be_visible()
        await referent.fill(
            "#sole_guardian_reason", "Le père ne vit pas au foyer et n'est pas joignable."
        )
        for category in ("identity_and_contact", "health"):
            await referent.locator(f"#scope-{CMPP}-{category}").check(force=True)
        await check(referent, "referent-situation", forbidden_in_title=IDENTITY)
        await referent.get_by_role("button", name="Enregistrer l'accord").click()
        await expect(referent.get_by_text("En vigueur", exact=False).first).to_be_visible()
        await referent.locator("#axe-health summary").click()
        await referent.fill("#o-health-title", "Bilan du langage")
        await (
            referent.locator("#axe-health").get_by_role("button", name="Ajouter l'objectif").click()
        )
        await referent.locator("#axe-health details summary", has_text="Ajouter une action").click()
        await referent.locator("#axe-health input[name=title]").first.fill("Bilan au CMPP")
        await referent.locator("#axe-health").get_by_role("button", name="Ajouter l'action").click()
        await referent.locator("#axe-health summary", has_text="Confier cette action").click()
        await referent.locator("#axe-health select[name=partner_id]").select_option(CMPP)
        for category in ("identity_and_contact", "health"):
            await referent.locator(
                f"#axe-health input[name=data_categories][value={category}]"
            ).check(force=True)
        await referent.locator("#axe-health textarea[name=message]").fill(
            "Bilan orthophonique souhaité."
        )
        await referent.locator("#axe-health").get_by_role("button", name="Confier l'action").click()
        await expect(referent.get_by_text("Demandé, en attente de réponse").first).to_be_visible()
        await check(referent, "referent-plan-et-relais", forbidden_in_title=IDENTITY)

        # -- the partner accepts and reads the consent-scoped sheet
        partner = await person(browser, web, "cmpp-demo")
        await partner.goto(f"{web}/relais")
        await reload_until(partner, "Bilan au CMPP")
        await check(partner, "partenaire-relais", forbidden_in_title=IDENTITY)
        await partner.get_by_role("link", name="Bilan au CMPP").click()
        await check(partner, "partenaire-relais-detail", forbidden_in_title=IDENTITY)
        await partner.get_by_role("button", name="Accepter le relais").click()
        await expect(partner.get_by_role("heading", name="Fiche de relais")).to_be_visible()
        await expect(partner.get_by_text("Lina Martin", exact=False)).to_be_visible()
        sheet_url = partner.url
        await check(partner, "partenaire-fiche", forbidden_in_title=IDENTITY)

        # -- the school hears it live (no reload) and the notice's link opens its page
        taken_up = school.locator("#fil a", has_text="prise en charge")
        await expect(taken_up).to_be_visible(timeout=30_000)
        await check(school, "ecole-notification-en-direct", forbidden_in_title=IDENTITY)
        await taken_up.click()
        await school.wait_for_url(referral_url)
        await expect(school.get_by_text("pris en charge").first).to_be_visible()
        await check(school, "ecole-pris-en-charge", forbidden_in_title=IDENTITY)

        # -- the mother withdraws her consent: the partner's sheet is gone
        await referent.goto(situation_url)
        await referent.get_by_role("radio", name="Mère").check(force=True)
        await referent.get_by_role("button", name="Enregistrer le retrait").click()
        await expect(referent.get_by_text("Aucun accord en vigueur")).to_be_visible()
        await check(referent, "referent-accord-retire", forbidden_in_title=IDENTITY)
        await referent.goto(f"{situation_url}/communications")
        await check(referent, "referent-registre", forbidden_in_title=IDENTITY)
        await expect(referent.get_by_text("CMPP Rouen rive gauche")).to_be_visible()

        response = await partner.goto(sheet_url)
        assert response is not None
        assert response.status == 403
        await expect(partner.get_by_text("n'est plus")).to_be_visible()
        assert "Lina" not in await partner.content()
        await check(partner, "partenaire-fiche-retiree", forbidden_in_title=IDENTITY)

    logs = stack.logs()
    for word in IDENTITY:
        assert word not in logs, f"{word!r} written to a service log"
    (visits.directory / "pages.txt").write_text("\n".join(visits.seen) + "\n")
