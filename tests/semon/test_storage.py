"""The storage on both flavours: plain PostgreSQL (native partitions) and a
real TimescaleDB (PGlite + TimescaleDB from npm).

The same inserts and queries run on both and must give the same answers.
PGlite serves one connection at a time, takes no COPY and no pipelined
executemany, and dies on a protocol message over ~64KB: the tests open one
connection at a time and insert at most 200 rows per statement (as arrays).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from semon.settings import Settings
from semon.store.commands import migrate_database
from semon.store.maintenance import apply_policies, maintenance_loop, refresh_hourly
from semon.store.migrate import Flavour

CHUNK = 200  # rows per INSERT: well under PGlite's ~64KB message limit


@dataclass(frozen=True)
class Store:
    dsn: str
    flavour: Flavour


@pytest.fixture(params=["postgres", "timescale"])
def store(request: pytest.FixtureRequest) -> Store:
    # Session databases on both sides; every test uses its own equipment ids.
    if request.param == "postgres":
        return Store(request.getfixturevalue("database_url"), "postgres")
    return Store(request.getfixturevalue("timescale_url"), "timescale")


@asynccontextmanager
async def connect(dsn: str) -> AsyncIterator[psycopg.AsyncConnection]:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        yield conn


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def floor_hour(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


# -- inserts as the ingest side writes them: arrays, ON CONFLICT DO NOTHING --

INSERT_STATUS = """
INSERT INTO elevator_status (elevator_id, ts, floor, speed, direction, door, door_zone, occupied,
                             load_kg, mode, alarm, power, trips, door_cycles, run_s, received_at)
SELECT e, t, f, 0.0, 'stop', 'closed', true, false, 0.0, 'normal', false, 'on', tr, dc, rs, now()
FROM unnest(%s::text[], %s::timestamptz[], %s::smallint[], %s::bigint[], %s::bigint[], %s::bigint[])
     AS u(e, t, f, tr, dc, rs)
ON CONFLICT DO NOTHING
"""

INSERT_EVENTS = """
INSERT INTO elevator_events (elevator_id, ts, code, gov_code, detail, data, received_at)
SELECT e, t, c, NULL, NULL, '{}'::jsonb, now()
FROM unnest(%s::text[], %s::timestamptz[], %s::text[]) AS u(e, t, c)
ON CONFLICT DO NOTHING
"""

INSERT_SCALE = """
INSERT INTO scale_samples (station_id, filling_id, cylinder_id, ts, net_kg, pressure_mpa,
                           received_at)
SELECT s, f, c, t, kg, 1.2, now()
FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::float8[])
     AS u(s, f, c, t, kg)
ON CONFLICT DO NOTHING
"""

INSERT_FILLING = """
INSERT INTO fillings (filling_id, station_id, cylinder_id, gas, operator_id, started_at, ended_at,
                      result, net_kg, precheck, received_at)
VALUES (%s, %s, %s, 'lpg', 'op-1', %s, %s, 'filled', 14.5, '{}'::jsonb, now())
ON CONFLICT DO NOTHING
"""

INSERT_OFFLINE_ALERT = """
INSERT INTO alerts (alert_id, condition_key, kind, severity, state, equipment_type, equipment_id,
                    started_at, ended_at, raised_at, updated_at, resolved_at, summary)
VALUES (%(id)s, %(key)s, 'terminal_offline', 'minor', 'resolved', 'elevator', %(eq)s,
        %(start)s, %(end)s, %(start)s, %(end)s, %(end)s, 'terminal offline')
