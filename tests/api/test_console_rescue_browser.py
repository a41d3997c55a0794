"""The console's rescue desk in headless Chromium (Debian's package, driven
by Playwright), in Chinese and English: a dispatcher finds the lift by part
of its rescue code, records the call, and works the rescue card (tier
ladder, countdown, dispatch, call-back, on site, freed, close); every step
reaches the database. A rescue opened elsewhere (another desk's call)
arrives on the card list through `event: rescue` on the stream.

Screenshots go to the test's tmp dir; with SEMON_UPDATE_SCREENSHOTS=1 to
docs/rescue.zh-CN.png and docs/rescue.en.png (the README's)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psycopg
import pytest
from playwright.async_api import Page, async_playwright

from semon.settings import Settings
from semon.tokens import create_token
from tests.api.conftest import LiveServer, make_settings
from tests.api.test_console_browser import CHROMIUM, CHROMIUM_ARGS, WAIT_MS
from tests.support.screenshots import screenshot_path

pytestmark = pytest.mark.slow


@pytest.fixture
async def city(database_url: str) -> AsyncIterator[dict[str, str]]:
    """A district of its own: a firm, its rescue station and two lifts."""
    tag = uuid.uuid4().hex[:8]
    w = {
        "district": f"district-{tag}",
        "firm": f"FIRM-{tag}",
        "lift": f"EL-rescue-{tag}",
        "other": f"EL-rescue2-{tag}",
        "code": str(100000 + int(tag, 16) % 800000),
    }
    w["other_code"] = str(int(w["code"]) + 1)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO firms (firm_id, name, credit_grade, tech_level, phone)"
            " VALUES (%s, 'Reliable Lifts Ltd', 'A', 4, '020-96333001')",
            (w["firm"],),
        )
        await conn.execute(
            "INSERT INTO rescue_orgs (org_id, name, district, phone)"
            " VALUES (%s, 'Huanshi Rescue Station', %s, '020-96333119')",
            (f"RO-{tag}", w["district"]),
        )
        for eid, code, address in (
            (w["lift"], w["code"], "12 Huanshi Road, Tower B"),
            (w["other"], w["other_code"], "3 Tianhe Road"),
        ):
            await conn.execute(
                "INSERT INTO elevators (elevator_id, address, district, use_unit, firm_id,"
                " installed_on, rescue_code) VALUES (%s, %s, %s, 'Owners', %s, '2015-05-01', %s)",
                (eid, address, w["district"], w["firm"], code),
            )
    yield w


async def card(page: Page, elevator: str, state: str) -> None:
    await page.wait_for_selector(
        f'li.rescue[data-state="{state}"]:has(.r-equip:text-is("{elevator}"))', timeout=WAIT_MS
    )


async def test_rescue_desk_in_the_browser(
    database_url: str, city: dict[str, str], tmp_path: Path
) -> None:
    api_settings: Settings = make_settings(database_url)
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        _, secret = await create_token(conn, "dispatcher", [city["district"]], "rescue desk test")
        await conn.commit()
    server = LiveServer(api_settings)
    server.start()
    base = f"http://127.0.0.1:{api_settings.api.port}"
    lift = city["lift"]
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(f"{base}/console")
            await page.fill("#token", secret)
            await page.fill("#operator", "调度员李")
            await page.click("#login-button")
            await page.wait_for_selector('#conn[data-state="live"]', timeout=WAIT_MS)
            assert await page.inner_text("#dispatch h2 >> nth=0") == "来电登记"
            assert await page.is_visible("#rescues-empty")

            # the caller reads the code in the car; the dispatcher types part of it
            await page.fill("#intake-lift", city["code"][:5])
            await page.click(f'button.hit[data-elevator="{lift}"]', timeout=WAIT_MS)
            assert lift in await page.inner_text("#intake-chosen")
            await page.fill("#intake-name", "王女士")
            await page.fill("#intake-trapped", "2")
            await page.click("#intake-submit")
            await card(page, lift, "open")
            selector = f'li.rescue:has(.r-equip:text-is("{lift}"))'
            text = await page.inner_text(selector)
            assert "待派遣" in text and city["code"] in text
            assert "维保单位 Reliable Lifts Ltd 020-96333001" in text  # tier 1
            assert "救援组织 Huanshi Rescue Station 020-96333119" in text  # tier 2
            assert "消防" in text and "119" in text  # tier 3
            countdown = await page.inner_text(f"{selector} .r-countdown")
            assert countdown.startswith("1 级派遣剩余 4 分"), countdown
            await page.screenshot(path=str(tmp_path / "rescue-open.zh-CN.png"))

            # dispatch tier 1: the firm prefilled from the ladder
            assert await page.input_value(f"{selector} .r-assignee") == "Reliable Lifts Ltd"
            assert await page.input_value(f"{selector} .r-phone") == "020-96333001"
            await page.click(f'{selector} button[data-step="dispatch"]')
            await card(page, lift, "dispatched")
            await page.wait_for_selector(
                f'{selector} .r-countdown:has-text("1 级到场剩余")', timeout=WAIT_MS
            )
            await page.screenshot(path=str(screenshot_path("rescue.zh-CN.png", tmp_path)))
            await page.fill(f"{selector} .r-note", "已告知救援人员 12 分钟内到达")
            await page.click(f'{selector} button[data-step="callback"]')
            await page.wait_for_selector(f'{selector} .r-steps:has-text("已回访")', timeout=WAIT_MS)
            assert await page.is_disabled(f'{selector} button[data-step="free"]')
            await page.click(f'{selector} button[data-step="arrive"]')
            await card(page, lift, "on_site")
            await page.fill(f"{selector} .r-trapped", "2")
            await page.fill(f"{selector} .r-injured", "0")
            await page.click(f'{selector} button[data-step="free"]')
            await card(page, lift, "freed")
            await page.screenshot(path=str(tmp_path / "rescue-freed.zh-CN.png"))
            # closing needs a cause
            await page.click(f'{selector} button[data-step="close"]')
            await page.wait_for_selector("#toast:has-text('请先选择原因')", timeout=WAIT_MS)
            await page.select_option(f"{selector} .r-cause", "door_system")
            await page.click(f'{selector} button[data-step="close"]')
            await page.wait_for_selector(selector, state="detached", timeout=WAIT_MS)

            async with await psycopg.AsyncConnection.connect(database_url) as conn:
                cur = await conn.execute(
                    "SELECT r.state, r.tier, r.trapped_count, r.injured_count, r.cause_category,"
                    " r.callback_note, (SELECT count(*) FROM rescue_calls c"
                    " WHERE c.rescue_id = r.rescue_id), a.state, a.resolution"
                    " FROM rescues r JOIN alerts a USING (alert_id) WHERE r.elevator_id = %s",
                    (lift,),
                )
                rows = await cur.fetchall()
            assert rows == [
                (
                    "closed",
                    1,
                    2,
                    0,
                    "door_system",
                    "已告知救援人员 12 分钟内到达",
                    1,
                    "resolved",
                    "rescued",
                )
            ]

            # in English; another desk's call shows up through the stream
            await page.click("button.lang[data-language='en']")
            await page.wait_for_selector("html[lang='en']", timeout=WAIT_MS)
            await page.wait_for_selector('#conn[data-state="live"]', timeout=WAIT_MS)
            assert await page.inner_text("#dispatch h2 >> nth=0") == "Call intake"
            r = httpx.post(
                f"{base}/rescues",
                json={"rescue_code": city["other_code"], "caller_name": "Mr Chen"},
                headers={"Authorization": f"Bearer {secret}"},
                timeout=30,
            )
            assert r.status_code == 201, r.text
            await card(page, city["other"], "open")
            other = f'li.rescue:has(.r-equip:text-is("{city["other"]}"))'
            text = await page.inner_text(other)
            assert "Maintenance firm Reliable Lifts Ltd" in text and "Fire service" in text
            assert "open" in text and "1 call(s)" in text
            countdown = await page.inner_text(f"{other} .r-countdown")
            assert countdown.startswith("Tier 1 dispatch due in 4 min"), countdown
            await page.screenshot(path=str(screenshot_path("rescue.en.png", tmp_path)))
            assert errors == []
            await browser.close()
    finally:
        server.stop()
