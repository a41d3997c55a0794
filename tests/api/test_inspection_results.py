"""Inspection results through the real API: a fail never renews the base
date (it stays overdue and is failed in use), a later pass clears both, in
the statistics, the elevator's file and the cylinder's trace alike."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import Headers


def _overdue(api_url: str, headers: Headers, unit: str, at: str) -> dict[str, Any]:
    r = httpx.get(
        f"{api_url}/stats/overdue-inspections",
        params={"equipment": "elevator", "group_by": "use_unit", "at": at},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    [group] = [g for g in r.json()["groups"] if g["key"] == unit]
    return group


def _inspect(api_url: str, headers: Headers, etype: str, eid: str, on: str, result: str) -> None:
    body = [
        {
            "equipment_type": etype,
            "equipment_id": eid,
            "inspected_on": on,
            "result": result,
            "inspector": "insp",
        }
    ]
    r = httpx.post(f"{api_url}/inspections", json=body, headers=headers)
    assert r.status_code == 200, r.text


def test_fail_keeps_overdue_and_is_failed_in_use_until_a_pass(
    api_url: str, admin_headers: Headers, uid: str
) -> None:
    unit = f"{uid}-unit"
    lifts = [
        {
            "elevator_id": f"{uid}-E{i}",
            "address": "1 Rd",
            "district": f"{uid}-d",
            "use_unit": unit,
            "installed_on": "2010-01-01",
            "last_inspected_on": "2025-01-10",
        }
        for i in range(3)
    ]
    r = httpx.post(f"{api_url}/registry/elevators", json=lifts, headers=admin_headers)
    assert r.status_code == 200, r.text
    at = "2026-03-01"
    before = _overdue(api_url, admin_headers, unit, at)
    assert (before["total"], before["overdue"], before["failed_in_use"]) == (3, 3, 0)
    # E0 fails, E1 passes, E2 conditional: only the fail stays overdue.
    _inspect(api_url, admin_headers, "elevator", f"{uid}-E0", "2026-02-20", "fail")
    _inspect(api_url, admin_headers, "elevator", f"{uid}-E1", "2026-02-20", "pass")
    _inspect(api_url, admin_headers, "elevator", f"{uid}-E2", "2026-02-20", "conditional")
    after = _overdue(api_url, admin_headers, unit, at)
    assert (after["total"], after["overdue"], after["failed_in_use"]) == (3, 1, 1)
    assert after["failed_in_use_rate"] == round(1 / 3, 6)
    # judged on a day before the fail, the lift was not yet failed in use
    assert _overdue(api_url, admin_headers, unit, "2026-02-19")["failed_in_use"] == 0
    file = httpx.get(f"{api_url}/elevators/{uid}-E0", headers=admin_headers).json()
    record = file["elevator"]
    assert record["failed_in_use"] is True
    assert record["inspection_base_on"] == "2025-01-10"
    assert record["inspection_due_on"] == "2026-01-10"
    # A later pass clears both.
    _inspect(api_url, admin_headers, "elevator", f"{uid}-E0", "2026-02-25", "pass")
    cleared = _overdue(api_url, admin_headers, unit, at)
    assert (cleared["overdue"], cleared["failed_in_use"]) == (0, 0)
    # The same fail posted again as a correction of the pass's date re-opens it.
    _inspect(api_url, admin_headers, "elevator", f"{uid}-E0", "2026-02-25", "fail")
    again = _overdue(api_url, admin_headers, unit, at)
    assert (again["overdue"], again["failed_in_use"]) == (1, 1)


def test_cylinder_trace_shows_the_failed_inspection(
    api_url: str, admin_headers: Headers, uid: str
) -> None:
    cyl = {
        "cylinder_id": f"{uid}-C",
        "gas": "lpg",
        "manufactured_on": "2020-01-01",
        "max_fill_kg": 14.5,
        "design_life_years": 20,
        "inspection_interval_years": 4,
        "last_inspected_on": "2024-01-01",
    }
    r = httpx.post(f"{api_url}/registry/cylinders", json=[cyl], headers=admin_headers)
    assert r.status_code == 200, r.text
    _inspect(api_url, admin_headers, "cylinder", f"{uid}-C", "2026-01-01", "fail")
    trace = httpx.get(f"{api_url}/cylinders/{uid}-C/trace", headers=admin_headers).json()
    record = trace["cylinder"]
    assert record["failed_in_use"] is True
    assert record["inspection_base_on"] == "2024-01-01"
    assert record["inspection_due_on"] == "2028-01-01"
    assert [i["result"] for i in trace["inspections"]] == ["fail"]
