"""Coverage through the real API: insurance, tags and IoT counted by hand,
registry fields through the CSV import, and bad queries named."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from semon.store.telemetry import Rows, prepare_staging, write_rows
from tests.api.conftest import Headers
from tests.api.test_registry import run_cli


def _get(api_url: str, headers: Headers, **params: Any) -> httpx.Response:
    return httpx.get(f"{api_url}/stats/coverage", params=params, headers=headers, timeout=30)


def _heard(dsn: str, samples: list[tuple[str, datetime]]) -> None:
    """Status samples stored as ingest stores them: each batch's rows and
    its lifts' last-seen times in one transaction."""
    # elevator_status's columns in order (telemetry.STATUS_COLUMNS)
    still = (1, 0.0, "stopped", "closed", True, None, None, "normal", False, "mains")
    rows = [(eid, ts, *still, None, None, None, ts) for eid, ts in samples]
    with psycopg.connect(dsn) as conn:
        prepare_staging(conn)
        write_rows(conn, Rows(status=rows))
        conn.commit()


def _groups(body: dict[str, Any]) -> dict[Any, tuple[int, int]]:
    return {g["key"]: (g["total"], g["covered"]) for g in body["groups"]}


def test_insurance_tags_and_iot(
    api_url: str,
    admin_headers: Headers,
    token_for: Callable[..., Headers],
    database_url: str,
    uid: str,
) -> None:
    d = f"{uid}-d"
    lifts = [
        {
            "elevator_id": f"{uid}-E{i}",
            "address": "1 Rd",
            "district": d,
            "use_unit": f"{uid}-u{i % 2}",
            "installed_on": "2015-01-01",
            "insurer": "PICC" if i < 3 else None,
            "insurance_policy": f"P-{i}" if i < 3 else None,
            "insured_until": ["2026-12-31", "2026-06-30", "2026-07-01", None][i],
        }
        for i in range(4)
    ]
    r = httpx.post(f"{api_url}/registry/elevators", json=lifts, headers=admin_headers)
    assert r.status_code == 200, r.text
    station = {"station_id": f"{uid}-S", "name": "s", "district": d}
    r = httpx.post(f"{api_url}/registry/stations", json=[station], headers=admin_headers)
    assert r.status_code == 200, r.text
    cylinders = [
        {
            "cylinder_id": f"{uid}-C{i}",
            "gas": "lpg",
            "manufactured_on": "2022-01-01",
            "max_fill_kg": 14.5,
            "design_life_years": 15,
            "inspection_interval_years": 4,
            "owner_station_id": f"{uid}-S",
            "tag": ["qr", "rfid", "none"][i],
            "insured_until": "2027-01-01" if i == 0 else None,
        }
        for i in range(3)
    ]
    r = httpx.post(f"{api_url}/registry/cylinders", json=cylinders, headers=admin_headers)
    assert r.status_code == 200, r.text
    regulator = token_for("regulator", d)
    # Insurance on 2026-07-01: E0 and E2 (E1 ran out the day before, E3 never).
    body = _get(api_url, regulator, metric="insurance", at="2026-07-01").json()
    assert _groups(body) == {d: (4, 2)} and body["overall"]["rate"] == 0.5
    by_unit = _get(api_url, regulator, metric="insurance", group_by="use_unit", at="2026-07-02")
    assert _groups(by_unit.json()) == {f"{uid}-u0": (2, 1), f"{uid}-u1": (2, 0)}
    cyl = _get(api_url, regulator, metric="tag", equipment="cylinder", group_by="station_id")
    assert _groups(cyl.json()) == {f"{uid}-S": (3, 2)}
    ins = _get(api_url, regulator, metric="insurance", equipment="cylinder", at="2026-12-01")
    assert _groups(ins.json()) == {d: (3, 1)}
    # IoT: E0 heard 2 h before `at`, E1 30 h before; the others never.
    at = datetime(2026, 11, 20, tzinfo=UTC)
    _heard(database_url, [(f"{uid}-E0", at - timedelta(hours=2))])
    _heard(database_url, [(f"{uid}-E1", at - timedelta(hours=30))])
    iot = _get(api_url, regulator, metric="iot", at="2026-11-20").json()
    assert _groups(iot) == {d: (4, 1)} and iot["overall"]["rate"] == 0.25
    # Heard from since (its last-seen time now after `at`): the samples in
    # the window still decide, as for E2 judged the day after.
    _heard(database_url, [(f"{uid}-E1", at + timedelta(hours=3))])
    _heard(database_url, [(f"{uid}-E2", at - timedelta(hours=1))])
    _heard(database_url, [(f"{uid}-E2", at + timedelta(hours=5))])
    iot = _get(api_url, regulator, metric="iot", at="2026-11-20").json()
    assert _groups(iot) == {d: (4, 2)}
    # E3 heard 30 s before the window and 10 s into it: less than a step
    # apart, its kept time stays before the window, and its samples decide.
    window_start = at - timedelta(hours=24)
    _heard(database_url, [(f"{uid}-E3", window_start - timedelta(seconds=30))])
    _heard(database_url, [(f"{uid}-E3", window_start + timedelta(seconds=10))])
    iot = _get(api_url, regulator, metric="iot", at="2026-11-20").json()
    assert _groups(iot) == {d: (4, 3)}
    iot = _get(api_url, regulator, metric="iot", at="2026-11-21").json()
    assert _groups(iot) == {d: (4, 2)}  # E1 and E2, heard in the day before
    # Out of scope: another district's regulator sees nothing of it.
    other = _get(api_url, token_for("regulator", f"{uid}-x"), metric="insurance").json()
    assert other["overall"]["total"] == 0
    # Bad queries name the parameter.
    for params, field in (
        ({"metric": "tag", "equipment": "elevator"}, "metric"),
        ({"metric": "iot", "equipment": "cylinder", "group_by": "district"}, "metric"),
        ({"metric": "pets"}, "metric"),
        ({"at": "2026-02-30"}, "at"),
        ({"equipment": "cylinder", "group_by": "firm_id"}, "group_by"),
    ):
        r = _get(api_url, admin_headers, **params)
        assert r.status_code == 422 and field in r.text, (params, r.text)


