"""The dispatch console, end to end in headless Chromium (Debian's package,
driven by Playwright): a trapped passenger published to the broker reaches the
page through the alerts process, the API and the SSE stream; a click
acknowledges it, and the change reaches the database and the MQTT alert topic;
the page reconnects by itself after the API goes away and resumes with
nothing missed. And the dispatch desk as a new user meets it: in Chinese by
default, a trapped passenger above a hundred inspection alerts that wait
behind a filter with their counts, filters by district and kind, times in
the platform's zone, and a 中文/English switch the browser remembers.

Screenshots go to the test's tmp dir; with SEMON_UPDATE_SCREENSHOTS=1 the
desk's go to docs/console.zh-CN.png and docs/console.en.png (the README's)."""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from playwright.async_api import Page, async_playwright

from semon.domain.alerts import ActionBody
from semon.i18n import Reader, reader
from semon.mqtt import connect
from semon.settings import Settings
from semon.store.alerts import apply_action
from semon.tokens import create_token
from tests.api.conftest import LiveServer, make_settings
from tests.support.screenshots import screenshot_path

pytestmark = pytest.mark.slow

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
    settings: Settings, database_url: str, registry: tuple[str, str], tmp_path: Path
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
            # an English-speaking browser (Accept-Language en-US): the console speaks English
            page = await browser.new_page(viewport={"width": 1280, "height": 800}, locale="en-US")
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
            await page.screenshot(path=str(tmp_path / "console.png"))

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


# --- the dispatch desk, in both languages ------------------------------------

OVERDUE = {"east": 50, "west": 43}  # elevators whose periodic inspection is long overdue


@pytest.fixture
async def desk_city(database_url: str) -> AsyncIterator[dict[str, Any]]:
    """Two districts: a car that will trap a passenger (east), one that will
    report a fault (west), and 93 cars overdue for inspection. All were
    installed in 2015 with no maintenance visit on record, so each is also
    maintenance-overdue (minor): the sweep raises 93 + 95 alerts nobody is
    dispatched for."""
    tag = uuid.uuid4().hex[:8]
    east, west = f"越秀区-{tag}", f"天河区-{tag}"
    firm = f"FIRM-D-{tag}"
    trapped, faulty = f"EL-desk-{tag}-T", f"EL-desk-{tag}-F"
    rows: list[tuple[str, str, int]] = [(trapped, east, 30), (faulty, west, 30)]
    for district, name in ((east, "east"), (west, "west")):
        rows += [(f"EL-desk-{tag}-{name}-{i:03d}", district, 400) for i in range(OVERDUE[name])]
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO firms (firm_id, name, credit_grade, tech_level, phone)"
            " VALUES (%s, '安达电梯维保有限公司', 'A', 4, '020-9633-3001')",
            (firm,),
        )
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO elevators (elevator_id, address, district, lat, lon, use_unit,"
                " firm_id, installed_on, floors, last_inspected_on, contact_phone)"
                " VALUES (%s, '环市东路 12 号 B 座', %s, 23.13, 113.27, '环市物业',"
                " %s, '2015-05-01', 20, current_date - %s::int, '020-8888-0000')",
                [(eid, district, firm, days) for eid, district, days in rows],
            )
    yield {"east": east, "west": west, "trapped": trapped, "faulty": faulty}


async def visible_cards(page: Page) -> list[dict[str, str]]:
    """The cards shown, in order: kind, severity, district, start time, age text."""
    cards: list[dict[str, str]] = await page.eval_on_selector_all(
        "#alerts li.alert:not([hidden])",
        """cards => cards.map(c => ({
            kind: c.dataset.kind, severity: c.dataset.severity, district: c.dataset.district,
            started: c.querySelector('.age').dataset.time,
            age: c.querySelector('.age').textContent,
        }))""",
    )
    return cards


async def wait_count(page: Page, view: str, count: int) -> None:
    await page.wait_for_selector(
        f'button.view[data-view="{view}"][data-count="{count}"]', timeout=WAIT_MS
    )


