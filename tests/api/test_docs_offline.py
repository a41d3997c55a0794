"""`/docs` and `/redoc` work on a network without the internet: headless
Chromium with every host but the loopback unresolvable and every request
outside 127.0.0.1 aborted (and recorded) renders Swagger UI's operations and
ReDoc's, from the files the installed packages ship. Nothing is even asked of
the outside."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import BrowserContext, Route, async_playwright

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
WAIT_MS = 30_000
LOOPBACK = {"127.0.0.1", "localhost", "[::1]"}


class Outside:
    """Every request the page made to anywhere but this machine (aborted)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def route(self, route: Route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in LOOPBACK:
            self.asked.append(url)
            await route.abort("internetdisconnected")
        else:
            await route.continue_()


@pytest.fixture
async def offline() -> AsyncIterator[tuple[BrowserContext, Outside]]:
    outside = Outside()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                # No name resolves but the loopback: a CDN could not be reached
                # even by a request the route below did not see (a worker's).
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
            ],
        )
        context = await browser.new_context(locale="zh-CN")
        await context.route("**/*", outside.route)
        try:
            yield context, outside
        finally:
            await browser.close()


async def test_swagger_ui_renders_the_operations_offline(
    api_url: str, offline: tuple[BrowserContext, Outside]
) -> None:
    context, outside = offline
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{api_url}/docs")
    await page.wait_for_selector(".opblock-summary-path", timeout=WAIT_MS)
    paths = await page.eval_on_selector_all(
        ".opblock-summary-path", "els => els.map(e => e.getAttribute('data-path'))"
    )
    assert {"/alerts", "/alerts/stream", "/elevators/{elevator_id}"} <= set(paths)
    assert "semon" in await page.inner_text(".info .title")
    assert await page.title() == "semon API 文档（Swagger UI）"  # the reader's language
    assert outside.asked == []
    assert errors == []


async def test_redoc_renders_offline(api_url: str, offline: tuple[BrowserContext, Outside]) -> None:
    context, outside = offline
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{api_url}/redoc")
    await page.wait_for_selector("[data-section-id^='operation/']", timeout=WAIT_MS)
    sections = await page.eval_on_selector_all(
        "[data-section-id^='operation/']", "els => els.map(e => e.dataset.sectionId)"
    )
    assert len(sections) >= 20
    assert "semon" in await page.inner_text(".api-info h1")
    assert outside.asked == []
    assert errors == []


def test_docs_pages_name_only_local_files(api_url: str) -> None:
    for page in ("/docs", "/redoc"):
        r = httpx.get(api_url + page, headers={"Accept-Language": "en"})
        assert r.status_code == 200
        assert "cdn" not in r.text.lower() and "fonts.googleapis" not in r.text
        assert "/docs/assets/" in r.text
        assert "API reference" in r.text
        assert "default-src 'self'" in r.headers["content-security-policy"]
    for name, kind in (
        ("swagger-ui-bundle.js", "javascript"),
        ("swagger-ui.css", "css"),
        ("redoc.standalone.js", "javascript"),
    ):
        r = httpx.get(f"{api_url}/docs/assets/{name}")
        assert r.status_code == 200 and kind in r.headers["content-type"]
        assert len(r.content) > 100_000
    assert httpx.get(f"{api_url}/docs/assets/..%2Fcore.py").status_code == 404
    assert httpx.get(f"{api_url}/docs/assets/core.py").status_code == 404
