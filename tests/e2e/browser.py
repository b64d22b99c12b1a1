"""Playwright on Debian's chromium (never a downloaded browser), with axe-core on each page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, async_playwright

CHROMIUM = Path("/usr/bin/chromium")
#: Flags that keep chromium from stalling on refused connections here (PLATFORM-NOTES.md).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path("var/screenshots")
_axe = Axe()


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A fresh profile each time (Playwright makes a temporary one)."""
    if not CHROMIUM.exists():
        pytest.fail("chromium is missing: `apt-get install chromium` (.ci/run installs it)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield browser
        finally:
            await browser.close()


class Visits:
    """Every page a test looks at: axe-core finds no serious or critical violation on it,
    it is saved as a screenshot, and it never shows ``unsafe`` identity in its title."""

    def __init__(self, directory: Path = SCREENSHOTS) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.seen: list[str] = []

    async def check(self, page: Page, name: str, *, forbidden_in_title: tuple[str, ...]) -> None:
        await page.wait_for_load_state("load")
        self.seen.append(f"{name}: {page.url}")
        await page.screenshot(
            path=self.directory / f"{len(self.seen):02d}-{name}.png", full_page=True
        )
        title = await page.title()
        for word in forbidden_in_title:
            assert word not in title, f"{name}: identity in the page title {title!r}"
            assert word not in page.url, f"{name}: identity in the URL {page.url}"
        results = await _axe.run(page)
        serious = [
            _describe(v)
            for v in results.response["violations"]
            if v.get("impact") in ("serious", "critical")
        ]
        assert not serious, f"{name}: accessibility violations {serious}"


def _describe(violation: dict[str, Any]) -> str:
    targets = [" ".join(map(str, n.get("target", []))) for n in violation.get("nodes", [])][:3]
    return f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}"


async def sign_in(page: Page, web: str, sub: str) -> None:
    """Through the dev OpenID provider's chooser, as a person would."""
    await page.goto(f"{web}/")
    await page.get_by_role("link", name="Se connecter").first.click()
    await page.locator(f"button[value='{sub}']").click()
    await page.wait_for_url(re.compile(re.escape(web) + r"/.*"))
