"""The monthly report through the real API: every figure equals the
statistics route's for the same scope and month, in JSON, CSV and XLSX
alike, with headings in the caller's language; bad months and districts
answered with the field named."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
from openpyxl import load_workbook

from tests.api.conftest import Headers

MONTH = "2026-11"
FROM, TO = "2026-11-01", "2026-12-01"


def _get(api_url: str, path: str, headers: Headers, **params: Any) -> httpx.Response:
    r = httpx.get(f"{api_url}{path}", params=params, headers=headers, timeout=60)
    return r


def _seed(api_url: str, admin: Headers, dsn: str, uid: str) -> str:
    d = f"{uid}-d"
    lifts = [
        {
            "elevator_id": f"{uid}-E{i}",
            "address": "1 Rd",
            "district": d,
            "use_unit": f"{uid}-u{i % 2}",
            "firm_id": f"{uid}-F",
            "installed_on": "2015-01-01",
            "last_inspected_on": "2026-01-15" if i < 3 else "2025-06-01",
            "insured_until": "2027-01-01" if i % 2 == 0 else None,
        }
        for i in range(5)
    ]
    assert httpx.post(f"{api_url}/registry/elevators", json=lifts, headers=admin).is_success
    st = {"station_id": f"{uid}-S", "name": "s", "district": d}
    assert httpx.post(f"{api_url}/registry/stations", json=[st], headers=admin).is_success
    cyls = [
        {
            "cylinder_id": f"{uid}-C{i}",
            "gas": "lpg",
            "manufactured_on": "2021-01-01",
            "max_fill_kg": 14.5,
            "design_life_years": 15,
            "inspection_interval_years": 4,
            "owner_station_id": f"{uid}-S",
            "tag": "qr" if i else "none",
        }
        for i in range(3)
    ]
    assert httpx.post(f"{api_url}/registry/cylinders", json=cyls, headers=admin).is_success
    inspections = [
        {
            "equipment_type": "elevator",
            "equipment_id": f"{uid}-E0",
            "inspected_on": "2026-11-05",
            "result": "fail",
            "inspector": "i",
        },
        {
            "equipment_type": "elevator",
            "equipment_id": f"{uid}-E1",
            "inspected_on": "2026-11-06",
            "result": "conditional",
            "inspector": "i",
        },
    ]
    assert httpx.post(f"{api_url}/inspections", json=inspections, headers=admin).is_success
    hazard = {
        "equipment_type": "elevator",
        "equipment_id": f"{uid}-E2",
        "source": "supervision",
        "level": "serious",
        "description": "brake wear",
        "found_on": "2026-11-10",
        "deadline": "2026-11-20",
    }
    assert httpx.post(f"{api_url}/hazards", json=hazard, headers=admin).status_code == 201
    t0 = datetime(2026, 11, 12, 8, tzinfo=UTC)
    rows = [
        (f"{uid}-A1", "trapped_passenger", "critical", "elevator", f"{uid}-E0", 40, 900, 1500),
        (f"{uid}-A2", "trapped_passenger", "critical", "elevator", f"{uid}-E3", 20, 2500, 3000),
        (f"{uid}-A3", "overfill", "critical", "cylinder", f"{uid}-C1", None, None, 10),
        (f"{uid}-A4", "gas_mismatch", "critical", "cylinder", f"{uid}-C2", None, None, 10),
    ]

    def at(s: int | None) -> datetime | None:
        return None if s is None else t0 + timedelta(seconds=s)

    with psycopg.connect(dsn, autocommit=True) as conn:
        for aid, kind, sev, etype, eid, ack, site, done in rows:
            conn.execute(
                "INSERT INTO alerts (alert_id, condition_key, kind, severity, state,"
                " equipment_type, equipment_id, district, firm_id, station_id, started_at,"
                " raised_at, updated_at, acknowledged_at, on_site_at, resolved_at, resolution,"
                " live, summary) VALUES (%s, %s, %s, %s, 'resolved', %s, %s, %s, %s, %s, %s, %s,"
                " %s, %s, %s, %s, 'other', true, 'test')",
                (
                    aid,
                    aid,
                    kind,
                    sev,
                    etype,
                    eid,
                    d,
                    f"{uid}-F" if etype == "elevator" else None,
                    None if etype == "elevator" else f"{uid}-S",
                    t0,
                    t0,
                    t0,
                    at(ack),
                    at(site),
                    at(done),
                ),
            )
    return d


def _expected(api_url: str, headers: Headers, as_of: str) -> dict[str, Any]:
    """Each figure as its statistics route answers it."""

    def overall(path: str, **params: Any) -> dict[str, Any]:
        r = _get(api_url, path, headers, **params)
        assert r.status_code == 200, (path, r.text)
        return dict(r.json()["overall"])

    lifts = overall("/stats/overdue-inspections", equipment="elevator", at=as_of)
    cyls = overall(
        "/stats/overdue-inspections", equipment="cylinder", group_by="district", at=as_of
    )

    def cover(metric: str, equipment: str) -> Any:
        return overall(
            "/stats/coverage", metric=metric, equipment=equipment, group_by="district", at=as_of
        )["rate"]

    window = {"from": f"{FROM}T00:00:00Z", "to": f"{TO}T00:00:00Z"}
    rescue = overall("/stats/rescue", **window)
    r = _get(api_url, "/stats/illegal-fillings", headers, **window)
    illegal = r.json()
    hazards = overall("/stats/hazards", **{"from": FROM, "to": TO})
    return {
        "elevators_in_service": lifts["total"],
        "cylinders_in_service": cyls["total"],
        "elevator_insurance_rate": cover("insurance", "elevator"),
        "elevator_iot_rate": cover("iot", "elevator"),
        "cylinder_tag_rate": cover("tag", "cylinder"),
        "cylinder_insurance_rate": cover("insurance", "cylinder"),
        "traps": rescue["count"],
        "ack_median_s": rescue["ack_median_s"],
        "on_site_median_s": rescue["on_site_median_s"],
        "resolved_median_s": rescue["resolved_median_s"],
        "on_site_within_30min_share": rescue["on_site_within_30min_share"],
        "false_alarm_share": rescue["false_alarm_share"],
        "elevator_overdue_rate": lifts["rate"],
        "elevator_failed_in_use_rate": lifts["failed_in_use_rate"],
        "cylinder_overdue_rate": cyls["rate"],
        "cylinder_failed_in_use_rate": cyls["failed_in_use_rate"],
        "maintenance_overdue_rate": overall("/stats/maintenance-overdue", at=as_of)["rate"],
        "illegal_fillings": illegal["total"],
        "hazards_found": hazards["found"],
        "hazards_rectified": hazards["rectified"],
        "hazards_overdue": hazards["overdue"],
        "serious_rectification_rate": hazards["serious_rectification_rate"],
        "self_check_rate": hazards["self_check_rate"],
        **{
            k: rescue[k]
            for k in (
                "rescues",
                "dispatched_within_5min",
                "open_to_dispatch_median_s",
                "dispatch_to_on_site_median_s",
                "on_site_to_freed_median_s",
                "on_site_within_30min",
                "people_freed",
                "injured",
                "escalations",
            )
        },
        "_by_kind": illegal["by_kind"],
        "_by_cause": rescue["by_cause"],
    }


def test_every_figure_equals_its_statistics_route(
    api_url: str,
    admin_headers: Headers,
    token_for: Callable[..., Headers],
    database_url: str,
    uid: str,
) -> None:
    d = _seed(api_url, admin_headers, database_url, uid)
    regulator = token_for("regulator", d)
    r = _get(api_url, "/reports/monthly", regulator, month=MONTH)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["from"] == FROM and report["to"] == TO and report["as_of"] == TO
    got = {f["key"]: f["value"] for f in report["figures"]}
    want = _expected(api_url, regulator, TO)
    by_kind = want.pop("_by_kind")
    assert report["rescue_by_cause"] == want.pop("_by_cause")
    assert got == want
    assert report["illegal_fillings_by_kind"] == by_kind == {"gas_mismatch": 1, "overfill": 1}
    # Not an empty pass: the seeded month shows in the figures.
    assert got["elevators_in_service"] == 5 and got["traps"] == 2
    assert got["elevator_failed_in_use_rate"] == 0.2 and got["elevator_insurance_rate"] == 0.6
    assert got["cylinder_tag_rate"] == round(2 / 3, 6) and got["hazards_found"] == 2
    assert got["illegal_fillings"] == 2 and got["ack_median_s"] == 30.0
    # An admin asking for the district gets the same figures.
    as_admin = _get(api_url, "/reports/monthly", admin_headers, month=MONTH, district=d).json()
    assert {f["key"]: f["value"] for f in as_admin["figures"]} == got

    # CSV and XLSX carry the same values under the catalog's headings.
    labels_zh = {f["label"]: f["value"] for f in report["figures"]}
    r = _get(
        api_url,
        "/reports/monthly",
        {**regulator, "Accept-Language": "en"},
        month=MONTH,
        format="csv",
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert lines[2] == ["Section", "Figure", "Value"]
    en = _get(api_url, "/reports/monthly", {**regulator, "Accept-Language": "en"}, month=MONTH)
    en_values = {f["label"]: f["value"] for f in en.json()["figures"]}
    csv_values = {row[1]: row[2] for row in lines[3:]}
    assert csv_values["Elevators in service"] == "5"
    for label, value in en_values.items():
        assert csv_values[label] == ("" if value is None else str(value))
    r = _get(
        api_url,
        "/reports/monthly",
        {
            **regulator,
            "Accept": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        },
        month=MONTH,
    )
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.content)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[2] == ("类别", "指标", "数值")  # Chinese by default
    xlsx_values = {row[1]: row[2] for row in rows[3:]}
    for label, value in labels_zh.items():
        assert xlsx_values[label] == value


def test_bad_months_and_districts(
    api_url: str, admin_headers: Headers, token_for: Callable[..., Headers], uid: str
) -> None:
    for month in ("2026-13", "2026/11", "26-11", "2026-00", ""):
        r = _get(api_url, "/reports/monthly", admin_headers, month=month)
        assert r.status_code == 422 and "month" in r.text, (month, r.text)
    assert _get(api_url, "/reports/monthly", admin_headers).status_code == 422
    r = _get(api_url, "/reports/monthly", admin_headers, month=MONTH, format="pdf")
    assert r.status_code == 422 and "format" in r.text
    regulator = token_for("regulator", f"{uid}-d")
    r = _get(api_url, "/reports/monthly", regulator, month=MONTH, district=f"{uid}-elsewhere")
    assert r.status_code == 404 and "district" in r.text
    r = _get(api_url, "/reports/monthly", token_for("use_unit", f"{uid}-u"), month=MONTH)
    assert r.status_code == 403


def test_map_geojson(
    api_url: str,
    admin_headers: Headers,
    token_for: Callable[..., Headers],
    database_url: str,
    uid: str,
) -> None:
    d = f"{uid}-d"
    lifts = [
        {
            "elevator_id": f"{uid}-M{i}",
            "address": f"{i} Map Rd",
            "district": d,
            "use_unit": "u",
            "installed_on": "2015-01-01",
            "last_inspected_on": "2026-11-01" if i else "2020-01-01",
            "lat": 23.1 + i / 100,
            "lon": 113.2 + i / 100,
        }
        for i in range(3)
    ] + [
        {
            "elevator_id": f"{uid}-M9",
            "address": "nowhere",
            "district": d,
            "use_unit": "u",
            "installed_on": "2015-01-01",
        }
    ]
    assert httpx.post(f"{api_url}/registry/elevators", json=lifts, headers=admin_headers).is_success
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO alerts (alert_id, condition_key, kind, severity, state, equipment_type,"
            " equipment_id, district, started_at, raised_at, updated_at, live, summary)"
            " VALUES (%s, %s, 'terminal_offline', 'minor', 'open', 'elevator', %s, %s,"
            " now(), now(), now(), true, 'test')",
            (f"{uid}-MA", f"{uid}-MA", f"{uid}-M1", d),
        )
    regulator = token_for("regulator", d)
    r = _get(api_url, "/map/elevators.geojson", regulator)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    fc = r.json()
    assert fc["type"] == "FeatureCollection"
    by_id = {f["id"]: f for f in fc["features"]}
    assert set(by_id) == {f"{uid}-M0", f"{uid}-M1", f"{uid}-M2"}  # M9 has no position
    m0, m1 = by_id[f"{uid}-M0"], by_id[f"{uid}-M1"]
    assert m0["geometry"] == {"type": "Point", "coordinates": [113.2, 23.1]}
    assert m0["properties"]["inspection_overdue"] is True
    assert m1["properties"]["inspection_overdue"] is False
    assert m1["properties"]["alert_kinds"] == ["terminal_offline"]
    only = _get(api_url, "/map/elevators.geojson", regulator, alert_kind="terminal_offline")
    assert [f["id"] for f in only.json()["features"]] == [f"{uid}-M1"]
    late = _get(api_url, "/map/elevators.geojson", regulator, overdue="true")
    assert [f["id"] for f in late.json()["features"]] == [f"{uid}-M0"]
    other = _get(api_url, "/map/elevators.geojson", token_for("regulator", f"{uid}-x"))
    assert other.json()["features"] == []
    r = _get(api_url, "/map/elevators.geojson", regulator, alert_kind="nonsense")
    assert r.status_code == 422 and "alert_kind" in r.text
