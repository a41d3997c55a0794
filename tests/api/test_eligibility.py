"""Eligibility for on-demand maintenance: each condition with its evidence,
and the same verdicts and interval as the score (one sheet, semon/scoring.py),
through the real server on a database of this module's own."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from semon.scoring import ELIGIBILITY, VETOES
from semon.settings import Settings
from semon.store.commands import migrate_database
from tests.api.conftest import LiveServer, make_settings, token_factory
from tests.support import services

Headers = dict[str, str]
NOW = datetime.now(UTC).replace(microsecond=0)
HOUR = NOW.replace(minute=0, second=0)
# lift: (firm, days since inspected, what is wrong with it)
LIFTS = {
    "L1": ("FA", 30, None),
    "L2": ("FC", 30, "firm_not_graded_c_or_d"),
    "L3": ("FA", 400, "inspection_in_date"),
    "L4": ("FA", 200, "inspection_not_failed"),
    "L5": ("FA", 30, "terminal_connected"),
    "L6": ("FA", 30, "no_maintenance_trap_90d"),
    "L7": ("FA", 30, "insured"),
}


def seed(dsn: str) -> None:
    today = NOW.date()
    with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO firms (firm_id, name, credit_grade, tech_level)"
            " VALUES ('FA', 'good', 'A', 5), ('FC', 'poor', 'C', 5)"
        )
        for eid, (firm, inspected, _) in LIFTS.items():
            cur.execute(
                "INSERT INTO elevators (elevator_id, address, district, firm_id, use_unit,"
                " use_unit_level, installed_on, last_inspected_on, insured_until)"
                " VALUES (%s, 'a', 'P', %s, 'u', 5, %s, %s, %s)",
                (
                    eid,
                    firm,
                    today - timedelta(days=730),
                    today - timedelta(days=inspected),
                    None if eid == "L7" else today + timedelta(days=200),
                ),
            )
            if eid != "L5":
                cur.executemany(
                    "INSERT INTO elevator_hourly_rollup (bucket, elevator_id, samples, trips,"
                    " door_cycles, run_s, faults) VALUES (%s, %s, 60, 10, 10, 600, 0)",
                    [(HOUR - timedelta(hours=h), eid) for h in range(1, 48)],
                )
        cur.execute(
            "INSERT INTO inspections (equipment_type, equipment_id, inspected_on, result,"
            " inspector) VALUES ('elevator', 'L4', %s, 'pass', 'i'), ('elevator', 'L4', %s,"
            " 'fail', 'i')",
            (today - timedelta(days=200), today - timedelta(days=30)),
        )
        start = NOW - timedelta(days=20)
        cur.execute(
            "INSERT INTO alerts (alert_id, condition_key, kind, severity, state, equipment_type,"
            " equipment_id, district, firm_id, started_at, ended_at, raised_at, updated_at,"
            " resolved_at, resolution, summary) VALUES ('T6', 'T6', 'trapped_passenger',"
            " 'critical', 'resolved', 'elevator', 'L6', 'P', 'FA', %s, %s, %s, %s, %s,"
            " 'repaired', 'test')",
            (start, start + timedelta(minutes=20), start, start, start + timedelta(minutes=20)),
        )


@pytest.fixture(scope="module")
def server(pg_admin_dsn: str) -> Iterator[tuple[str, Settings]]:
    with services.fresh_database(pg_admin_dsn, prefix="semon_elig") as dsn:
        asyncio.run(migrate_database(dsn, Settings(database_url=dsn)))
        seed(dsn)
        settings = make_settings(dsn)
        live = LiveServer(settings)
        live.start()
        try:
            yield f"http://127.0.0.1:{settings.api.port}", settings
        finally:
            live.stop()


@pytest.fixture(scope="module")
def token(server: tuple[str, Settings]) -> Callable[..., Headers]:
    url, settings = server
    return token_factory(url, {"Authorization": f"Bearer {settings.api.bootstrap_admin_token}"})


def get(server: tuple[str, Settings], path: str, headers: Headers) -> Any:
    r = httpx.get(server[0] + path, headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def test_one_table_of_conditions_and_vetoes() -> None:
    assert sorted(v for _, v in ELIGIBILITY) == sorted(VETOES)
    assert len({c for c, _ in ELIGIBILITY}) == len(ELIGIBILITY)


def test_conditions_with_evidence_agree_with_the_score(
    server: tuple[str, Settings], token: Callable[..., Headers]
) -> None:
    admin = token("admin")
    scores = {s["elevator_id"]: s for s in get(server, "/maintenance/scores", admin)["items"]}
    for eid, (_, _, wrong) in LIFTS.items():
        e = get(server, f"/elevators/{eid}/eligibility", admin)
        failed = {c["name"] for c in e["conditions"] if not c["passed"]}
        assert failed == ({wrong} if wrong else set()), (eid, e)
        assert e["eligible"] == (wrong is None)
        # the score and eligibility are one computation
        s = scores[eid]
        assert {c["veto"] for c in e["conditions"] if not c["passed"]} == set(s["vetoes"])
        assert e["interval_days"] == s["interval_days"] and e["grade"] == s["grade"]
        assert e["interval_days"] == (15 if wrong else 90)
        assert [c["name"] for c in e["conditions"]] == [c for c, _ in ELIGIBILITY]
        assert all(c["label"] and c["label"] != c["name"] for c in e["conditions"])
    ev = {}
    for eid in ("L2", "L3", "L4", "L5", "L6"):
        e = get(server, f"/elevators/{eid}/eligibility", admin)
        ev[eid] = {c["name"]: c["evidence"] for c in e["conditions"]}
    assert ev["L2"]["firm_not_graded_c_or_d"]["credit_grade"] == "C"
    assert ev["L3"]["inspection_in_date"]["due_on"] < NOW.date().isoformat()
    assert ev["L4"]["inspection_not_failed"]["latest_result"] == "fail"
    assert ev["L5"]["terminal_connected"]["days_since_data"] is None
    assert [t["alert_id"] for t in ev["L6"]["no_maintenance_trap_90d"]["traps"]] == ["T6"]


def test_eligibility_is_scoped(server: tuple[str, Settings], token: Callable[..., Headers]) -> None:
    url = server[0] + "/elevators/L1/eligibility"
    assert httpx.get(url, headers=token("maintenance", "FA")).status_code == 200
    assert httpx.get(url, headers=token("maintenance", "FC")).status_code == 404
    assert httpx.get(url, headers=token("regulator", "P")).status_code == 200
    assert httpx.get(url, headers=token("regulator", "Q")).status_code == 404
    assert httpx.get(url, headers=token("station", "S1")).status_code == 403
    assert (
        httpx.get(server[0] + "/elevators/NOPE/eligibility", headers=token("admin")).status_code
        == 404
    )
