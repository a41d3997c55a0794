"""Hazards and self-checks through the real API: who may post and act on
them, the 404 rule, bad input named and nothing stored, a conditional
inspection opening a hazard, and /stats/hazards figures counted by hand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import httpx
import psycopg

from tests.api.conftest import Headers


def _post(api_url: str, path: str, headers: Headers, body: Any) -> httpx.Response:
    return httpx.post(f"{api_url}{path}", json=body, headers=headers, timeout=30)


def _register(api_url: str, admin: Headers, uid: str) -> tuple[str, str]:
    unit, other = f"{uid}-unit", f"{uid}-other"
    lifts = [
        {
            "elevator_id": f"{uid}-E{i}",
            "address": "1 Rd",
            "district": f"{uid}-d",
            "use_unit": unit if i < 2 else other,
            "firm_id": f"{uid}-F",
            "installed_on": "2015-01-01",
        }
        for i in range(3)
    ]
    assert _post(api_url, "/registry/elevators", admin, lifts).status_code == 200
    return unit, other


def _hazard(uid: str, i: int, **over: Any) -> dict[str, Any]:
    body = {
        "equipment_type": "elevator",
        "equipment_id": f"{uid}-E{i}",
        "source": "supervision",
        "level": "serious",
        "description": "landing door gap",
        "found_on": "2026-11-02",
    }
    body.update(over)
    return body


def _count(dsn: str, uid: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*) FROM hazards WHERE equipment_id LIKE %s", (uid + "%",)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_hazard_roles_scope_and_bad_input(
    api_url: str,
    admin_headers: Headers,
    token_for: Callable[..., Headers],
    database_url: str,
    uid: str,
) -> None:
    unit, other = _register(api_url, admin_headers, uid)
    mine = token_for("use_unit", unit)
    # Bad input: each refusal names the field, and nothing is stored.
    for bad, field in (
        (_hazard(uid, 0, deadline="2026-11-01"), "deadline"),
        (_hazard(uid, 0, found_on="2026-13-01"), "found_on"),
        (_hazard(uid, 0, found_on="02/11/2026"), "found_on"),
        (_hazard(uid, 0, level="grave"), "level"),
    ):
        r = _post(api_url, "/hazards", mine, bad)
        assert r.status_code == 422, r.text
        assert field in r.text
    r = _post(api_url, "/hazards", mine, _hazard(uid, 9))
    assert r.status_code == 404 and "equipment_id" in r.text
    # Another unit's lift is not found, exactly as a missing one.
    assert _post(api_url, "/hazards", mine, _hazard(uid, 2)).status_code == 404
    assert _count(database_url, uid) == 0

    r = _post(api_url, "/hazards", mine, _hazard(uid, 0))
    assert r.status_code == 201, r.text
    h = r.json()
    assert h["state"] == "open" and h["deadline"] == "2026-12-02"  # 30 days by default
    assert (h["use_unit"], h["district"], h["firm_id"]) == (unit, f"{uid}-d", f"{uid}-F")
    hid = h["hazard_id"]
    # Who sees it: the unit, its firm, the district's regulator; not the other unit.
    for headers, seen in (
        (mine, True),
        (token_for("maintenance", f"{uid}-F"), True),
        (token_for("regulator", f"{uid}-d"), True),
        (token_for("use_unit", other), False),
        (token_for("station", f"{uid}-S"), False),
    ):
        r = httpx.get(f"{api_url}/hazards/{hid}", headers=headers)
        assert r.status_code == (200 if seen else 404)
    # Actions: the unit rectifies (with a note), a regulator verifies.
    act = f"/hazards/{hid}"
    assert _post(api_url, f"{act}/rectify", mine, {}).status_code == 422
    assert _post(api_url, f"{act}/verify", mine, {}).status_code == 403
    assert (
        _post(api_url, f"{act}/verify", token_for("regulator", f"{uid}-d"), {}).status_code == 409
    )
    for bad_day in ("2026-11-01", "2099-01-01", "2026-11-31"):  # before found_on, future, none
        r = _post(api_url, f"{act}/rectify", mine, {"note": "x", "rectified_on": bad_day})
        assert r.status_code == 422 and "rectified_on" in r.text
    r = _post(api_url, f"{act}/rectify", mine, {"note": "gap adjusted", "evidence": "photo-7"})
    assert r.status_code == 200 and r.json()["state"] == "rectified"
    assert _post(api_url, f"{act}/rectify", mine, {"note": "again"}).status_code == 409
    r = _post(api_url, f"{act}/verify", token_for("regulator", f"{uid}-d"), {})
    assert r.status_code == 200 and r.json()["state"] == "verified"
    r = _post(api_url, f"{act}/reopen", admin_headers, {})
    assert r.status_code == 200 and r.json()["state"] == "open"
    assert r.json()["rectified_at"] is None
    assert _post(api_url, "/hazards/hz_nope/rectify", mine, {"note": "x"}).status_code == 404
    assert _post(api_url, f"{act}/explode", mine, {}).status_code == 422


def test_conditional_inspection_opens_a_hazard(
    api_url: str, admin_headers: Headers, token_for: Callable[..., Headers], uid: str
) -> None:
    unit, _ = _register(api_url, admin_headers, uid)
    body = [
        {
            "equipment_type": "elevator",
            "equipment_id": f"{uid}-E1",
            "inspected_on": "2026-10-01",
            "result": "conditional",
            "inspector": "SEI-1",
        }
    ]
    for _ in range(2):  # a repeat of the same inspection opens no second hazard
        assert _post(api_url, "/inspections", admin_headers, body).status_code == 200
    r = httpx.get(f"{api_url}/hazards", headers=token_for("use_unit", unit))
    [h] = [x for x in r.json() if x["equipment_id"] == f"{uid}-E1"]
    assert (h["source"], h["found_on"], h["deadline"]) == ("inspection", "2026-10-01", "2026-10-31")
    assert h["overdue"] is True  # the deadline is long past and it is open
    r = httpx.get(
        f"{api_url}/hazards", params={"overdue": "false"}, headers=token_for("use_unit", unit)
    )
    assert all(x["hazard_id"] != h["hazard_id"] for x in r.json())


def test_self_checks_and_hazard_figures(
    api_url: str, admin_headers: Headers, token_for: Callable[..., Headers], uid: str
) -> None:
    unit, other = _register(api_url, admin_headers, uid)
    mine, theirs = token_for("use_unit", unit), token_for("use_unit", other)
    start = date(2026, 9, 1)  # a Tuesday; the window is all of September
    days = [start + timedelta(days=i) for i in range(30)]
    # `unit` checks every day, every week (Mon-Sun, incl. the week of Sep 1
    # that began in August) and the month; `other` misses one day.
    for d in days:
        assert (
            _post(
                api_url,
                "/self-checks",
                mine,
                {"use_unit": unit, "kind": "daily", "done_on": str(d), "by": "a"},
            ).status_code
            == 201
        )
        if d != date(2026, 9, 15):
            assert (
                _post(
                    api_url,
                    "/self-checks",
                    theirs,
                    {"use_unit": other, "kind": "daily", "done_on": str(d), "by": "b"},
                ).status_code
                == 201
            )
    for who, name in ((mine, unit), (theirs, other)):
        for d in days:
            if d.weekday() == 2:  # Wednesdays: every week touching September
                body = {"use_unit": name, "kind": "weekly", "done_on": str(d), "by": "w"}
                assert _post(api_url, "/self-checks", who, body).status_code == 201
        body = {"use_unit": name, "kind": "monthly", "done_on": "2026-09-30", "by": "m"}
        assert _post(api_url, "/self-checks", who, body).status_code == 201
    # A finding opens a hazard (source self_check); a unit posts only for itself.
    finding = {
        "use_unit": unit,
        "kind": "monthly",
        "done_on": "2026-09-10",
        "by": "m",
        "findings": [{"equipment_id": f"{uid}-E0", "level": "general", "description": "light"}],
    }
    r = _post(api_url, "/self-checks", mine, finding)
    assert r.status_code == 201, r.text
    [fh] = r.json()["hazards"]
    assert fh["source"] == "self_check" and fh["deadline"] == "2026-10-10"
    assert _post(api_url, "/self-checks", theirs, finding).status_code == 404
    wrong = {**finding, "findings": [{**finding["findings"][0], "equipment_id": f"{uid}-E2"}]}
    assert _post(api_url, "/self-checks", mine, wrong).status_code == 404
    # Serious hazards: two found in September, one rectified (late).
    for i in (0, 1):
        body = _hazard(uid, i, found_on="2026-09-05", deadline="2026-09-10")
        r = _post(api_url, "/hazards", mine, body)
        assert r.status_code == 201
        if i == 0:
            r = _post(api_url, f"/hazards/{r.json()['hazard_id']}/rectify", mine, {"note": "ok"})
            assert r.status_code == 200
    r = httpx.get(
        f"{api_url}/stats/hazards",
        params={"group_by": "use_unit", "from": "2026-09-01", "to": "2026-10-01"},
        headers=token_for("regulator", f"{uid}-d"),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    groups = {g["key"]: g for g in body["groups"]}
    g = groups[unit]
    # overdue: the late one and the open one; the finding is due after September
    assert (g["found"], g["rectified"], g["overdue"]) == (3, 1, 2)
    assert (g["serious_found"], g["serious_rectified"]) == (2, 1)
    assert g["serious_rectification_rate"] == 0.5
    assert (g["use_units"], g["use_units_complete"], g["self_check_rate"]) == (1, 1, 1.0)
    assert groups[other]["self_check_rate"] == 0.0
    assert body["overall"]["use_units"] == 2 and body["overall"]["self_check_rate"] == 0.5
    assert body["overall"]["found"] == 3
    # Bad windows name the parameter.
    for params in ({"from": "2026-02-30"}, {"from": "2026-10-01", "to": "2026-09-01"}):
        r = httpx.get(f"{api_url}/stats/hazards", params=params, headers=admin_headers)
        assert r.status_code == 422 and "from" in r.text


def test_use_unit_tokens_and_what_they_see(
    api_url: str, admin_headers: Headers, token_for: Callable[..., Headers], uid: str
) -> None:
    unit, other = _register(api_url, admin_headers, uid)
    # A use unit the registry does not know is refused (a typo would see nothing).
    body = {"role": "use_unit", "scope": [f"{uid}-nobody"], "label": "x"}
    r = _post(api_url, "/tokens", admin_headers, body)
    assert r.status_code == 422 and "scope" in r.text
    r = _post(api_url, "/tokens", admin_headers, {**body, "scope": [unit, other]})
    assert r.status_code == 422  # exactly one use unit
    r = _post(api_url, "/tokens", admin_headers, {**body, "scope": [unit]})
    assert r.status_code == 201, r.text
    mine = {"Authorization": f"Bearer {r.json()['secret']}"}
    assert httpx.get(f"{api_url}/elevators/{uid}-E0", headers=mine).status_code == 200
    assert httpx.get(f"{api_url}/elevators/{uid}-E2", headers=mine).status_code == 404
    # A use unit writes no registry and verifies nothing.
    lift = {"elevator_id": f"{uid}-E0", "address": "x", "district": "x", "use_unit": unit}
    r = _post(api_url, "/registry/elevators", mine, [{**lift, "installed_on": "2015-01-01"}])
    assert r.status_code == 403
