"""A past day judged with the inspections known then: an inspection dated
after the day neither renews the base date at that day nor clears a fail
(nor is a fail after it a fail at it), in the statistics and in that month's
report alike."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import Headers
from tests.api.test_inspection_results import _inspect

MONTH, MONTH_END = "2026-11", "2026-12-01"


def _lift(uid: str, i: int, last: str) -> dict[str, Any]:
    return {
        "elevator_id": f"{uid}-E{i}",
        "address": "1 Rd",
        "district": f"{uid}-d",
        "use_unit": f"{uid}-u",
        "installed_on": "2010-01-01",
        "last_inspected_on": last,
    }


def _overdue(api_url: str, headers: Headers, uid: str, at: str, **params: Any) -> dict[str, Any]:
    """This test's group (its district, use unit or station: named after `uid`)."""
    r = httpx.get(
        f"{api_url}/stats/overdue-inspections", params={"at": at, **params}, headers=headers
    )
    assert r.status_code == 200, r.text
    [group] = [g for g in r.json()["groups"] if (g["key"] or "").startswith(uid)]
    return {k: group[k] for k in ("total", "overdue", "failed_in_use")}


def _report(api_url: str, headers: Headers, uid: str) -> dict[str, Any]:
    r = httpx.get(
        f"{api_url}/reports/monthly",
        params={"month": MONTH, "district": f"{uid}-d"},
        headers=headers,
        timeout=60,
    )
    assert r.status_code == 200, r.text
    return {f["key"]: f["value"] for f in r.json()["figures"]}


def test_inspected_after_the_month_is_still_overdue_in_its_report(
    api_url: str, admin_headers: Headers, uid: str
) -> None:
    # Every lift was due on 2026-10-01, and so overdue all November, except
    # E3 (in date until June 2027).
    lifts = [_lift(uid, i, "2025-10-01") for i in range(3)] + [_lift(uid, 3, "2026-06-01")]
    r = httpx.post(f"{api_url}/registry/elevators", json=lifts, headers=admin_headers)
    assert r.status_code == 200, r.text
    station = {"station_id": f"{uid}-S", "name": "s", "district": f"{uid}-d"}
    r = httpx.post(f"{api_url}/registry/stations", json=[station], headers=admin_headers)
    assert r.status_code == 200, r.text
    made = {"gas": "lpg", "manufactured_on": "2015-01-01", "max_fill_kg": 14.5}
    kept = {"design_life_years": 20, "inspection_interval_years": 4, "owner_station_id": f"{uid}-S"}
    due = {"last_inspected_on": "2022-10-01"}  # due 2026-10-01
    cylinders = [{**made, **kept, **due, "cylinder_id": f"{uid}-C{i}"} for i in range(2)]
    r = httpx.post(f"{api_url}/registry/cylinders", json=cylinders, headers=admin_headers)
    assert r.status_code == 200, r.text
    in_november = {"total": 4, "overdue": 3, "failed_in_use": 0}
    assert _overdue(api_url, admin_headers, uid, MONTH_END) == in_november

    # E0 passes after the month ended; E1 failed in November and passed
    # after it; E3 fails after it; E2 is not inspected.
    _inspect(api_url, admin_headers, "elevator", f"{uid}-E0", "2026-12-03", "pass")
    _inspect(api_url, admin_headers, "elevator", f"{uid}-E1", "2026-11-10", "fail")
    _inspect(api_url, admin_headers, "elevator", f"{uid}-E1", "2026-12-02", "pass")
    _inspect(api_url, admin_headers, "elevator", f"{uid}-E3", "2026-12-02", "fail")
    _inspect(api_url, admin_headers, "cylinder", f"{uid}-C0", "2026-12-02", "pass")

    # As November ended: all three still overdue, E1 failed in use.
    assert _overdue(api_url, admin_headers, uid, MONTH_END) == {**in_november, "failed_in_use": 1}
    by_unit = _overdue(api_url, admin_headers, uid, MONTH_END, group_by="use_unit")
    assert by_unit == {**in_november, "failed_in_use": 1}
    # Since: E0 and E1 renewed; E3 failed in use (its base date still
    # June 2026, in date).
    assert _overdue(api_url, admin_headers, uid, "2026-12-04") == {
        "total": 4,
        "overdue": 1,
        "failed_in_use": 1,
    }
    for group_by in ("district", "station_id"):
        cyl = _overdue(
            api_url, admin_headers, uid, MONTH_END, equipment="cylinder", group_by=group_by
        )
        assert cyl == {"total": 2, "overdue": 2, "failed_in_use": 0}
        cyl = _overdue(
            api_url, admin_headers, uid, "2026-12-04", equipment="cylinder", group_by=group_by
        )
        assert cyl == {"total": 2, "overdue": 1, "failed_in_use": 0}

    report = _report(api_url, admin_headers, uid)
    assert report["elevator_overdue_rate"] == 0.75
    assert report["elevator_failed_in_use_rate"] == 0.25
    assert report["cylinder_overdue_rate"] == 1.0
