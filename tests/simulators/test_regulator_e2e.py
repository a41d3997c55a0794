"""End to end: a simulated city with its regulator's book (failed and
conditional inspections, hazards some rectified late, self-checks with
gaps, insurance and tags) goes in through the registry import and the API,
and last month's report, read back through the API, says exactly what the
ground truth computed from the records says."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from semon.registry_import import import_files
from semon.settings import Settings
from semon.store.commands import migrate_database
from simulators.city import KIND_ORDER, generate_city, write_city
from simulators.regulator import RegulatorRates, add_book, truth
from tests.api.conftest import LiveServer, make_settings
from tests.support import services


@pytest.fixture
def server(pg_admin_dsn: str) -> Iterator[tuple[str, Settings]]:
    with services.fresh_database(pg_admin_dsn, prefix="semon_regulator") as dsn:
        asyncio.run(migrate_database(dsn, Settings(database_url=dsn)))
        settings = make_settings(dsn)
        live = LiveServer(settings)
        live.start()
        try:
            yield f"http://127.0.0.1:{settings.api.port}", settings
        finally:
            live.stop()


@pytest.mark.slow
def test_report_rates_equal_the_ground_truth(server: tuple[str, Settings], tmp_path: Path) -> None:
    base, settings = server
    admin = {"Authorization": f"Bearer {settings.api.bootstrap_admin_token}"}
    today = datetime.now(UTC).date()
    month_end = today.replace(day=1)
    month_start = (month_end - timedelta(days=1)).replace(day=1)
    city = generate_city(16, elevators=160, stations=3, reference_day=today)
    # Rates well above a real city's, so that every figure is far from zero.
    rates = RegulatorRates(
        elevator_insured=0.8,
        cylinder_insured=0.6,
        cylinder_tagged=0.7,
        elevator_failed=0.1,
        cylinder_failed=0.05,
        hazards_per_elevator=0.3,
        serious_share=0.4,
        rectified_share=0.7,
        late_share=0.3,
        self_check_gap=0.3,
    )
    book = add_book(city, month_start, month_end, rates)
    paths = write_city(city, tmp_path / "city")
    asyncio.run(import_files(settings, [(paths[k], k) for k in KIND_ORDER]))
    with httpx.Client(base_url=base, headers=admin, timeout=60) as api:
        for h in book.hazards:
            r = api.post("/hazards", json=h["body"])
            assert r.status_code == 201, r.text
            if h["rectified_on"]:
                r = api.post(
                    f"/hazards/{r.json()['hazard_id']}/rectify",
                    json={"note": "done", "rectified_on": h["rectified_on"]},
                )
                assert r.status_code == 200, r.text
        for c in book.self_checks:
            assert api.post("/self-checks", json=c).status_code == 201
        month = f"{month_start.year:04d}-{month_start.month:02d}"
        report = api.get("/reports/monthly", params={"month": month})
        assert report.status_code == 200, report.text
    got = {f["key"]: f["value"] for f in report.json()["figures"]}
    want = truth(city, book, as_of=month_end, today=today)
    assert {k: got[k] for k in want} == want
    # The book is not empty: each rate is something to measure.
    assert 0 < want["elevator_insurance_rate"] < 1 and 0 < want["cylinder_tag_rate"] < 1
    assert want["elevator_failed_in_use_rate"] > 0 and want["hazards_overdue"] > 0
    assert 0 < want["serious_rectification_rate"] < 1
    assert 0 < want["self_check_rate"] < 1


def test_the_book_is_reproducible() -> None:
    day = date(2026, 11, 22)
    a = generate_city(3, elevators=60, stations=2, reference_day=day)
    b = generate_city(3, elevators=60, stations=2, reference_day=day)
    plain = generate_city(3, elevators=60, stations=2, reference_day=day)
    book_a = add_book(a, date(2026, 10, 1), date(2026, 11, 1))
    book_b = add_book(b, date(2026, 10, 1), date(2026, 11, 1))
    assert a.records == b.records and book_a == book_b
    # the book adds fields and records, and changes none of the city's own
    for kind in ("elevators", "cylinders"):
        for with_book, without in zip(a.records[kind], plain.records[kind], strict=True):
            assert {k: with_book[k] for k in without} == without
    assert (
        a.records["inspections"][: len(plain.records["inspections"])]
        == (plain.records["inspections"])
    )
