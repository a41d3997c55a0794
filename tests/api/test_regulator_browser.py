"""The regulator's page of the console in headless Chromium (Debian's
package, driven by Playwright): a regulator logs in, opens the page, reads
last month's report as a table whose every figure is the report route's
(in Chinese, then English), and sees the district's lifts drawn from the
GeoJSON as SVG points coloured by their state, with no tile server.

Screenshots go to the test's tmp dir; with SEMON_UPDATE_SCREENSHOTS=1 to
docs/regulator.zh-CN.png (the README's)."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
from playwright.async_api import async_playwright

from semon.tokens import create_token
from tests.api.conftest import LiveServer, make_settings
from tests.api.test_console_browser import CHROMIUM, CHROMIUM_ARGS, WAIT_MS
from tests.support.screenshots import screenshot_path

pytestmark = pytest.mark.slow


async def test_regulator_page_report_and_map(database_url: str, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    district = f"越秀区-{tag}"
    lifts = [
        # id, lat, lon, last inspected, insured until
        (f"EL-reg-{tag}-{i}", 23.12 + i * 0.004, 113.26 + (i % 3) * 0.006, d, ins)
        for i, (d, ins) in enumerate(
            [("2026-06-01", "2027-06-30")] * 5 + [("2024-01-01", None)] * 2 + [("2026-03-01", None)]
        )
    ]
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO elevators (elevator_id, address, district, lat, lon, use_unit,"
                " installed_on, last_inspected_on, insured_until)"
                " VALUES (%s, '环市东路 12 号', %s, %s, %s, '环市物业', '2015-05-01', %s, %s)",
                [(e, district, lat, lon, d, ins) for e, lat, lon, d, ins in lifts],
            )
        await conn.execute(
            "INSERT INTO inspections (equipment_type, equipment_id, inspected_on, result,"
            " inspector) VALUES ('elevator', %s, date_trunc('month', current_date)::date - 5,"
            " 'fail', 'SEI-1')",
            (lifts[7][0],),
        )
        _, secret = await create_token(conn, "regulator", [district], "regulator browser test")
    api_settings = make_settings(database_url)
    server = LiveServer(api_settings)
    server.start()
    try:
        base = f"http://127.0.0.1:{api_settings.api.port}"
        headers = {"Authorization": f"Bearer {secret}"}
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = await browser.new_context(
                viewport={"width": 1300, "height": 900}, locale="zh-CN"
            )
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(f"{base}/console")
            await page.wait_for_selector("body[data-ready='1']", timeout=WAIT_MS)
            await page.fill("#token", secret)
            await page.fill("#operator", "监管员王")
            await page.click("#login-button")
            await page.wait_for_selector("#pages:not([hidden])", timeout=WAIT_MS)
            assert await page.inner_text("button.page[data-page='regulator']") == "监管月报"
            await page.click("button.page[data-page='regulator']")
            month = await page.input_value("#report-month")
            await page.wait_for_selector(f"body[data-report='{month}']", timeout=WAIT_MS)

            # The table: every figure as the report route gives it, in Chinese.
            report = httpx.get(
                f"{base}/reports/monthly", params={"month": month}, headers=headers, timeout=30
            ).json()
            rows = await page.eval_on_selector_all(
                "#report-rows tr",
                "rows => rows.map(r => [r.dataset.key, r.cells[1].textContent,"
                " r.cells[2].textContent])",
            )
            shown = {key: (label, value) for key, label, value in rows}
            for f in report["figures"]:
                label, value = shown[f["key"]]
                assert label == f["label"]
                v = f["value"]
                if v is None:
                    assert value == "—"
                elif f["key"].endswith(("_rate", "_share", "_5min", "_30min")):
                    assert value == f"{v * 100:.2f}%"
                else:
                    assert value == str(round(v) if f["key"].endswith("_s") else v)
            assert shown["elevators_in_service"] == ("在用电梯（台）", "8")
            assert shown["elevator_insurance_rate"][1] == "62.50%"
            assert shown["elevator_failed_in_use_rate"][1] == "12.50%"
            assert "特种设备安全监管月报" in await page.inner_text("#report-title")

            # The map: one point per lift, coloured by its state.
            dots = await page.eval_on_selector_all(
                "#report-map circle",
                "cs => cs.map(c => [c.dataset.id, c.getAttribute('class'),"
                " +c.getAttribute('cx'), +c.getAttribute('cy')])",
            )
            assert len(dots) == 8
            classes = {d[0]: d[1] for d in dots}
            assert classes[lifts[7][0]] == "pt pt-failed"
            assert classes[lifts[5][0]] == "pt pt-overdue"
            assert classes[lifts[0][0]] == "pt pt-ok"
            assert all(0 <= d[2] <= 640 and 0 <= d[3] <= 420 for d in dots)
            # north is up: the lift furthest north is drawn highest
            north = max(lifts, key=lambda e: e[1])[0]
            assert min(dots, key=lambda d: d[3])[0] == north
            assert await page.inner_text("#map-count") == "8 台"
            await page.screenshot(
                path=str(screenshot_path("regulator.zh-CN.png", tmp_path)), full_page=True
            )

            # In English the headings follow.
            await page.click("button.lang[data-language='en']")
            await page.wait_for_function("document.documentElement.lang === 'en'")
            await page.click("#report-load")
            await page.wait_for_function(
                "document.querySelector('#report-rows tr[data-key=elevators_in_service]')"
                ".cells[1].textContent === 'Elevators in service'",
                timeout=WAIT_MS,
            )
            assert await page.inner_text("#report-load") == "Show"
            assert errors == []
            await browser.close()
    finally:
        server.stop()
