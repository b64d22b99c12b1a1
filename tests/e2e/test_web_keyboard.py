"""The fiche de liaison filled with the keyboard alone, on a 360 px wide screen."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.conftest import PRE, RunningStack
from tests.e2e.browser import Visits, chromium, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

StackFactory = Callable[..., Awaitable[RunningStack]]
SCHOOL = "ecole-jules-ferry-rouen"


async def tab_to(page: Page, element_id: str, limit: int = 250) -> None:
    """Press Tab until ``element_id`` has the focus: it is reachable, in the page's order."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"#{element_id} never reached with Tab")


async def test_a_school_fills_and_sends_the_fiche_with_the_keyboard_on_a_phone(
    stack_factory: StackFactory,
) -> None:
    stack = await stack_factory(["web", "devidp", "referral"])
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.put(
            f"{stack.url('referral')}/v1/institutions/{SCHOOL}",
            json={
                "id": SCHOOL,
                "pre_id": PRE,
                "name": "École élémentaire Jules Ferry",
                "category": "school",
            },
            headers=stack.auth("admin", f"{PRE}-coordination"),
        )
        r.raise_for_status()
    web = stack.url("web")
    async with chromium() as browser:
        context = await browser.new_context(viewport={"width": 360, "height": 740}, locale="fr-FR")
        page = await context.new_page()
        await sign_in(page, web, "directrice-demo")
        await page.goto(f"{web}/orientations/nouvelle")
        wider = await page.evaluate("document.documentElement.scrollWidth")
        assert wider <= 360, f"the form scrolls sideways at 360 px ({wider} px)"
        await expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()

        async def type_in(element_id: str, text: str) -> None:
            await tab_to(page, element_id)
            await page.keyboard.type(text)

        async def press_on(element_id: str, key: str = "Space") -> None:
            await tab_to(page, element_id)
            await page.keyboard.press(key)

        await type_in("child-first_name", "Inès")
        await type_in("child-last_name", "Robert")
        await tab_to(page, "child-birth_date")
        # The date field takes digits in the order it shows them: Debian's headless
        # chromium shows mm/dd/yyyy whatever the page's language.
        await page.keyboard.type("03142017")
        await tab_to(page, "child-school_level")
        await page.keyboard.type("CE2")  # a select picks the option typed
        await type_in("guardians-0-first_name", "Nora")
        await type_in("guardians-0-last_name", "Robert")
        await type_in("guardians-0-phone", "0612345678")
        await press_on("reasons-categories-learning_difficulties")
        await type_in("reasons-description", "Lecture hésitante.")
        await press_on("axes-schooling")
        await tab_to(page, "parents_informed-yes")  # a radio group is one tab stop
        await page.keyboard.press("Space")
        await tab_to(page, "parents_agree-yes")
        await page.keyboard.press("Space")
        await type_in("referrer-role", "directrice")
        await type_in("referrer-email", "direction@ecole.example")
        await page.keyboard.press("Enter")  # submits the form from a text field
        await expect(page.get_by_text("Fiche envoyée au PRE")).to_be_visible()
        await expect(page.get_by_text("né·e le 14 mars 2017")).to_be_visible()
        await Visits().check(page, "ecole-fiche-clavier-360px", forbidden_in_title=("Inès",))
