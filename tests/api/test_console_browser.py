"""The dispatch console, end to end in headless Chromium (Debian's package,
driven by Playwright): a trapped passenger published to the broker reaches the
page through the alerts process, the API and the SSE stream; a click
acknowledges it, and the change reaches the database and the MQTT alert topic;
the page reconnects by itself after the API goes away and resumes with
nothing missed."""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from playwright.async_api import Page, async_playwright

from semon.domain.alerts import ActionBody
from semon.mqtt import connect
from semon.settings import Settings
from semon.store.alerts import apply_action
from semon.tokens import create_token
from tests.api.conftest import LiveServer, make_settings

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 20_000


class AlertTopic:
    """Everything the alerts process publishes under <root>/alerts/#."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.changed = asyncio.Event()

    async def on_message(self, topic: str, payload: bytes, qos: int, props: dict[str, Any]) -> None:
        self.messages.append(json.loads(payload))
        self.changed.set()

    async def wait_for(self, alert_id: str, state: str, timeout: float = 20.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                for m in self.messages:
                    if m.get("alert_id") == alert_id and m.get("state") == state:
                        return m
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
async def registry(database_url: str) -> AsyncIterator[tuple[str, str]]:
    """An elevator in a district of its own: the dispatcher's token is scoped
    to it, so other tests' alerts in the shared database never show here."""
    tag = uuid.uuid4().hex[:8]
    elevator, district = f"EL-console-{tag}", f"district-{tag}"
    firm = f"FIRM-{tag}"
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO firms (firm_id, name, credit_grade, tech_level, phone)"
            " VALUES (%s, 'Reliable Lifts Ltd', 'A', 4, '+86 20 9633 3001')",
            (firm,),
        )
        await conn.execute(
            "INSERT INTO elevators (elevator_id, address, district, lat, lon, use_unit, firm_id,"
            " installed_on, floors, last_inspected_on, contact_phone)"
            " VALUES (%s, '12 Huanshi Road, Tower B', %s, 23.13, 113.27, 'Tower B Owners',"
            " %s, '2015-05-01', 20, current_date - 30, '+86 20 8888 0000')",
            (elevator, district, firm),
        )
    yield elevator, district


async def wait_state(page: Page, alert_id: str, state: str) -> None:
    await page.wait_for_selector(
        f'li.alert[data-alert-id="{alert_id}"][data-state="{state}"]', timeout=WAIT_MS
    )


async def title_flashes(page: Page, text: str, timeout: float = 5.0) -> bool:
    async with asyncio.timeout(timeout):
        while text not in await page.title():
            await asyncio.sleep(0.1)
    return True


