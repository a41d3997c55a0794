"""Regulator statistics and maintenance records, over a hand-built fleet in a
database of this module's own (so overall figures are exact), through the
real server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from semon.settings import Settings
from semon.store.commands import migrate_database
from tests.api.conftest import LiveServer, make_settings, token_factory
from tests.support import services

Headers = dict[str, str]

ELEVATORS = [
    # id, district, firm, use_unit, installed, last_inspected, months, status
    ("E1", "X", "F1", "U1", "2010-01-01", "2025-06-15", 12, "in_service"),  # due 2026-06-15
    ("E2", "X", "F1", "U2", "2026-01-31", None, 6, "in_service"),  # due 2026-07-31
    ("E3", "X", "F2", "U1", "2005-01-01", "2024-02-29", 12, "in_service"),  # due 2025-02-28
    ("E4", "Y", "F2", "U3", "2000-01-01", "2020-01-01", 12, "suspended"),
    ("E5", "Y", "F1", "U3", "2012-01-01", "2025-12-01", 12, "in_service"),  # due 2026-12-01
    ("E6", "Y", None, "U3", "1999-01-01", None, 12, "retired"),
]
CYLINDERS = [
    # id, station, manufactured, last_inspected, years, status
    ("C1", "S1", "2020-03-01", None, 5, "in_service"),  # due 2025-03-01
    ("C2", "S1", "2019-01-01", "2024-02-29", 2, "in_service"),  # due 2026-02-28
    ("C3", "S2", "2022-01-01", None, 3, "in_service"),  # due 2025-01-01
    ("C4", "S2", "2010-01-01", None, 3, "scrapped"),
    ("C5", None, "2015-01-01", None, 4, "in_service"),  # due 2019-01-01, no station
]
T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def seed(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO firms (firm_id, name, credit_grade, tech_level)"
            " VALUES ('F1', 'one', 'A', 5), ('F2', 'two', 'B', 3)"
        )
        conn.execute(
            "INSERT INTO stations (station_id, name, district)"
            " VALUES ('S1', 'one', 'X'), ('S2', 'two', 'Y')"
        )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO elevators (elevator_id, address, district, firm_id, use_unit,"
                " installed_on, last_inspected_on, inspection_interval_months, status)"
                " VALUES (%s, 'addr', %s, %s, %s, %s, %s, %s, %s)",
                [(e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]) for e in ELEVATORS],
            )
            cur.executemany(
                "INSERT INTO cylinders (cylinder_id, gas, manufactured_on, max_fill_kg,"
                " design_life_years, inspection_interval_years, last_inspected_on,"
                " owner_station_id, status) VALUES (%s, 'lpg', %s, 14.5, 20, %s, %s, %s, %s)",
                [(c[0], c[2], c[4], c[3], c[1], c[5]) for c in CYLINDERS],
            )
            alerts: list[tuple[Any, ...]] = []

            def trap(
                aid: str,
                district: str,
                firm: str,
                ack: int | None,
                on_site: int | None,
                resolved: int | None,
                resolution: str | None,
                *,
                start: datetime = T0,
                live: bool = True,
            ) -> None:
                def at(s: int | None) -> datetime | None:
                    return None if s is None else start + timedelta(seconds=s)

                alerts.append(
                    (
                        aid,
                        "trapped_passenger",
                        "critical",
                        "elevator",
                        aid,
                        district,
                        firm,
                        None,
                        start,
                        start,
                        at(ack),
                        at(on_site),
                        at(resolved),
                        resolution,
                        live,
                    )
                )

            trap("A1", "X", "F1", 30, 600, 1200, "rescued")
            trap("A2", "X", "F1", 90, 2400, 3000, "rescued")
            trap("A3", "X", "F1", 60, None, 120, "false_alarm")
            trap("A4", "Y", "F2", 10, 300, 900, "self_released")
            trap("A5", "Y", "F2", 5, 5, 5, "rescued", start=T0 - timedelta(days=40))
            trap("A6", "Y", "F2", None, None, None, None, live=False)

            def filling(aid: str, kind: str, station: str, district: str, days: int = 0) -> None:
                start = T0 + timedelta(days=days)
                alerts.append(
                    (
                        aid,
                        kind,
                        "major",
                        "cylinder",
                        aid,
                        district,
                        None,
                        station,
                        start,
                        start,
                        None,
                        None,
                        start,
                        "other",
                        True,
                    )
                )

            filling("B1", "overfill", "S1", "X")
            filling("B2", "overfill", "S1", "X", 1)
            filling("B3", "gas_mismatch", "S1", "X")
            filling("B4", "postcheck_missing", "S2", "Y")
            filling("B5", "overfill", "S2", "Y", -60)  # outside the window
            filling("B6", "terminal_offline", "S2", "Y")  # not a filling kind
            cur.executemany(
                "INSERT INTO alerts (alert_id, condition_key, kind, severity, state,"
                " equipment_type, equipment_id, district, firm_id, station_id, started_at,"
                " raised_at, updated_at, acknowledged_at, on_site_at, resolved_at, resolution,"
                " live, summary) VALUES (%s, %s || %s, %s, %s, 'resolved', %s, %s, %s, %s, %s,"
                " %s, %s, %s, %s, %s, %s, %s, %s, 'test')",
                [
                    (
                        a[0],
                        a[1],
                        a[0],
                        a[1],
                        a[2],
                        a[3],
                        a[4],
                        a[5],
                        a[6],
                        a[7],
                        a[8],
                        a[9],
                        a[9],
                        a[10],
                        a[11],
                        a[12],
                        a[13],
                        a[14],
                    )
                    for a in alerts
                ],
            )


@pytest.fixture(scope="module")
def server(pg_admin_dsn: str) -> Iterator[tuple[str, Settings]]:
    with services.fresh_database(pg_admin_dsn, prefix="semon_stats") as dsn:
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
    r = httpx.get(server[0] + path, params=params, headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def figures(body: dict[str, Any]) -> dict[Any, tuple[int, int]]:
    out: dict[Any, tuple[int, int]] = {g["key"]: (g["total"], g["overdue"]) for g in body["groups"]}
    out["*"] = (body["overall"]["total"], body["overall"]["overdue"])
    return out


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("2025-02-28", {"X": (3, 0), "Y": (1, 0), "*": (4, 0)}),  # E3 due that day: not yet
        ("2025-03-01", {"X": (3, 1), "Y": (1, 0), "*": (4, 1)}),
        ("2026-06-15", {"X": (3, 1), "Y": (1, 0), "*": (4, 1)}),  # E1 due that day
        ("2026-06-16", {"X": (3, 2), "Y": (1, 0), "*": (4, 2)}),
        ("2026-07-31", {"X": (3, 2), "Y": (1, 0), "*": (4, 2)}),  # Jan 31 + 6 months
        ("2026-08-01", {"X": (3, 3), "Y": (1, 0), "*": (4, 3)}),
        ("2026-12-02", {"X": (3, 3), "Y": (1, 1), "*": (4, 4)}),
    ],
)
def test_overdue_elevators_by_district_at_dates(
    server: tuple[str, Settings], token: Callable[..., Headers], at: str, expected: dict[str, Any]
) -> None:
    body = get(
        server,
        "/stats/overdue-inspections",
        token("admin"),
        equipment="elevator",
        group_by="district",
        at=at,
    )
    assert figures(body) == expected
    assert body["overall"]["rate"] == pytest.approx(expected["*"][1] / 4)


def test_overdue_elevators_by_firm_and_use_unit(
    server: tuple[str, Settings], token: Callable[..., Headers]
) -> None:
    admin = token("admin")
    by_firm = get(server, "/stats/overdue-inspections", admin, group_by="firm_id", at="2026-06-16")
    assert figures(by_firm) == {"F1": (3, 1), "F2": (1, 1), "*": (4, 2)}
    by_unit = get(server, "/stats/overdue-inspections", admin, group_by="use_unit", at="2026-06-16")
    assert figures(by_unit) == {"U1": (2, 2), "U2": (1, 0), "U3": (1, 0), "*": (4, 2)}


def test_overdue_cylinders(server: tuple[str, Settings], token: Callable[..., Headers]) -> None:
    admin = token("admin")
    q = {"equipment": "cylinder"}
    assert figures(
        get(
            server, "/stats/overdue-inspections", admin, **q, group_by="station_id", at="2025-03-01"
        )
    ) == {"S1": (2, 0), "S2": (1, 1), None: (1, 1), "*": (4, 2)}
    assert figures(
        get(
            server, "/stats/overdue-inspections", admin, **q, group_by="station_id", at="2025-03-02"
        )
    ) == {"S1": (2, 1), "S2": (1, 1), None: (1, 1), "*": (4, 3)}
    assert figures(
        get(server, "/stats/overdue-inspections", admin, **q, group_by="district", at="2026-03-01")
    ) == {"X": (2, 2), "Y": (1, 1), None: (1, 1), "*": (4, 4)}
    # a station sees its own cylinders; a regulator of X the cylinders of X's stations
    own = get(
        server,
        "/stats/overdue-inspections",
        token("station", "S1"),
        **q,
        group_by="station_id",
        at="2026-02-28",
    )
    assert figures(own) == {"S1": (2, 1), "*": (2, 1)}
    reg = get(
        server,
        "/stats/overdue-inspections",
        token("regulator", "X"),
        **q,
        group_by="district",
        at="2026-03-01",
    )
    assert figures(reg) == {"X": (2, 2), "*": (2, 2)}


def test_overdue_scope_and_bad_requests(
    server: tuple[str, Settings], token: Callable[..., Headers]
) -> None:
    reg = get(
        server,
        "/stats/overdue-inspections",
        token("regulator", "X"),
        group_by="firm_id",
        at="2026-06-16",
    )
    assert figures(reg) == {"F1": (2, 1), "F2": (1, 1), "*": (3, 2)}
    firm = get(
        server,
        "/stats/overdue-inspections",
        token("maintenance", "F2"),
        group_by="district",
        at="2026-06-16",
    )
    assert figures(firm) == {"X": (1, 1), "*": (1, 1)}
    url = server[0] + "/stats/overdue-inspections"
    admin = token("admin")
    assert httpx.get(url, params={"group_by": "station_id"}, headers=admin).status_code == 422
    assert (
        httpx.get(
            url, params={"equipment": "cylinder", "group_by": "firm_id"}, headers=admin
        ).status_code
        == 422
    )
    assert httpx.get(url, params={"at": "not-a-date"}, headers=admin).status_code == 422
    assert httpx.get(url, headers=token("station", "S1")).status_code == 403
    assert (
        httpx.get(
            url,
            params={"equipment": "cylinder", "group_by": "station_id"},
            headers=token("maintenance", "F1"),
        ).status_code
        == 403
    )
    assert httpx.get(url).status_code == 401


WINDOW = {"from": (T0 - timedelta(days=1)).isoformat(), "to": (T0 + timedelta(days=7)).isoformat()}


def test_rescue_figures(server: tuple[str, Settings], token: Callable[..., Headers]) -> None:
    body = get(server, "/stats/rescue", token("admin"), group_by="district", **WINDOW)
    x = next(g for g in body["groups"] if g["key"] == "X")
    assert x["count"] == 3
    assert x["ack_median_s"] == pytest.approx(60)
    assert x["ack_p90_s"] == pytest.approx(84)  # 60 + 0.8 * (90 - 60)
    assert x["on_site_median_s"] == pytest.approx(1500)
    assert x["on_site_p90_s"] == pytest.approx(2220)
    assert x["resolved_median_s"] == pytest.approx(1200)
    assert x["resolved_p90_s"] == pytest.approx(2640)
    assert x["on_site_within_30min_share"] == pytest.approx(1 / 3)
    assert x["false_alarm_share"] == pytest.approx(1 / 3)
    y = next(g for g in body["groups"] if g["key"] == "Y")
    assert y["count"] == 2  # A5 is outside the window; A6 (backlog) counts
    assert y["ack_median_s"] == pytest.approx(10)
    assert y["on_site_within_30min_share"] == pytest.approx(1.0)  # A6 was never live
    assert y["false_alarm_share"] == 0
    assert body["overall"]["count"] == 5
    assert body["overall"]["ack_median_s"] == pytest.approx(45)
    assert body["overall"]["on_site_within_30min_share"] == pytest.approx(2 / 4)

    by_firm = get(server, "/stats/rescue", token("regulator", "Y"), group_by="firm_id", **WINDOW)
    assert [(g["key"], g["count"]) for g in by_firm["groups"]] == [("F2", 2)]
    assert by_firm["overall"]["count"] == 2
    empty = get(
        server,
        "/stats/rescue",
        token("admin"),
        **{"from": "2020-01-01T00:00:00Z", "to": "2020-02-01T00:00:00Z"},
    )
    assert empty["groups"] == [] and empty["overall"]["count"] == 0
    url = server[0] + "/stats/rescue"
    bad = {"from": "2026-06-02T00:00:00Z", "to": "2026-06-01T00:00:00Z"}
    assert httpx.get(url, params=bad, headers=token("admin")).status_code == 422
    assert httpx.get(url, headers=token("station", "S1")).status_code == 403


def test_illegal_fillings(server: tuple[str, Settings], token: Callable[..., Headers]) -> None:
    body = get(server, "/stats/illegal-fillings", token("admin"), **WINDOW)
    assert body["total"] == 4
    assert body["by_kind"] == {"gas_mismatch": 1, "overfill": 2, "postcheck_missing": 1}
    assert body["stations"][0] == {
        "station_id": "S1",
        "total": 3,
        "by_kind": {"overfill": 2, "gas_mismatch": 1},
    }
    own = get(server, "/stats/illegal-fillings", token("station", "S2"), **WINDOW)
    assert own["total"] == 1 and [s["station_id"] for s in own["stations"]] == ["S2"]
    reg = get(server, "/stats/illegal-fillings", token("regulator", "X"), **WINDOW)
    assert reg["total"] == 3
    url = server[0] + "/stats/illegal-fillings"
    assert httpx.get(url, headers=token("maintenance", "F1")).status_code == 403


def test_maintenance_records_and_overdue(
    server: tuple[str, Settings], token: Callable[..., Headers]
) -> None:
    url = server[0] + "/maintenance/records"
    f1, f2, admin = token("maintenance", "F1"), token("maintenance", "F2"), token("admin")

    def post(headers: Headers, body: Any) -> httpx.Response:
        return httpx.post(url, json=body, headers=headers, timeout=30)

    rec = {"elevator_id": "E1", "done_on": "2026-06-10", "kind": "routine", "firm_id": "F1"}
    r = post(f1, rec)
    assert r.status_code == 200 and r.json()["received"] == r.json()["inserted"] == 1
    assert post(f1, rec).json()["inserted"] == 0  # idempotent
    r = post(
        f1,
        [
            {"elevator_id": "E2", "done_on": "2026-06-01", "kind": "routine", "firm_id": "F1"},
            {"elevator_id": "E5", "done_on": "2026-06-12", "kind": "quarterly", "firm_id": "F1"},
        ],
    )
    assert r.json()["received"] == r.json()["inserted"] == 2
    # another firm's elevator answers 404 as if missing, and the batch stores nothing
    foreign = {"elevator_id": "E3", "done_on": "2026-06-10", "kind": "routine", "firm_id": "F1"}
    assert post(f1, foreign).status_code == 404
    assert post(f1, [{**rec, "done_on": "2026-06-11"}, foreign]).status_code == 404
    assert post(f1, {**rec, "elevator_id": "NOPE"}).status_code == 404
    assert post(f1, {**rec, "firm_id": "F2"}).status_code == 403
    assert post(f2, rec).status_code == 403  # the body names F1
    assert post(token("regulator"), rec).status_code == 403
    assert post(admin, {**rec, "kind": "weekly"}).status_code == 422
    assert post(admin, []).status_code == 422

    def overdue(at: str, headers: Headers = admin, group_by: str = "district") -> Any:
        return figures(get(server, "/stats/maintenance-overdue", headers, group_by=group_by, at=at))

    # unscored: 15 days. E1 06-10 (+15 = 06-25), E2 06-01 (06-16), E5 06-12 (06-27),
    # E3 never maintained: its installation (2005) counts
    assert overdue("2026-06-16") == {"X": (3, 1), "Y": (1, 0), "*": (4, 1)}
    assert overdue("2026-06-17") == {"X": (3, 2), "Y": (1, 0), "*": (4, 2)}
    assert overdue("2026-06-25") == {"X": (3, 2), "Y": (1, 0), "*": (4, 2)}
    assert overdue("2026-06-26") == {"X": (3, 3), "Y": (1, 0), "*": (4, 3)}
    assert overdue("2026-06-28") == {"X": (3, 3), "Y": (1, 1), "*": (4, 4)}
    # a visit after the date judged does not count at that date (E1, E5: none before)
    assert overdue("2026-06-05") == {"X": (3, 2), "Y": (1, 1), "*": (4, 3)}
    assert overdue("2026-06-17", f1, "firm_id") == {"F1": (3, 1), "*": (3, 1)}
    assert overdue("2026-06-17", token("regulator", "Y")) == {"Y": (1, 0), "*": (1, 0)}
    # an admin's record for any firm, then a longer interval from the scores table
    assert post(admin, {**foreign, "firm_id": "F2"}).json()["inserted"] == 1
    assert overdue("2026-06-17") == {"X": (3, 1), "Y": (1, 0), "*": (4, 1)}
    with psycopg.connect(server[1].database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO elevator_scores (elevator_id, score, grade, interval_days, factor_names,"
            " factor_values, factor_weights, factor_contributions, computed_at)"
            " VALUES ('E2', 90, 'A', 30, '{}', '{}', '{}', '{}', now())"
        )
    assert overdue("2026-06-17") == {"X": (3, 0), "Y": (1, 0), "*": (4, 0)}
    assert date(2026, 6, 1) + timedelta(days=30) == date(2026, 7, 1)
    assert overdue("2026-07-02") == {"X": (3, 3), "Y": (1, 1), "*": (4, 4)}


def test_maintenance_record_dated_in_the_future_is_refused(
    server: tuple[str, Settings], token: Callable[..., Headers]
) -> None:
    """A visit dated 2099 would count as done and silence an overdue alert:
    422 naming done_on (and the record by index in a list: `[1].done_on`), nothing stored.
    Tomorrow is within the tolerance: a firm's local date runs ahead of UTC's."""
    url = server[0] + "/maintenance/records"
    admin = token("admin")
    rec = {"elevator_id": "E3", "done_on": "2099-01-01", "kind": "repair", "firm_id": "F2"}
    r = httpx.post(url, json=rec, headers={**admin, "Accept-Language": "en"}, timeout=30)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]  # one sentence: the schema cannot state the clock
    assert detail.startswith("done_on: ") and "2099-01-01 is in the future" in detail
    fine = {**rec, "done_on": "2026-06-03"}
    r = httpx.post(url, json=[fine, rec], headers=admin, timeout=30)
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("[1].done_on")
    with psycopg.connect(server[1].database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM maintenance_records WHERE elevator_id = 'E3' AND kind = 'repair'"
        ).fetchone()
    assert row == (0,)
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    r = httpx.post(url, json={**rec, "done_on": tomorrow.isoformat()}, headers=admin, timeout=30)
    assert r.status_code == 200, r.text
    with psycopg.connect(server[1].database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM maintenance_records WHERE elevator_id = 'E3' AND kind = 'repair'")
