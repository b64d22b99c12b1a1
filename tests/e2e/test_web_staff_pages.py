"""Staff pages in a browser against the real stack: a partner keeps its directory entry (at
360 px, with the keyboard) and the coordination validates it; a partner registers a
webhook (its secret shown once), rotates it and deletes it, reads its delivery log and
subscribes to a daily digest. axe-core checks every page."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.conftest import PRE, RunningStack
from tests.e2e.browser import Visits, chromium, sign_in
from tests.e2e.test_web_keyboard import tab_to

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

StackFactory = Callable[..., Awaitable[RunningStack]]
CMPP = "cmpp-rouen-rive-gauche"
NOTHING = ()  # these pages show no child: nothing to keep out of titles and URLs


async def person(browser: Browser, web: str, sub: str, width: int = 1280) -> Page:
    context = await browser.new_context(viewport={"width": width, "height": 900}, locale="fr-FR")
    page = await context.new_page()
    await sign_in(page, web, sub)
    return page


async def no_sideways_scroll(page: Page) -> None:
    wider = await page.evaluate("document.documentElement.scrollWidth")
    assert wider <= 360, f"{page.url} scrolls sideways at 360 px ({wider} px)"


@pytest.mark.timeout(900)  # five processes and a browser on 2 busy cores
async def test_a_partner_keeps_its_entry_and_its_webhooks_from_the_browser(
    stack_factory: StackFactory,
) -> None:
    stack = await stack_factory(
        ["web", "devidp", "referral", "parcours", "notifications"],
        extra_env={"NOTIFICATIONS_WEBHOOK_ALLOW_INSECURE": "true"},
    )
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.put(
            f"{stack.url('parcours')}/v1/partners/{CMPP}",
            json={
                "id": CMPP,
                "pre_id": PRE,
                "name": "CMPP Rouen rive gauche",
                "category": "cmpp",
                "services": [{"id": "bilan", "name": "Bilan orthophonique", "wait_time_days": 45}],
            },
            headers=stack.auth("admin", f"{PRE}-coordination"),
        )
        r.raise_for_status()
    web = stack.url("web")
    visits = Visits()
    check = visits.check

    async with chromium() as browser:
        # -- on a phone, with the keyboard alone, the partner proposes a new waiting time
        partner = await person(browser, web, "cmpp-demo", width=360)
        await partner.get_by_role("link", name="Notre fiche").first.click()
        await expect(partner.get_by_text("Bilan orthophonique")).to_have_count(2)
        await no_sideways_scroll(partner)
        await check(partner, "partenaire-fiche-annuaire", forbidden_in_title=NOTHING)
        await tab_to(partner, "service-bilan-wait_time")
        await partner.keyboard.type("3 semaines")
        await tab_to(partner, "service-bilan-wait_time_days")
        await partner.keyboard.press("Control+a")
        await partner.keyboard.type("21")
        await partner.keyboard.press("Enter")
        await expect(partner.get_by_text("Proposition envoyée")).to_be_visible()
        await expect(
            partner.get_by_text("Bilan orthophonique — attente : 3 semaines (21 jours)")
        ).to_be_visible()
        await no_sideways_scroll(partner)
        await check(partner, "partenaire-proposition-envoyee", forbidden_in_title=NOTHING)

        # -- the coordination compares it with the published entry and validates it
        coordinator = await person(browser, web, "coordinatrice-demo")
        await coordinator.goto(f"{web}/annuaires")
        await coordinator.get_by_role(
            "link", name=re.compile("Propositions des partenaires")
        ).click()
        await check(coordinator, "coordination-propositions", forbidden_in_title=NOTHING)
        await coordinator.get_by_role("link", name=re.compile("Examiner")).click()
        row = coordinator.get_by_role("row", name=re.compile("Services et délais d'attente"))
        await expect(row).to_contain_text("attente : 45 jours")
        await expect(row).to_contain_text("3 semaines (21 jours)")
        await check(coordinator, "coordination-proposition", forbidden_in_title=NOTHING)
        await coordinator.get_by_role("button", name="Valider et publier").click()
        await expect(coordinator.get_by_text("Proposition validée")).to_be_visible()

        await partner.reload()
        table = partner.get_by_role("table", name="Services et délais d'attente publiés")
        await expect(table).to_contain_text("3 semaines (21 jours)")
        await expect(partner.get_by_text("Validée et publiée", exact=False)).to_be_visible()
        await check(partner, "partenaire-fiche-publiee", forbidden_in_title=NOTHING)

        # -- a webhook: its secret once, then a new one, then it is deleted
        await partner.goto(f"{web}/notifications")
        await partner.get_by_role("link", name="Webhooks").click()
        await check(partner, "partenaire-webhooks", forbidden_in_title=NOTHING)
        await partner.fill("#webhook-url", "ftp://nulle-part")
        await partner.get_by_role("button", name="Ajouter le webhook").click()
        await expect(partner.locator("#webhook-url-erreur")).to_be_visible()
        await check(partner, "partenaire-webhook-erreur", forbidden_in_title=NOTHING)
        await partner.fill("#webhook-url", "http://127.0.0.1:9/relais")
        await partner.get_by_label("Un relais est annulé").check(force=True)
        await partner.get_by_role("button", name="Ajouter le webhook").click()
        first_secret = await partner.locator("#cle").input_value()
        assert first_secret.startswith("whsec_")
        assert first_secret not in partner.url
        await check(partner, "partenaire-webhook-cle", forbidden_in_title=NOTHING)
        await partner.get_by_role("link", name="J'ai copié la clé").click()
        assert first_secret not in await partner.content()
        await check(partner, "partenaire-webhook", forbidden_in_title=NOTHING)
        await partner.get_by_role("button", name="Changer la clé de signature").click()
        second_secret = await partner.locator("#cle").input_value()
        assert second_secret.startswith("whsec_")
        assert second_secret != first_secret
        await expect(partner.get_by_text("L'ancienne clé signe encore")).to_be_visible()
        await partner.get_by_role("link", name="J'ai copié la clé").click()
        await partner.get_by_role("button", name="Supprimer ce webhook").click()
        await expect(partner.get_by_text("Webhook supprimé")).to_be_visible()
        await expect(partner.get_by_text("Aucun webhook pour le moment.")).to_be_visible()

        # -- the delivery log, and a daily digest by e-mail
        await partner.goto(f"{web}/notifications/envois")
        await check(partner, "partenaire-envois", forbidden_in_title=NOTHING)
        await partner.goto(f"{web}/notifications/abonnements")
        await partner.fill("#abonnement-email", "secretariat@cmpp.example")
        await partner.get_by_label("Pour toute mon organisation").check(force=True)
        await partner.get_by_label("Un récapitulatif par jour").check(force=True)
        await partner.get_by_role("button", name="S'abonner").click()
        await expect(partner.get_by_text("Abonnement enregistré.")).to_be_visible()
        await expect(partner.get_by_role("cell", name="Récapitulatif quotidien")).to_be_visible()
        await no_sideways_scroll(partner)
        await check(partner, "partenaire-abonnements", forbidden_in_title=NOTHING)
        await partner.get_by_role("button", name=re.compile("Se désabonner")).click()
        await expect(partner.get_by_text("Abonnement supprimé")).to_be_visible()

    logs = stack.logs()
    for secret in (first_secret, second_secret):
        assert secret not in logs, "a webhook secret was written to a log"
    (visits.directory / "staff-pages.txt").write_text("\n".join(visits.seen) + "\n")


async def test_the_analyst_reads_the_dashboard_through_the_common_sign_in(
    stack_factory: StackFactory,
) -> None:
    stack = await stack_factory(["web", "devidp", "reporting"])
    web = stack.url("web")
    visits = Visits()
    async with chromium() as browser:
        analyst = await person(browser, web, "analyste-demo", width=360)
        await analyst.get_by_role("link", name="Tableau de bord").first.click()
        await expect(
            analyst.get_by_role("heading", name=re.compile("Tableau de bord du PRE"))
        ).to_be_visible()
        await expect(analyst.locator("svg[role=img]").first).to_be_attached()
        await no_sideways_scroll(analyst)
        await visits.check(analyst, "analyste-tableau-de-bord", forbidden_in_title=NOTHING)
        async with analyst.expect_download() as download:
            await analyst.get_by_role("link", name=re.compile("Télécharger en CSV")).click()
        path = await (await download.value).path()
        assert path.read_bytes().startswith(b"\xef\xbb\xbfperimetre;")
        await analyst.goto(f"{web}/tableau-de-bord?annee=2026-2027&arrete=31-12-2026")
        await expect(analyst.locator("#arrete-erreur")).to_be_visible()  # the API's reason
        await visits.check(analyst, "analyste-date-erreur", forbidden_in_title=NOTHING)
