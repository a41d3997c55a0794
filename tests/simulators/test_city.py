"""The synthetic city: same seed, same files; realistic shares; loads through the import path."""

from __future__ import annotations

import collections
from datetime import date
from pathlib import Path

import psycopg
import pytest

from semon.domain.registry import (
    Cylinder,
    Elevator,
    Firm,
    Inspection,
    MaintenanceRecord,
    RescueOrg,
    Station,
)
from semon.registry_import import RegistryRejected
from semon.settings import Settings
from simulators.city import GASES, generate_city, write_city
from simulators.player import load_city
from simulators.registry_dates import inspection_due, past_design_life

DAY = date(2026, 11, 23)
MODELS = {
    "rescue_orgs": RescueOrg,
    "elevators": Elevator,
    "cylinders": Cylinder,
    "firms": Firm,
    "stations": Station,
    "inspections": Inspection,
    "maintenance": MaintenanceRecord,
}


def _files(seed: int, tmp: Path) -> dict[str, bytes]:
    city = generate_city(seed, elevators=300, stations=4, reference_day=DAY)
    return {k: p.read_bytes() for k, p in write_city(city, tmp).items()}


def test_same_seed_same_files_different_seed_different(tmp_path: Path) -> None:
    a = _files(7, tmp_path / "a")
    b = _files(7, tmp_path / "b")
    c = _files(8, tmp_path / "c")
    assert a == b
    assert all(a[k] != c[k] for k in ("elevators", "cylinders"))


@pytest.fixture(scope="module")
def city():  # type: ignore[no-untyped-def]
    return generate_city(3, elevators=2000, stations=6, reference_day=DAY)


def test_records_match_the_registry_models(city) -> None:  # type: ignore[no-untyped-def]
    for kind, records in city.records.items():
        assert records, kind
        for record in records:
            MODELS[kind].model_validate(record)


def test_elevators_are_realistic(city) -> None:  # type: ignore[no-untyped-def]
    live = [r for r in city.records["elevators"] if r["status"] == "in_service"]
    overdue = [r for r in live if inspection_due(r, "elevator") < DAY]
    assert 0.05 <= len(overdue) / len(live) <= 0.10
    ages = [(DAY - date.fromisoformat(r["installed_on"])).days / 365.25 for r in live]
    assert min(ages) < 3 and 25 < max(ages) <= 31.5
    assert {r["use_unit_level"] for r in live} == {1, 2, 3, 4, 5}
    assert {f["credit_grade"] for f in city.records["firms"]} <= {"A", "B", "C", "D"}
    assert {f["tech_level"] for f in city.records["firms"]} <= {1, 2, 3, 4, 5}
    assert len({r["district"] for r in live}) >= 4
    floors = [r["floors"] for r in live]
    assert min(floors) <= 6 and max(floors) >= 30
    # Clearly overdue or clearly not: no due date within the rules' edge days.
    for r in live:
        assert abs((inspection_due(r, "elevator") - DAY).days) >= 3


def test_cylinders_are_realistic(city) -> None:  # type: ignore[no-untyped-def]
    rows = city.records["cylinders"]
    for r in rows:
        assert r["inspection_interval_years"] == GASES[r["gas"]]["interval"]
    assert {r["inspection_interval_years"] for r in rows if r["gas"] == "lpg"} == {4}
    live = [r for r in rows if r["status"] == "in_service"]
    overdue = [r for r in live if inspection_due(r, "cylinder") < DAY]
    past_life = [r for r in live if past_design_life(r, DAY)]
    scrapped = [r for r in rows if r["status"] == "scrapped"]
    assert 0.03 <= len(overdue) / len(live) <= 0.12
    assert 0.01 <= len(past_life) / len(live) <= 0.08
    assert 0.02 <= len(scrapped) / len(rows) <= 0.08
    by_station = collections.Counter(
        c.owner_station_id
        for c in city.cylinders
        if c.category in ("overdue", "scrapped", "past_life")
    )
    assert len(by_station) == len(city.stations)
    # The category the models rely on agrees with what the registry says.
    spec = {c.cylinder_id: c.category for c in city.cylinders}
    assert {spec[r["cylinder_id"]] for r in overdue} == {"overdue"}
    assert {spec[r["cylinder_id"]] for r in past_life} == {"past_life"}


async def test_city_loads_through_the_import_path(fresh_database_url: str, tmp_path: Path) -> None:
    city = generate_city(5, elevators=120, stations=3, reference_day=DAY)
    settings = Settings(database_url=fresh_database_url, state_dir=tmp_path)
    counts = await load_city(settings, city, tmp_path / "city")
    assert counts["elevators"] == 120
    async with await psycopg.AsyncConnection.connect(fresh_database_url) as conn:
        for table, n in (
            ("elevators", 120),
            ("stations", 3),
            ("cylinders", len(city.records["cylinders"])),
            ("maintenance_records", 120),
        ):
            cur = await conn.execute(f"SELECT count(*) FROM {table}")
            row = await cur.fetchone()
            assert row is not None and row[0] == n, table
        cur = await conn.execute(
            "SELECT use_unit_level FROM elevators WHERE elevator_id = 'E00001'"
        )
        row = await cur.fetchone()
        assert row is not None and 1 <= row[0] <= 5


async def test_city_loads_all_or_nothing(fresh_database_url: str, tmp_path: Path) -> None:
    """One transaction for the whole city: a bad record in the last file
    (maintenance) leaves no elevator behind without its records, which the
    alerts sweep would page as overdue."""
    city = generate_city(6, elevators=30, stations=1, reference_day=DAY)
    city.records["maintenance"][-1]["elevator_id"] = "no-such-elevator"
    settings = Settings(database_url=fresh_database_url, state_dir=tmp_path)
    with pytest.raises(RegistryRejected):
        await load_city(settings, city, tmp_path / "city")
    async with await psycopg.AsyncConnection.connect(fresh_database_url) as conn:
        for table in ("firms", "elevators", "maintenance_records"):
            cur = await conn.execute(f"SELECT count(*) FROM {table}")
            row = await cur.fetchone()
            assert row is not None and row[0] == 0, table