def test_coverage_fields_import_from_csv(database_url: str, tmp_path: Path, uid: str) -> None:
    csv_file = tmp_path / "elevators.csv"
    csv_file.write_text(
        "elevator_id,address,district,use_unit,installed_on,insurer,insurance_policy,insured_until\n"
        f"{uid}-E1,1 A St,{uid}-d,u,2010-01-01,PICC,GZ-001,2027-03-31\n"
        f"{uid}-E2,2 A St,{uid}-d,u,2011-01-01,,,\n"
    )
    cyl_file = tmp_path / "cylinders.csv"
    cyl_file.write_text(
        "cylinder_id,gas,manufactured_on,max_fill_kg,design_life_years,"
        "inspection_interval_years,tag,insured_until\n"
        f"{uid}-C1,lpg,2022-01-01,14.5,15,4,rfid,2027-01-01\n"
        f"{uid}-C2,lpg,2022-01-01,14.5,15,4,,\n"
    )
    for f in (csv_file, cyl_file):
        done = run_cli(database_url, "registry", "import", str(f))
        assert done.returncode == 0, done.stderr
    with psycopg.connect(database_url) as conn:
        lifts = conn.execute(
            "SELECT elevator_id, insurer, insurance_policy, insured_until::text FROM elevators"
            " WHERE elevator_id LIKE %s ORDER BY 1",
            (uid + "%",),
        ).fetchall()
        cyls = conn.execute(
            "SELECT cylinder_id, tag, insured_until::text FROM cylinders"
            " WHERE cylinder_id LIKE %s ORDER BY 1",
            (uid + "%",),
        ).fetchall()
    assert lifts == [
        (f"{uid}-E1", "PICC", "GZ-001", "2027-03-31"),
        (f"{uid}-E2", None, None, None),
    ]
    assert cyls == [(f"{uid}-C1", "rfid", "2027-01-01"), (f"{uid}-C2", "none", None)]