"""


@dataclass(frozen=True)
class Sample:
    elevator_id: str
    ts: datetime
    floor: int = 1
    trips: int = 0
    door_cycles: int = 0
    run_s: int = 0


def chunks(rows: Sequence[Any]) -> list[Sequence[Any]]:
    return [rows[i : i + CHUNK] for i in range(0, len(rows), CHUNK)]


async def insert_status(conn: psycopg.AsyncConnection, samples: Sequence[Sample]) -> int:
    stored = 0
    for part in chunks(samples):
        cur = await conn.execute(
            INSERT_STATUS,
            (
                [s.elevator_id for s in part],
                [s.ts for s in part],
                [s.floor for s in part],
                [s.trips for s in part],
                [s.door_cycles for s in part],
                [s.run_s for s in part],
            ),
        )
        stored += cur.rowcount
    return stored


async def insert_events(
    conn: psycopg.AsyncConnection, events: Sequence[tuple[str, datetime, str]]
) -> int:
    stored = 0
    for part in chunks(events):
        cur = await conn.execute(
            INSERT_EVENTS, ([e[0] for e in part], [e[1] for e in part], [e[2] for e in part])
        )
        stored += cur.rowcount
    return stored


async def insert_scale(
    conn: psycopg.AsyncConnection, station: str, filling: str, start: datetime, n: int
) -> int:
    ts = [start + timedelta(seconds=i) for i in range(n)]
    stored = 0
    for part in chunks(ts):
        cur = await conn.execute(
            INSERT_SCALE,
            (
                [station] * len(part),
                [filling] * len(part),
                ["cyl-1"] * len(part),
                list(part),
                [0.1 * i for i in range(len(part))],
            ),
        )
        stored += cur.rowcount
    return stored


# -- migrations and status --------------------------------------------------


async def test_migrations_apply_and_are_idempotent(store: Store) -> None:
    flavour, applied = await migrate_database(store.dsn, Settings(database_url=store.dsn))
    assert flavour == store.flavour
    assert applied == []  # the fixture already migrated
    async with connect(store.dsn) as conn:
        cur = await conn.execute("SELECT DISTINCT flavour FROM schema_migrations")
        assert [r[0] for r in await cur.fetchall()] == [store.flavour]
        cur = await conn.execute("SELECT version FROM schema_migrations ORDER BY version")
        versions = [r[0] for r in await cur.fetchall()]
        assert {1, 2, 3, 4, 5, 6, 7} <= set(versions)
        cur = await conn.execute("SELECT to_regclass('elevator_hourly') IS NOT NULL")
        assert (await cur.fetchone()) == (True,)


def semon_binary() -> str:
    beside = Path(sys.executable).parent / "semon"
    found = str(beside) if beside.exists() else shutil.which("semon")
    assert found, "the semon console script is not installed"
    return found


async def test_db_status_names_the_flavour(store: Store) -> None:
    env = dict(os.environ, DATABASE_URL=store.dsn)
    proc = await asyncio.create_subprocess_exec(
        semon_binary(),
        "db",
        "status",
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    text = out.decode()
    # In the platform's language (zh-CN unless SEMON_I18N__LANGUAGE says otherwise).
    if store.flavour == "timescale":
        assert "类型：TimescaleDB 2." in text
    else:
        assert "类型：普通 PostgreSQL（原生分区）" in text
    assert "待应用：无" in text


# -- inserts ----------------------------------------------------------------


async def test_inserts_into_every_timeseries_table_store_duplicates_once(store: Store) -> None:
    elevator, station, filling = new_id("el"), new_id("st"), new_id("fi")
    start = floor_hour(datetime.now(UTC)) - timedelta(hours=5)
    samples = [Sample(elevator, start + timedelta(seconds=10 * i), trips=i) for i in range(450)]
    events = [(elevator, start + timedelta(minutes=i), "door_lock_fault") for i in range(30)]
    async with connect(store.dsn) as conn:
        assert await insert_status(conn, samples) == 450
        assert await insert_status(conn, samples) == 0  # a redelivery stores nothing
        assert await insert_events(conn, events) == 30
        assert await insert_events(conn, events) == 0
        assert await insert_scale(conn, station, filling, start, 250) == 250
        assert await insert_scale(conn, station, filling, start, 250) == 0
        for _ in range(2):
            await conn.execute(
                INSERT_FILLING, (filling, station, "cyl-1", start, start + timedelta(minutes=4))
            )
        counts = await (
            await conn.execute(
                "SELECT (SELECT count(*) FROM elevator_status WHERE elevator_id = %(e)s),"
                " (SELECT count(*) FROM elevator_events WHERE elevator_id = %(e)s),"
                " (SELECT count(*) FROM scale_samples WHERE filling_id = %(f)s),"
                " (SELECT count(*) FROM fillings WHERE filling_id = %(f)s)",
                {"e": elevator, "f": filling},
            )
        ).fetchone()
    assert counts == (450, 30, 250, 1)


# -- the common queries -----------------------------------------------------


async def test_common_queries_give_the_same_answers_on_both_flavours(store: Store) -> None:
    a, b = new_id("el"), new_id("el")
    start = floor_hour(datetime.now(UTC)) - timedelta(hours=30)
    samples = [Sample(a, start + timedelta(minutes=i), floor=i % 10) for i in range(60)]
    samples += [Sample(b, start + timedelta(minutes=2 * i), floor=20 + i) for i in range(10)]
    async with connect(store.dsn) as conn:
        await insert_status(conn, samples)
        cur = await conn.execute(
            "SELECT date_bin(INTERVAL '10 minutes', ts, TIMESTAMPTZ '2000-01-01 00:00:00+00'),"
            " count(*), max(floor) FROM elevator_status"
            " WHERE elevator_id = %s AND ts >= %s AND ts < %s GROUP BY 1 ORDER BY 1",
            (a, start, start + timedelta(hours=1)),
        )
        buckets = await cur.fetchall()
        cur = await conn.execute(
            "SELECT DISTINCT ON (elevator_id) elevator_id, ts, floor FROM elevator_status"
            " WHERE elevator_id = ANY(%s) ORDER BY elevator_id, ts DESC",
            ([a, b],),
        )
        latest = {r[0]: (r[1], r[2]) for r in await cur.fetchall()}
    assert buckets == [(start + timedelta(minutes=10 * k), 10, 9) for k in range(6)]
    assert latest == {
        a: (start + timedelta(minutes=59), 9),
        b: (start + timedelta(minutes=18), 29),
    }


# -- hourly figures ---------------------------------------------------------


async def seed_hourly(conn: psycopg.AsyncConnection, elevator: str, base: datetime) -> None:
    """Two hours of samples and events, and an offline alert reaching into a
    third hour with no sample at all."""
    h0 = [
        Sample(
            elevator,
            base + timedelta(minutes=i),
            trips=100 + i // 6,
            door_cycles=200 + i // 3,
            run_s=1000 + 30 * i,
        )
        for i in range(60)
    ]
    h1 = [
        Sample(
            elevator,
            base + timedelta(hours=1, minutes=2 * i),
            trips=110 + i,
            door_cycles=220 + 2 * i,
            run_s=3000 + 60 * i,
        )
        for i in range(30)
    ]
    await insert_status(conn, h0 + h1)
    await insert_events(
        conn,
        [
            (elevator, base + timedelta(minutes=5), "door_lock_fault"),
            (elevator, base + timedelta(minutes=6), "alarm_test"),  # not a fault
            (elevator, base + timedelta(minutes=7), "power_loss"),
            (elevator, base + timedelta(hours=1, minutes=1), "power_restored"),  # not a fault
            (elevator, base + timedelta(hours=1, minutes=9), "overspeed"),
        ],
    )
    await conn.execute(
        INSERT_OFFLINE_ALERT,
        {
            "id": new_id("al"),
            "key": f"terminal_offline:{elevator}",
            "eq": elevator,
            "start": base + timedelta(hours=1, minutes=30),
            "end": base + timedelta(hours=2, minutes=15),
        },
    )


HOURLY = """
SELECT bucket, samples, trips, door_cycles, run_s, faults, offline_minutes
FROM elevator_hourly WHERE elevator_id = %s ORDER BY bucket
"""


async def test_hourly_figures_after_refresh(store: Store) -> None:
    elevator = new_id("el")
    base = floor_hour(datetime.now(UTC)) - timedelta(hours=26)
    async with connect(store.dsn) as conn:
        await seed_hourly(conn, elevator, base)
        await refresh_hourly(
            conn, store.flavour, base - timedelta(hours=1), base + timedelta(hours=4)
        )
        rows = await (await conn.execute(HOURLY, (elevator,))).fetchall()
        assert rows == [
            (base, 60, 9, 19, 1770, 2, 0.0),
            (base + timedelta(hours=1), 30, 29, 58, 1740, 1, 30.0),
            (base + timedelta(hours=2), 0, 0, 0, 0, 0, 15.0),
        ]
        # A late sample and a late fault in the first hour count after the next refresh.
        await insert_status(
            conn,
            [
                Sample(
                    elevator,
                    base - timedelta(seconds=1) + timedelta(hours=1),
                    trips=112,
                    door_cycles=221,
                    run_s=2800,
                )
            ],
        )
        await insert_events(conn, [(elevator, base + timedelta(minutes=50), "overspeed")])
        await refresh_hourly(conn, store.flavour, base, base + timedelta(hours=1))
        rows = await (await conn.execute(HOURLY, (elevator,))).fetchall()
    assert rows[0] == (base, 61, 12, 21, 1800, 3, 0.0)


async def test_maintenance_loop_refreshes_the_hourly_figures(store: Store) -> None:
    elevator = new_id("el")
    base = floor_hour(datetime.now(UTC)) - timedelta(hours=6)
    async with connect(store.dsn) as conn:
        await seed_hourly(conn, elevator, base)
    # No connection held while the loop runs: PGlite serves one at a time.
    done: asyncio.Queue[datetime] = asyncio.Queue()
    settings = Settings(database_url=store.dsn)
    loops = [
        asyncio.create_task(
            maintenance_loop(settings, store.flavour, interval_s=0.2, rounds_done=done)
        )
        for _ in range(2 if store.flavour == "postgres" else 1)
    ]
    try:
        await asyncio.wait_for(done.get(), 30)
    finally:
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
    for task in loops:
        assert task.cancelled()  # the loops were running, not failed
    async with connect(store.dsn) as conn:
        table = sql.Identifier("elevator_hourly_rollup")
        if store.flavour == "timescale":
            row = await (
                await conn.execute(
                    "SELECT materialization_hypertable_schema, materialization_hypertable_name"
                    " FROM timescaledb_information.continuous_aggregates"
                    " WHERE view_name = 'elevator_hourly_status'"
                )
            ).fetchone()
            assert row is not None
            table = sql.Identifier(row[0], row[1])
        query = sql.SQL("SELECT count(*) FROM {} WHERE elevator_id = %s").format(table)
        cur = await conn.execute(query, (elevator,))
        assert await cur.fetchone() == (2,)  # both hours materialised by the loop


# -- plain PostgreSQL: partitions -------------------------------------------


async def partitions(conn: psycopg.AsyncConnection, parent: str) -> set[str]:
    cur = await conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s",
        (parent,),
    )
    return {r[0] for r in await cur.fetchall()}


def day_name(parent: str, d: date) -> str:
    return f"{parent}_p{d:%Y%m%d}"


async def test_postgres_partitions_ahead_retention_and_default(fresh_database_url: str) -> None:
    settings = Settings(database_url=fresh_database_url)
    now = datetime.now(UTC)
    today = now.date()
    old = today - timedelta(days=500)
    async with connect(fresh_database_url) as conn:
        # Made ahead for every time-series table.
        for parent in ("elevator_status", "elevator_events", "scale_samples"):
            have = await partitions(conn, parent)
            ahead = settings.storage.partitions_ahead_days
            wanted = {day_name(parent, today + timedelta(days=k)) for k in range(ahead + 1)}
            assert wanted <= have, wanted - have
            assert f"{parent}_default" in have
        # A row far outside the partitions lands in the default partition.
        elevator = new_id("el")
        far_future = now + timedelta(days=900)
        await insert_status(conn, [Sample(elevator, far_future), Sample(elevator, now)])
        where = (
            "SELECT tableoid::regclass::text FROM elevator_status"
            " WHERE elevator_id = %s ORDER BY ts"
        )
        cur = await conn.execute(where, (elevator,))
        assert [r[0] for r in await cur.fetchall()] == [
            day_name("elevator_status", today),
            "elevator_status_default",
        ]
        # Rows past retention: one in an old day partition, one in the default.
        await conn.execute(
            "SELECT semon_ensure_partitions('elevator_status', %s, %s)",
            (old, old + timedelta(days=1)),
        )
        in_old_partition = datetime.combine(old, datetime.min.time(), UTC) + timedelta(hours=3)
        in_default = now - timedelta(days=600)
        await insert_status(
            conn, [Sample(elevator, in_old_partition), Sample(elevator, in_default)]
        )
        cur = await conn.execute(where, (elevator,))
        assert [r[0] for r in await cur.fetchall()][:2] == [
            "elevator_status_default",
            day_name("elevator_status", old),
        ]
        assert await apply_policies(conn, "postgres", settings.storage)
        have = await partitions(conn, "elevator_status")
        assert day_name("elevator_status", old) not in have
        assert day_name("elevator_status", old + timedelta(days=1)) not in have
        assert day_name("elevator_status", today) in have
        cur = await conn.execute(
            "SELECT ts FROM elevator_status WHERE elevator_id = %s ORDER BY ts", (elevator,)
        )
        assert [r[0] for r in await cur.fetchall()] == [now, far_future]


async def test_postgres_partitions_are_utc_days_whatever_the_session_timezone(
    fresh_database_url: str,
) -> None:
    day = datetime.now(UTC).date() + timedelta(days=40)  # not made yet
    async with await psycopg.AsyncConnection.connect(
        fresh_database_url, autocommit=True, options="-c TimeZone=Asia/Shanghai"
    ) as conn:
        await conn.execute("SELECT semon_ensure_partitions('elevator_status', %s, %s)", (day, day))
        elevator = new_id("el")
        midnight = datetime.combine(day, datetime.min.time(), UTC)
        await insert_status(
            conn,
            [
                Sample(elevator, midnight + timedelta(minutes=30)),
                Sample(elevator, midnight + timedelta(hours=23, minutes=30)),
            ],
        )
        cur = await conn.execute(
            "SELECT tableoid::regclass::text FROM elevator_status WHERE elevator_id = %s",
            (elevator,),
        )
        assert {r[0] for r in await cur.fetchall()} == {day_name("elevator_status", day)}
