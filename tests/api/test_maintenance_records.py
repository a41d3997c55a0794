"""Maintenance records with windows, technicians and sign-off, checked
against the terminal: through the real server, on a database of this
module's own, with telemetry written as ingest writes it."""

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
from semon.store.verification import recheck_late
from tests.api.conftest import LiveServer, make_settings, token_factory
from tests.support import services

Headers = dict[str, str]
# Two days back, on the hour: every window is in the past.
T = (datetime.now(UTC) - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
DAY = T.date().isoformat()


def seed(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO firms (firm_id, name, credit_grade, tech_level)"
            " VALUES ('F1', 'one', 'A', 5), ('F2', 'two', 'B', 3)"
        )
        conn.execute(
            "INSERT INTO elevators (elevator_id, address, district, firm_id, use_unit,"
            " installed_on) VALUES ('E1', 'a', 'X', 'F1', 'U1', '2010-01-01'),"
            " ('E2', 'a', 'Y', 'F2', 'U2', '2010-01-01'), ('E3', 'a', 'X', 'F1', 'U1',"
            " '2015-01-01'), ('E4', 'a', 'X', 'F1', 'U1', '2015-01-01')"
        )


def samples(
    dsn: str,
    eid: str,
    start: datetime,
    minutes: int,
    mode: str = "normal",
    *,
    every_s: int = 60,
    received: datetime | None = None,
) -> None:
    """Status rows as ingest stores them, one every ``every_s`` seconds."""
    rows = [
        (eid, start + timedelta(seconds=k), mode, received or start + timedelta(seconds=k + 1))
        for k in range(0, minutes * 60, every_s)
    ]
    with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO elevator_status (elevator_id, ts, floor, speed, direction, door,"
            " door_zone, mode, alarm, power, received_at) VALUES"
            " (%s, %s, 1, 0, 'stopped', 'closed', true, %s, false, 'mains', %s)"
            " ON CONFLICT DO NOTHING",
            rows,
        )


@pytest.fixture(scope="module")
def server(pg_admin_dsn: str) -> Iterator[tuple[str, Settings]]:
    with services.fresh_database(pg_admin_dsn, prefix="semon_mrec") as dsn:
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


def post(server: tuple[str, Settings], headers: Headers, body: Any) -> httpx.Response:
    return httpx.post(server[0] + "/maintenance/records", json=body, headers=headers, timeout=30)


def record(eid: str, start: datetime | None, minutes: int = 40, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"elevator_id": eid, "done_on": DAY, "kind": "routine", "firm_id": "F1"}
    if start is not None:
        out |= {
            "started_at": start.isoformat(),
            "ended_at": (start + timedelta(minutes=minutes)).isoformat(),
            "items": ["A1", "A2"],
            "technicians": [{"name": "王师傅", "cert_no": "T-1"}, {"name": "Li"}],
            "signed_by": "U1 manager",
            "signed_at": (start + timedelta(minutes=minutes + 5)).isoformat(),
        }
    return out | extra


def stored(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM maintenance_records").fetchone()
        return int(row[0]) if row else 0


def test_verdicts_on_arrival(server: tuple[str, Settings], token: Callable[..., Headers]) -> None:
    dsn = server[1].database_url
    f1 = token("maintenance", "F1")
    # E1: the car went to maintenance mode 5 minutes before the recorded start
    # (inside the slack) and the rest of the day in normal service
    samples(dsn, "E1", T, 120)
    samples(dsn, "E1", T + timedelta(hours=2, minutes=-5), 10, "maintenance")
    # E3: normal service, watched every minute, all through the window
    samples(dsn, "E3", T, 240)
    r = post(
        server,
        f1,
        [
            record("E1", T + timedelta(hours=2), kind="quarterly"),
            record("E3", T + timedelta(hours=1)),
            record("E4", T + timedelta(hours=1)),  # E4's terminal is silent
            record("E1", None, kind="repair"),  # the old minimal form
        ],
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["inserted"] == 4
    verdicts = {(x["elevator_id"], x["kind"]): x["verification"] for x in body["records"]}
    assert verdicts == {
        ("E1", "quarterly"): "terminal",
        ("E3", "routine"): "contradicted",
        ("E4", "routine"): "no_terminal_data",
        ("E1", "repair"): None,
    }
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT items, technicians, signed_by, verification_evidence"
            " FROM maintenance_records WHERE elevator_id = 'E3'"
        ).fetchone()
    assert row is not None
    assert row[0] == ["A1", "A2"] and row[1][0] == {"name": "王师傅", "cert_no": "T-1"}
    assert row[2] == "U1 manager"
    assert row[3]["coverage"] == 1.0 and row[3]["work_samples"] == 0
    # a repeat changes nothing
    again = post(server, f1, record("E3", T + timedelta(hours=1)))
    assert again.json()["inserted"] == 0


def test_partly_watched_window_is_not_a_contradiction(
    server: tuple[str, Settings], token: Callable[..., Headers]
) -> None:
    dsn = server[1].database_url
    start = T + timedelta(hours=6)
    samples(dsn, "E3", start, 20)  # only the first 20 of 40 minutes
    r = post(server, token("maintenance", "F1"), record("E3", start, kind="annual"))
    assert r.json()["records"][0]["verification"] == "no_terminal_data"


def test_late_samples_change_the_verdict(
    server: tuple[str, Settings], token: Callable[..., Headers]
) -> None:
    dsn = server[1].database_url
    start = T + timedelta(hours=10)
    r = post(server, token("maintenance", "F1"), record("E4", start, kind="half_year"))
    assert r.json()["records"][0]["verification"] == "no_terminal_data"

    async def recheck() -> dict[int, str]:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            return await recheck_late(conn, server[1].verification, now=datetime.now(UTC))

    rid = r.json()["records"][0]["record_id"]
    asyncio.run(recheck())  # the margin re-checks once what was just filed
    assert rid not in asyncio.run(recheck())  # and then leaves it alone
    # the terminal uploads its buffer now: the car was in service all along
    samples(dsn, "E4", start - timedelta(minutes=30), 100, received=datetime.now(UTC))
    assert asyncio.run(recheck())[rid] == "contradicted"
    # more of its buffer, between those samples: a technician switched the
    # car over after all
    now = datetime.now(UTC)
    samples(dsn, "E4", start + timedelta(minutes=10, seconds=30), 3, "inspection", received=now)
    assert asyncio.run(recheck())[rid] == "terminal"
    assert rid not in asyncio.run(recheck())  # terminal is final


def test_bad_input_names_the_field_and_stores_nothing(
    server: tuple[str, Settings], token: Callable[..., Headers]
) -> None:
    dsn = server[1].database_url
    f1 = token("maintenance", "F1")
    before = stored(dsn)
    good = record("E1", T + timedelta(hours=20), kind="annual")

    def fails(body: Any, status: int, field: str | None = None) -> None:
        r = post(server, f1, body)
        assert r.status_code == status, r.text
        if field is not None:
            detail = r.json()["detail"]
            if isinstance(detail, str):  # what the schema cannot state: a sentence naming it
                assert field in detail.split(":")[0], detail
            else:
                locs = [e["loc"] for e in detail]
                assert any(field in loc for loc in locs), locs

    fails({**good, "ended_at": (T + timedelta(hours=19)).isoformat()}, 422, "ended_at")
    fails({**good, "technicians": [{"name": "  ", "cert_no": "T-9"}]}, 422, "name")
    fails({**good, "technicians": [{"cert_no": "T-9"}]}, 422, "name")
    future = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    fails({**good, "done_on": future}, 422, "done_on")
    later = datetime.now(UTC) + timedelta(hours=1)
    fails({**good, "started_at": later.isoformat(), "ended_at": later.isoformat()}, 422)
    fails({**good, "signed_at": later.isoformat()}, 422, "signed_at")
    fails({**good, "ended_at": None}, 422, "ended_at")
    # another firm's lift is not there for this firm; the batch stores nothing
    fails([good, record("E2", None)], 404)
    fails([good, {**good, "kind": "repair", "started_at": "yesterday"}], 422, "started_at")
    assert stored(dsn) == before
    # the body's firm is not the caller's
    fails({**good, "firm_id": "F2"}, 403)
    assert date.fromisoformat(DAY) < datetime.now(UTC).date()
    assert stored(dsn) == before


def test_the_lifts_file_paged_and_scoped(
    server: tuple[str, Settings], token: Callable[..., Headers]
) -> None:
    dsn = server[1].database_url
    with psycopg.connect(dsn, autocommit=True) as conn:
        for k in range(5):
            conn.execute(
                "INSERT INTO maintenance_records (elevator_id, done_on, kind, firm_id)"
                " VALUES ('E2', %s, 'routine', 'F2')",
                (date(2026, 1, 1) + timedelta(days=15 * k),),
            )
        for k, result in enumerate(("pass", "fail", "conditional")):
            conn.execute(
                "INSERT INTO inspections (equipment_type, equipment_id, inspected_on, result,"
                " inspector) VALUES ('elevator', 'E2', %s, %s, 'insp')",
                (date(2024, 5, 1) + timedelta(days=365 * k), result),
            )

    def pages(path: str, headers: Headers, key: str) -> list[str]:
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2}
            if cursor:
                params["cursor"] = cursor
            r = httpx.get(server[0] + path, params=params, headers=headers, timeout=30)
            assert r.status_code == 200, r.text
            body = r.json()
            assert len(body["items"]) <= 2
            seen += [x[key] for x in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                return seen

    f2 = token("maintenance", "F2")
    days = pages("/elevators/E2/maintenance", f2, "done_on")
    assert days == sorted(days, reverse=True) and len(days) == 5 == len(set(days))
    results = pages("/elevators/E2/inspections", token("regulator", "Y"), "result")
    assert results == ["conditional", "fail", "pass"]
    for headers in (token("maintenance", "F1"), token("regulator", "X"), token("station", "S1")):
        for what in ("maintenance", "inspections"):
            r = httpx.get(f"{server[0]}/elevators/E2/{what}", headers=headers, timeout=30)
            assert r.status_code == 404, (what, r.text)
    r = httpx.get(
        f"{server[0]}/elevators/E2/maintenance", params={"cursor": "nonsense"}, headers=f2
    )
    assert r.status_code == 422
    # a record filed with its window shows the verdict and the evidence
    own = httpx.get(f"{server[0]}/elevators/E3/maintenance", headers=token("admin")).json()
    verdicts = {x["verification"] for x in own["items"]}
    assert "contradicted" in verdicts
    shown = next(x for x in own["items"] if x["verification"] == "contradicted")
    assert shown["technicians"][0]["name"] == "王师傅" and shown["verification_evidence"]


def test_problems_speak_the_readers_language(
    server: tuple[str, Settings], token: Callable[..., Headers]
) -> None:
    bad = record("E1", T + timedelta(hours=30), kind="annual")
    bad["ended_at"] = (T + timedelta(hours=29)).isoformat()
    said = {}
    for lang in ("en", "zh-CN"):
        headers = {**token("maintenance", "F1"), "Accept-Language": lang}
        r = post(server, headers, bad)
        assert r.status_code == 422
        said[lang] = r.json()["detail"]
        r = httpx.get(f"{server[0]}/elevators/E2/maintenance", headers=headers, timeout=30)
        assert r.status_code == 404 and "E2" in r.json()["detail"]
    assert said == {
        "en": "ended_at: the window ends before it starts",
        "zh-CN": "ended_at：时间窗的结束早于开始",
    }