async def test_console_end_to_end(
    settings: Settings, database_url: str, registry: tuple[str, str]
) -> None:
    elevator, district = registry
    root = settings.mqtt.topic_root
    settings.alerts.registry_refresh_s = 0.2
    api_settings = make_settings(database_url)
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        _, secret = await create_token(conn, "dispatcher", [district], "console browser test")
        await conn.commit()

    from alerts.service import run as run_alerts

    alerts_ready = asyncio.Event()
    alerts_task = asyncio.create_task(run_alerts(settings, ready=alerts_ready))
    server = LiveServer(api_settings)
    server.start()
    topic = AlertTopic()
    try:
        await asyncio.wait_for(alerts_ready.wait(), 30)
        base = f"http://127.0.0.1:{api_settings.api.port}"
        async with (
            connect(
                settings.mqtt_url,
                f"console-watch-{uuid.uuid4().hex[:8]}",
                on_message=topic.on_message,
            ) as watcher,
            connect(settings.mqtt_url, f"console-term-{uuid.uuid4().hex[:8]}") as terminal,
            async_playwright() as pw,
        ):
            await watcher.subscribe((f"{root}/alerts/#", 1))
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))

            await page.goto(f"{base}/console")
            await page.fill("#token", secret)
            await page.fill("#operator", "Dispatcher Li")
            await page.click("#login-button")
            await page.wait_for_selector('#conn[data-state="live"]', timeout=WAIT_MS)
            # the token is kept for this tab only
            kept = await page.evaluate("sessionStorage.getItem('semon.token')")
            assert kept == secret

            # the terminal's own trapped-passenger detection
            now = datetime.now(UTC).isoformat()
            terminal.publish(
                f"{root}/elevators/{elevator}/event",
                json.dumps({"ts": now, "code": "trapped", "gov_code": 8}).encode(),
                qos=1,
            )
            card = await page.wait_for_selector(
                f'li.alert[data-equipment-id="{elevator}"][data-kind="trapped_passenger"]'
                '[data-severity="critical"][data-state="open"]',
                timeout=WAIT_MS,
            )
            assert card is not None
            alert_id = await card.get_attribute("data-alert-id")
            assert alert_id
            text = await card.inner_text()
            assert elevator in text
            assert "12 Huanshi Road" in text and district in text  # location
            # the firm's contact, fetched from GET /elevators/{id} (selectors, not
            # wait_for_function: the page's CSP forbids eval)
            await page.wait_for_selector(
                f'li.alert[data-alert-id="{alert_id}"] .firm:has-text("9633 3001")',
                timeout=WAIT_MS,
            )
            # impossible to miss: banner and title
            assert await page.is_visible("#critical-banner")
            assert "trapped passenger" in (await page.inner_text("#critical-banner")).lower()
            assert await title_flashes(page, "CRITICAL")
            (REPO / "docs").mkdir(exist_ok=True)
            await page.screenshot(path=str(REPO / "docs" / "console.png"))

            # acknowledge with a click
            await page.click(f'li.alert[data-alert-id="{alert_id}"] button[data-action="ack"]')
            await wait_state(page, alert_id, "acknowledged")
            assert not await page.is_visible("#critical-banner")
            async with await psycopg.AsyncConnection.connect(database_url) as conn:
                row = await (
                    await conn.execute(
                        "SELECT state, acknowledged_at IS NOT NULL FROM alerts WHERE alert_id = %s",
                        (alert_id,),
                    )
                ).fetchone()
                assert row == ("acknowledged", True)
                ev = await (
                    await conn.execute(
                        "SELECT by FROM alert_events WHERE alert_id = %s AND action = 'ack'",
                        (alert_id,),
                    )
                ).fetchone()
                assert ev == ("Dispatcher Li",)
            acked = await topic.wait_for(alert_id, "acknowledged")
            assert acked["acknowledged_at"] is not None

            # the network drops: the API goes away, another console dispatches
            # meanwhile, the API comes back: the page resumes from its last
            # event id and shows the change without a reload
            server.stop()
            await page.wait_for_selector('#conn[data-state="wait"]', timeout=WAIT_MS)
            async with await psycopg.AsyncConnection.connect(database_url) as conn:
                await apply_action(
                    conn,
                    alert_id,
                    "dispatch",
                    ActionBody(by="other console"),
                    now=datetime.now(UTC),
                )
                await conn.commit()
            server = LiveServer(api_settings)
            server.start()
            await wait_state(page, alert_id, "dispatched")
            await page.wait_for_selector('#conn[data-state="live"]', timeout=WAIT_MS)

            # on site, then resolve with a resolution picked
            await page.click(f'li.alert[data-alert-id="{alert_id}"] button[data-action="arrive"]')
            await wait_state(page, alert_id, "on_site")
            await page.select_option(
                f'li.alert[data-alert-id="{alert_id}"] select.resolution', "rescued"
            )
            await page.click(f'li.alert[data-alert-id="{alert_id}"] button[data-action="resolve"]')
            await page.wait_for_selector(
                f'li.alert[data-alert-id="{alert_id}"]', state="hidden", timeout=WAIT_MS
            )
            resolved = await topic.wait_for(alert_id, "resolved")
            assert resolved["resolution"] == "rescued"
            assert errors == []
            await browser.close()
    finally:
        server.stop()
        alerts_task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await alerts_task
