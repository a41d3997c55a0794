"""Maintenance scores: the fleet refresh against a real database of this
module's own, then the routes through the real server (scope, order, paging,
staleness)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from semon.scoring import FACTORS, VETOES
from semon.settings import Settings
from semon.store.commands import migrate_database
from semon.store.scores import refresh_scores
from tests.api.conftest import LiveServer, make_settings, token_factory
from tests.support import services

Headers = dict[str, str]
NOW = datetime.now(UTC).replace(microsecond=0)
HOUR = NOW.replace(minute=0, second=0)


def seed(dsn: str) -> None:
    today = NOW.date()
    with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO firms (firm_id, name, credit_grade, tech_level)"
            " VALUES ('FA', 'good', 'A', 5), ('FD', 'poor', 'D', 1)"
        )
        cur.executemany(
            "INSERT INTO elevators (elevator_id, address, district, firm_id, use_unit,"
            " use_unit_level, installed_on, last_inspected_on, insured_until)"
            " VALUES (%s, 'a', %s, %s, 'u', %s, %s, %s, %s::date + 365)",
            [
                (
                    "G1",
                    "P",
                    "FA",
                    5,
                    today - timedelta(days=730),
                    today - timedelta(days=30),
                    today,
                ),
                # G2 is uninsured and failed its last inspection (every veto)
                ("G2", "P", "FD", None, today - timedelta(days=int(22 * 365.25)), None, None),
                (
                    "G3",
                    "Q",
                    "FA",
                    4,
                    today - timedelta(days=8 * 365),
                    today - timedelta(days=30),
                    today,
                ),
            ],
        )
        cur.execute(
            "INSERT INTO inspections (equipment_type, equipment_id, inspected_on, result,"
            " inspector) VALUES ('elevator', 'G2', %s, 'fail', 'i')",
            (today - timedelta(days=10),),
        )
        # 47 reporting hours in the 48-hour load window for G1 and G3; none for G2
        cur.executemany(
            "INSERT INTO elevator_hourly_rollup (bucket, elevator_id, samples, trips,"
            " door_cycles, run_s, faults) VALUES (%s, %s, 60, 10, 10, 600, 0)",
            [(HOUR - timedelta(hours=h), e) for h in range(1, 48) for e in ("G1", "G3")],
        )
        rows: list[tuple[Any, ...]] = []

        def alert(
            aid: str, kind: str, start: datetime, end: datetime | None, res: str | None
        ) -> None:
            rows.append((aid, kind, "G2", start, end, end, res, "resolved" if end else "open"))

        alert(
            "T1",
            "trapped_passenger",
            NOW - timedelta(days=200),
            NOW - timedelta(days=200) + timedelta(minutes=30),
            "rescued",
        )
        alert(
            "T2",
            "trapped_passenger",
            NOW - timedelta(days=20),
            NOW - timedelta(days=20) + timedelta(minutes=30),
            "repaired",
        )
        alert(
            "T3",
            "trapped_passenger",
            NOW - timedelta(days=400),
            NOW - timedelta(days=400) + timedelta(minutes=30),
            "rescued",
        )  # older than 12 months
        alert("O1", "terminal_offline", NOW - timedelta(days=5), None, None)
        for i in range(3):
            alert(
                f"F{i}",
                "elevator_fault",
                NOW - timedelta(days=i + 1),
                NOW - timedelta(days=i + 1) + timedelta(minutes=1),
                "repaired",
            )
        cur.executemany(
            "INSERT INTO alerts (alert_id, condition_key, kind, severity, state, equipment_type,"
            " equipment_id, district, firm_id, started_at, ended_at, raised_at, updated_at,"
            " resolved_at, resolution, summary)"
            " VALUES (%s, %s, %s, 'major', %s, 'elevator', %s, 'P', 'FD', %s, %s, %s, %s, %s,"
            " %s, 'test')",
            [(a[0], a[0], a[1], a[7], a[2], a[3], a[4], a[3], a[3], a[5], a[6]) for a in rows],
        )


@pytest.fixture(scope="module")
def dsn(pg_admin_dsn: str) -> Iterator[str]:
    with services.fresh_database(pg_admin_dsn, prefix="semon_scores") as url:
        asyncio.run(migrate_database(url, Settings(database_url=url)))
        seed(url)
        yield url


async def refresh(dsn: str, now: datetime) -> int:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        n = await refresh_scores(conn, Settings(database_url=dsn), now=now)
        await conn.commit()
        return n


def stored(dsn: str) -> dict[str, dict[str, Any]]:
    with psycopg.connect(dsn) as conn:
        cur = conn.execute(
            "SELECT elevator_id, score, grade, interval_days, factors, vetoes, computed_at"
            " FROM elevator_score_factors"
        )
        cols = [d.name for d in cur.description or []]
        return {r[0]: dict(zip(cols, r, strict=True)) for r in cur.fetchall()}


def by_name(row: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in row["factors"]}


def test_refresh_scores_the_fleet(dsn: str) -> None:
    assert asyncio.run(refresh(dsn, NOW)) == 3
    rows = stored(dsn)
    assert set(rows) == {"G1", "G2", "G3"}
    for row in rows.values():
        assert [f["name"] for f in row["factors"]] == list(FACTORS)
        total = sum(f["contribution"] for f in row["factors"])
        assert row["score"] == pytest.approx(100 + total, abs=1e-9)
        assert row["computed_at"] == NOW

    g1 = rows["G1"]
    assert (g1["score"], g1["grade"], g1["interval_days"], g1["vetoes"]) == (100.0, "A", 90, [])
    f1 = by_name(g1)
    assert f1["door_cycles_per_day"]["value"] == pytest.approx(235)  # 470 in 48 h
    assert f1["firm_credit_grade"]["value"] == "A"
    assert f1["faults_per_1000_trips"]["value"] == 0

    g2 = rows["G2"]
    f2 = by_name(g2)
    assert f2["age_years"]["contribution"] == -15
    assert f2["firm_tech_level"]["contribution"] == -15
    assert f2["use_unit_level"]["value"] is None and f2["use_unit_level"]["contribution"] == -5
    assert f2["firm_credit_grade"] == {
        "name": "firm_credit_grade",
        "value": "D",
        "weight": 15.0,
        "contribution": -15.0,
    }
    assert f2["faults_per_1000_trips"]["contribution"] == -10  # faults, no trips counted
    assert f2["traps_12m"]["value"] == 2 and f2["traps_12m"]["contribution"] == -6.67
    assert f2["trap_minutes_12m"]["value"] == 60 and f2["trap_minutes_12m"]["contribution"] == -2.5
    assert f2["offline_share"]["value"] == pytest.approx(5 / 30, abs=1e-3)
    assert f2["offline_share"]["contribution"] == pytest.approx(-5 * (5 / 30) / 0.2, abs=0.01)
    assert f2["door_cycles_per_day"]["value"] is None
    assert f2["inspection_overdue"] == {
        "name": "inspection_overdue",
        "value": 1,
        "weight": 10.0,
        "contribution": -10.0,
    }
    assert g2["grade"] == "D" and g2["interval_days"] == 15
    assert sorted(g2["vetoes"]) == sorted(VETOES)

    g3 = rows["G3"]  # 8 years old (-4.5), use unit 4 (-2.5)
    assert g3["score"] == 93.0 and g3["grade"] == "A" and g3["interval_days"] == 90


def test_refresh_drops_elevators_gone_from_the_registry(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO elevators (elevator_id, address, district, use_unit, installed_on)"
            " VALUES ('G9', 'a', 'Z', 'u', '2020-01-01')"
        )
    asyncio.run(refresh(dsn, NOW))
    assert "G9" in stored(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM elevators WHERE elevator_id = 'G9'")
    asyncio.run(refresh(dsn, NOW))
    assert "G9" not in stored(dsn)


@pytest.fixture(scope="module")
def server(dsn: str) -> Iterator[tuple[str, Settings]]:
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


def test_score_routes_scope_and_order(
    server: tuple[str, Settings], token: Callable[..., Headers]
) -> None:
    url = server[0]
    admin = token("admin")
    r = httpx.get(f"{url}/elevators/G2/score", headers=admin, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= {"score", "grade", "interval_days", "factors", "computed_at"}
    assert body["grade"] == "D" and body["interval_days"] == 15
    assert sum(f["contribution"] for f in body["factors"]) + 100 == pytest.approx(body["score"])
    assert httpx.get(f"{url}/elevators/NOPE/score", headers=admin).status_code == 404

    fd = token("maintenance", "FD")
    assert httpx.get(f"{url}/elevators/G2/score", headers=fd).status_code == 200
    assert httpx.get(f"{url}/elevators/G1/score", headers=fd).status_code == 404
    reg_q = token("regulator", "Q")
    assert httpx.get(f"{url}/elevators/G3/score", headers=reg_q).status_code == 200
    assert httpx.get(f"{url}/elevators/G1/score", headers=reg_q).status_code == 404
    assert httpx.get(f"{url}/elevators/G1/score", headers=token("dispatcher")).status_code == 403
    assert httpx.get(f"{url}/elevators/G1/score", headers=token("station", "S1")).status_code == 403
    assert httpx.get(f"{url}/elevators/G1/score").status_code == 401

    page = httpx.get(f"{url}/maintenance/scores", headers=admin).json()
    assert [i["elevator_id"] for i in page["items"]] == ["G2", "G3", "G1"]  # worst first
    assert page["total"] == 3
    page = httpx.get(
        f"{url}/maintenance/scores", params={"limit": 1, "offset": 1}, headers=admin
    ).json()
    assert [i["elevator_id"] for i in page["items"]] == ["G3"] and page["total"] == 3
    fa = httpx.get(f"{url}/maintenance/scores", params={"firm_id": "FA"}, headers=admin).json()
    assert [i["elevator_id"] for i in fa["items"]] == ["G3", "G1"]
    own = httpx.get(f"{url}/maintenance/scores", headers=fd).json()
    assert [i["elevator_id"] for i in own["items"]] == ["G2"]
    foreign = httpx.get(f"{url}/maintenance/scores", params={"firm_id": "FA"}, headers=fd).json()
    assert foreign["items"] == [] and foreign["total"] == 0
    reg = httpx.get(f"{url}/maintenance/scores", headers=reg_q).json()
    assert [i["elevator_id"] for i in reg["items"]] == ["G3"]
    assert (
        httpx.get(f"{url}/maintenance/scores", params={"limit": 0}, headers=admin).status_code
        == 422
    )


def test_stale_or_missing_scores_are_recomputed(
    server: tuple[str, Settings], token: Callable[..., Headers]
) -> None:
    url, settings = server
    admin = token("admin")
    first = httpx.get(f"{url}/elevators/G1/score", headers=admin).json()["computed_at"]
    # fresh: the same computation is served
    assert httpx.get(f"{url}/elevators/G1/score", headers=admin).json()["computed_at"] == first
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("UPDATE elevator_scores SET computed_at = now() - interval '2 hours'")
    again = httpx.get(f"{url}/elevators/G1/score", headers=admin).json()["computed_at"]
    assert datetime.fromisoformat(again) > datetime.fromisoformat(first)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM elevator_scores WHERE elevator_id = 'G3'")
    assert httpx.get(f"{url}/elevators/G3/score", headers=admin).status_code == 200
