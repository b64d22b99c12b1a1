"""/docs and /redoc render in a browser that can reach nothing but the service."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi import APIRouter, FastAPI

from relais_runtime.app import build_app
from relais_runtime.runtime import ServiceRuntime
from relais_runtime.settings import RelaisSettings
from relais_runtime.testing import serving
from tests.e2e.browser import chromium

# A real browser (chromium) drives the pages: out of the fast lane.
pytestmark = [pytest.mark.usefixtures("restore_logging"), pytest.mark.integration]


def docs_app(tmp_path: Path) -> Callable[[], FastAPI]:
    def create_app() -> FastAPI:
        settings = RelaisSettings(jwks_path=tmp_path / "jwks.json")
        runtime = ServiceRuntime(settings, service="docs-test", migrations_dir=tmp_path)
        router = APIRouter(prefix="/v1")

        @router.get("/situations", summary="Les situations du PRE")
        async def situations() -> list[str]:
            return []

        return build_app(runtime, title="Relais — essai", description="d", routers=[router])

    return create_app


@pytest.mark.parametrize(
    ("path", "rendered"),
    [("/docs", ".swagger-ui .opblock-summary-path"), ("/redoc", ".redoc-wrap .api-content")],
)
async def test_the_api_docs_render_with_nothing_but_the_service_reachable(
    tmp_path: Path, path: str, rendered: str
) -> None:
    from playwright.async_api import Route

    elsewhere: list[tuple[str, str]] = []

    async with serving(docs_app(tmp_path), lifespan="off") as url, chromium() as browser:
        service = urlsplit(url).netloc

        async def offline(route: Route) -> None:
            if urlsplit(route.request.url).netloc == service:
                await route.continue_()
            else:  # the Internet is not there
                elsewhere.append((route.request.resource_type, route.request.url))
                await route.abort()

        page = await browser.new_page()
        await page.route("**/*", offline)
        await page.goto(f"{url}{path}")
        await page.wait_for_selector(rendered, timeout=15_000)
        text = await page.inner_text("body")

    # Every script and style comes from the service. ReDoc's bundle still shows its
    # "API docs by Redocly" logo from its site: a missing picture, nothing more.
    assert [(kind, url) for kind, url in elsewhere if kind != "image"] == []
    assert "Relais — essai" in text
    assert "/v1/situations" in text or "Les situations du PRE" in text