def shown_at(reader: Reader, iso: str, now: datetime) -> str:
    """What the console shows for a time: today's (in the platform's zone) alone."""
    when = datetime.fromisoformat(iso)
    if reader.format_date(when) == reader.format_date(now):
        return reader.format_time(when)
    return reader.format_datetime(when)


async def test_dispatch_desk_in_both_languages(
    settings: Settings, database_url: str, desk_city: dict[str, Any], tmp_path: Path
) -> None:
    root = settings.mqtt.topic_root
    settings.alerts.fault_debounce_s = 0.2
    api_settings = make_settings(database_url)
    zh, en = reader("zh-CN", "Asia/Shanghai"), reader("en", "Asia/Shanghai")
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        _, secret = await create_token(
            conn, "dispatcher", [desk_city["east"], desk_city["west"]], "desk browser test"
        )
        await conn.commit()

    from alerts.service import run as run_alerts

    alerts_ready = asyncio.Event()
    alerts_task = asyncio.create_task(run_alerts(settings, ready=alerts_ready))
    server = LiveServer(api_settings)
    server.start()
    try:
        await asyncio.wait_for(alerts_ready.wait(), 30)
        base = f"http://127.0.0.1:{api_settings.api.port}"
        async with (
            connect(settings.mqtt_url, f"desk-term-{uuid.uuid4().hex[:8]}") as terminal,
            async_playwright() as pw,
        ):
            now = datetime.now(UTC)
            terminal.publish(
                f"{root}/elevators/{desk_city['trapped']}/event",
                json.dumps({"ts": now.isoformat(), "code": "trapped", "gov_code": 8}).encode(),
                qos=1,
            )
            terminal.publish(
                f"{root}/elevators/{desk_city['faulty']}/event",
                json.dumps(
                    {"ts": (now - timedelta(seconds=10)).isoformat(), "code": "door_fails_to_open"}
                ).encode(),
                qos=1,
            )
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            # A dispatcher's browser in Guangzhou set to Chinese, on a machine whose
            # clock is in Los Angeles: the page's times must still be Shanghai's.
            context = await browser.new_context(
                viewport={"width": 1280, "height": 800},
                locale="zh-CN",
                timezone_id="America/Los_Angeles",
            )
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))

            await page.goto(f"{base}/console")
            await page.wait_for_selector("body[data-ready='1']", timeout=WAIT_MS)
            assert await page.get_attribute("html", "lang") == "zh-CN"
            assert await page.inner_text("#login h2") == "登录"
            assert await page.inner_text("#login-button") == "登录"
            await page.fill("#token", secret)
            await page.fill("#operator", "调度员李")
            await page.click("#login-button")
            await page.wait_for_selector('#conn[data-state="live"]', timeout=WAIT_MS)
            assert await page.inner_text("#conn") == "实时"

            # The desk: the trapped passenger and the fault; 188 others behind the filter.
            others = OVERDUE["east"] + OVERDUE["west"] + 95  # inspection + maintenance
            await wait_count(page, "desk", 2)
            await wait_count(page, "other", others)
            cards = await visible_cards(page)
            assert [c["kind"] for c in cards] == ["trapped_passenger", "elevator_fault"]
            assert await page.inner_text("button.view[data-view='desk']") == "需调度（2）"
            note = await page.inner_text("#hidden-note")
            assert f"另有 {others} 条无需调度的警报未显示" in note
            assert "维保超期（95）" in note and "定期检验超期（93）" in note
            trapped_card = await page.inner_text("li.alert[data-kind='trapped_passenger']")
            assert "困人" in trapped_card and "紧急" in trapped_card and "待确认" in trapped_card
            # the summaries too, rendered by the API in the console's language
            assert "困人：终端报告有人被困" in trapped_card
            fault_card = await page.inner_text("li.alert[data-kind='elevator_fault']")
            assert "故障：开门故障" in fault_card
            # its time: Shanghai's, 24-hour (the browser's own zone is Los Angeles)
            assert cards[0]["age"] == "始于 " + shown_at(zh, cards[0]["started"], now)
            assert "困人" in await page.inner_text("#critical-banner")
            await page.screenshot(path=str(screenshot_path("console.zh-CN.png", tmp_path)))

            # by district: the west has only the fault to dispatch
            await page.select_option("#district", desk_city["west"])
            await wait_count(page, "desk", 1)
            assert [c["kind"] for c in await visible_cards(page)] == ["elevator_fault"]
            await wait_count(page, "other", OVERDUE["west"] * 2 + 1)  # + the faulty car's upkeep
            await page.select_option("#district", "")

            # the rest: by kind, sorted by severity then age (oldest first)
            await page.click("button.view[data-view='other']")
            await page.select_option("#kind", "inspection_overdue")
            await wait_count(page, "other", OVERDUE["east"] + OVERDUE["west"])
            overdue = await visible_cards(page)
            assert len(overdue) == OVERDUE["east"] + OVERDUE["west"]
            assert {c["kind"] for c in overdue} == {"inspection_overdue"}
            assert overdue[0]["age"] == "始于 " + shown_at(zh, overdue[0]["started"], now)
            assert "年" in overdue[0]["age"]  # long ago: with its date, in Chinese
            await page.select_option("#district", desk_city["east"])
            await wait_count(page, "other", OVERDUE["east"])
            await page.select_option("#district", "")
            await page.select_option("#kind", "")
            await page.click("button.view[data-view='all']")
            await wait_count(page, "all", others + 2)
            rank = {"critical": 0, "major": 1, "minor": 2, "info": 3}
            every = await visible_cards(page)
            assert len(every) == others + 2
            order = [(rank[c["severity"]], c["started"]) for c in every]
            assert order == sorted(order)
            assert every[0]["kind"] == "trapped_passenger"
            await page.click("button.view[data-view='desk']")
            await wait_count(page, "desk", 2)

            # English, remembered by this browser across a reload
            await page.click("button.lang[data-language='en']")
            await page.wait_for_selector("html[lang='en']", timeout=WAIT_MS)
            assert await page.evaluate("localStorage.getItem('semon.language')") == "en"
            await page.reload()
            await page.wait_for_selector('#conn[data-state="live"]', timeout=WAIT_MS)
            await wait_count(page, "desk", 2)
            assert await page.get_attribute("html", "lang") == "en"
            assert await page.inner_text("button.view[data-view='desk']") == "Dispatch (2)"
            assert await page.inner_text("#logout") == "Log out"
            cards = await visible_cards(page)
            assert cards[0]["age"] == "since " + shown_at(en, cards[0]["started"], now)
            assert "Trapped passenger" in await page.inner_text("#critical-banner")
            trapped_card = await page.inner_text("li.alert[data-kind='trapped_passenger']")
            assert "Passengers trapped in elevator" in trapped_card
            fault_card = await page.inner_text("li.alert[data-kind='elevator_fault']")
            assert "fault: door fails to open" in fault_card
            note = await page.inner_text("#hidden-note")
            assert f"{others} alerts that need no dispatch are not shown" in note
            await page.screenshot(path=str(screenshot_path("console.en.png", tmp_path)))
            body = await page.inner_text("body")
            assert "console." not in body  # no key shown in place of a text

            # and back to Chinese
            await page.click("button.lang[data-language='zh-CN']")
            await page.wait_for_selector("html[lang='zh-CN']", timeout=WAIT_MS)
            assert await page.inner_text("#logout") == "退出登录"
            assert await page.evaluate("localStorage.getItem('semon.language')") == "zh-CN"
            assert errors == []

            # A browser that asks for English and has chosen nothing gets English.
            english = await browser.new_context(locale="en-US")
            fresh = await english.new_page()
            await fresh.goto(f"{base}/console")
            await fresh.wait_for_selector("body[data-ready='1']", timeout=WAIT_MS)
            assert await fresh.get_attribute("html", "lang") == "en"
            assert await fresh.inner_text("#login h2") == "Log in"
            await browser.close()
    finally:
        server.stop()
        alerts_task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await alerts_task
