"""Firm scorecards through the real server on a database of this module's
own: the published sheet's arithmetic, every deduction with its events, and
who sees which card."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from semon.domain.scorecard import DEDUCTIONS
from semon.settings import Settings
from semon.store.commands import migrate_database
from tests.api.conftest import LiveServer, make_settings, token_factory
from tests.support import services

Headers = dict[str, str]
NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.date()


def seed(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO firms (firm_id, name, credit_grade, tech_level)"
            " VALUES ('FG', 'good', 'A', 5), ('FB', 'bad', 'B', 3), ('FR', 'rescued', 'B', 3)"
        )
        cur.executemany(
            "INSERT INTO elevators (elevator_id, address, district, firm_id, use_unit,"
            " installed_on) VALUES (%s, 'a', %s, %s, 'u', '2010-01-01')",
            [
                ("G1", "X", "FG"),
                ("G2", "X", "FG"),
                ("B1", "X", "FB"),
                ("B2", "X", "FB"),
                ("B3", "Y", "FB"),
                ("R1", "X", "FR"),
            ],
        )
        rec = (
            "INSERT INTO maintenance_records (elevator_id, done_on, kind, firm_id, started_at,"
            " ended_at, verification) VALUES (%s, %s, %s, %s, %s, %s, %s)"
        )
        day = TODAY - timedelta(days=2)
        t = NOW - timedelta(days=2)
        w = (t, t + timedelta(minutes=30))
        for eid in ("G1", "G2"):
            cur.execute(rec, (eid, day, "routine", "FG", *w, "terminal"))
        # this morning's visit counts on a card whose window ends now
        am = NOW - timedelta(minutes=50)
        cur.execute(rec, ("G1", TODAY, "routine", "FG", am, am + timedelta(minutes=30), "terminal"))
        # FB's records of 40 days ago: the lifts are overdue today
        old, ot = TODAY - timedelta(days=40), NOW - timedelta(days=40)
        ow = (ot, ot + timedelta(minutes=30))
        cur.execute(rec, ("B1", old, "routine", "FB", *ow, "contradicted"))
        cur.execute(rec, ("B2", old, "routine", "FB", *ow, "contradicted"))
        cur.execute(rec, ("B3", old, "routine", "FB", *ow, "terminal"))
        for k in (1, 2):
            start = NOW - timedelta(days=10 * k)
            cur.execute(
                "INSERT INTO alerts (alert_id, condition_key, kind, severity, state,"
                " equipment_type, equipment_id, district, firm_id, started_at, raised_at,"
                " updated_at, on_site_at, resolved_at, resolution, summary, details)"
                " VALUES (%s, %s, 'trapped_passenger', 'critical', 'resolved', 'elevator',"
                " 'B1', 'X', 'FB', %s, %s, %s, %s, %s, 'rescued', 't', %s)",
                (
                    f"TR{k}",
                    f"TR{k}",
                    start,
                    start,
                    start,
                    start + timedelta(minutes=40),
                    start + timedelta(minutes=50),
                    '{"cause": "equipment"}',
                ),
            )
        cur.execute(
            "INSERT INTO inspections (equipment_type, equipment_id, inspected_on, result,"
            " inspector) VALUES ('elevator', 'B2', %s, 'fail', 'i')",
            (TODAY - timedelta(days=5),),
        )
        # FR's trap names no cause itself: the firm reported it on the rescue
        start = NOW - timedelta(days=3)
        cur.execute(
            "INSERT INTO alerts (alert_id, condition_key, kind, severity, state,"
            " equipment_type, equipment_id, district, firm_id, started_at, raised_at,"
            " updated_at, resolved_at, resolution, summary) VALUES ('TR9', 'TR9',"
            " 'trapped_passenger', 'critical', 'resolved', 'elevator', 'R1', 'X', 'FR', %s, %s,"
            " %s, %s, 'rescued', 't')",
            (start, start, start, start + timedelta(minutes=30)),
        )
        cur.execute(
            "INSERT INTO rescues (rescue_id, elevator_id, alert_id, source, state, opened_at,"
            " closed_at, cause_category, updated_at) VALUES ('RS9', 'R1', 'TR9', 'terminal',"
            " 'closed', %s, %s, 'equipment', %s)",
            (start, start + timedelta(minutes=40), start + timedelta(minutes=40)),
        )


@pytest.fixture(scope="module")
def server(pg_admin_dsn: str) -> Iterator[tuple[str, Settings]]:
    with services.fresh_database(pg_admin_dsn, prefix="semon_card") as dsn:
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


def get(server: tuple[str, Settings], path: str, headers: Headers, **params: Any) -> Any:
    r = httpx.get(server[0] + path, headers=headers, params=params, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_sheet_and_its_events(
    server: tuple[str, Settings], token: Callable[..., Headers]
) -> None:
    good = get(server, "/firms/FG/scorecard", token("maintenance", "FG"))
    assert (good["score"], good["grade"], good["elevators"]) == (100.0, "A", 2)
    assert {"from", "to", "at", "firm_id"} <= good.keys()
    assert all(d["points"] == 0 for d in good["deductions"])
    assert good["figures"]["records_checked"] == 3  # this morning's included

    assert [d["name"] for d in good["deductions"]] == list(DEDUCTIONS)
    assert good["deductions"][0]["label"] == "维保超期"  # zh-CN unless asked otherwise
    bad = get(server, "/firms/FB/scorecard", token("maintenance", "FB"))
    lines = {d["name"]: d for d in bad["deductions"]}
    points = {k: d["points"] for k, d in lines.items()}
    assert points == {
        "maintenance_overdue": 20.0,  # 100 % overdue: capped
        "contradicted_records": 30.0,  # 2 of 3 checked: capped
        "traps": 10.0,  # 2 traps / 3 lifts a year = 66.7 per 100: capped
        "caused_traps": 6.0,  # 2 x 3
        "median_arrival": 10.0,  # 40 min: (40 - 15) x 0.5 = 12.5, capped
        "failed_inspections": 10.0,  # 1 of 1: capped
        "faults_per_1000_trips": 0.0,  # unscored: unknown
    }
    assert bad["score"] == 14.0 and bad["grade"] == "D"
    f = bad["figures"]
    assert (f["records_checked"], f["records_contradicted"]) == (3, 2)
    assert f["median_arrival_s"] == 2400 and f["caused_traps"] == 2
    assert {e["elevator_id"] for e in lines["contradicted_records"]["events"]} == {"B1", "B2"}
    assert sorted(e["alert_id"] for e in lines["caused_traps"]["events"]) == ["TR1", "TR2"]
    assert [e["elevator_id"] for e in lines["failed_inspections"]["events"]] == ["B2"]
    assert len(lines["maintenance_overdue"]["events"]) == 3
    assert len(lines["median_arrival"]["events"]) == 2


def test_who_sees_which_card(server: tuple[str, Settings], token: Callable[..., Headers]) -> None:
    url = server[0] + "/firms/FB/scorecard"
    assert httpx.get(url, headers=token("maintenance", "FG")).status_code == 404
    assert httpx.get(url, headers=token("regulator", "Z")).status_code == 404
    assert httpx.get(url, headers=token("dispatcher")).status_code == 403
    assert httpx.get(server[0] + "/firms/NOPE/scorecard", headers=token("admin")).status_code == 404
    y = get(server, "/firms/FB/scorecard", token("regulator", "Y"))
    assert y["elevators"] == 1 and y["figures"]["traps"] == 0  # B3 only
    bad_window = {"from": NOW.isoformat(), "to": (NOW - timedelta(days=1)).isoformat()}
    r = httpx.get(url, headers=token("admin"), params=bad_window)
    assert r.status_code == 422


def test_stats_firms(server: tuple[str, Settings], token: Callable[..., Headers]) -> None:
    body = get(server, "/stats/firms", token("admin"))
    assert [(g["key"], g["grade"]) for g in body["groups"]] == [
        ("FB", "D"),
        ("FR", "C"),
        ("FG", "A"),
    ]
    assert body["overall"]["elevators"] == 6
    # the city's card, from the same pass as the groups': their events together
    whole = body["overall"]["figures"]
    assert body["overall"]["key"] == "*"
    assert (whole["records_checked"], whole["records_contradicted"]) == (6, 2)
    assert (whole["traps"], whole["caused_traps"], whole["median_arrival_s"]) == (3, 3, 2400)
    assert (whole["inspections"], whole["failed_inspections"]) == (1, 1)
    assert whole["maintenance_overdue"] == 3 + 1  # FB's three, FR's unvisited R1
    nothing = get(server, "/stats/firms", token("regulator", "Z"))
    assert nothing["groups"] == [] and nothing["overall"] is None
    assert all(g["deductions"][0].get("events") is None for g in body["groups"])
    by_district = get(server, "/stats/firms", token("admin"), group_by="district")
    assert {g["key"]: g["elevators"] for g in by_district["groups"]} == {"X": 5, "Y": 1}
    own = get(server, "/stats/firms", token("maintenance", "FG"))
    assert [g["key"] for g in own["groups"]] == ["FG"]
    reg = get(server, "/stats/firms", token("regulator", "Y"))
    assert [g["key"] for g in reg["groups"]] == ["FB"] and reg["overall"]["elevators"] == 1


def test_a_cause_reported_on_the_rescue_counts(
    server: tuple[str, Settings], token: Callable[..., Headers]
) -> None:
    card = get(server, "/firms/FR/scorecard", token("admin"))
    lines = {d["name"]: d for d in card["deductions"]}
    assert lines["caused_traps"]["points"] == 3.0
    assert [e["alert_id"] for e in lines["caused_traps"]["events"]] == ["TR9"]
    assert card["score"] == 67.0 and card["grade"] == "C"  # overdue 20, traps 10, caused 3
