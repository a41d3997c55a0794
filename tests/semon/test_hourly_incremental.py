"""Plain PostgreSQL: the hourly roll-up folds in what each insert appended
(0025) and comes out the same as a full recomputation from the raw rows,
after batches that span hours, redeliveries, late samples and faults."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg

from semon.domain.decode import decode
from semon.store.telemetry import Rows, prepare_staging, write_rows

ROOT = "se/v1"

# The roll-up's figures computed now from the raw rows (0007's definitions).
FULL = """
SELECT coalesce(s.bucket, f.bucket), coalesce(s.elevator_id, f.elevator_id),
       coalesce(s.samples, 0), s.trips, s.door_cycles, s.run_s, coalesce(f.faults, 0)
FROM (
    SELECT date_bin('1 hour', ts, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket, elevator_id,
           count(*) AS samples, max(trips) - min(trips) AS trips,
           max(door_cycles) - min(door_cycles) AS door_cycles, max(run_s) - min(run_s) AS run_s
    FROM elevator_status GROUP BY 1, 2
) s
FULL JOIN (
    SELECT date_bin('1 hour', ts, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket, elevator_id,
           count(*) AS faults
    FROM elevator_events WHERE code NOT IN ('alarm_test', 'power_restored') GROUP BY 1, 2
) f ON f.bucket = s.bucket AND f.elevator_id = s.elevator_id
ORDER BY 2, 1
"""
ROLLUP = """
SELECT bucket, elevator_id, samples, trips, door_cycles, run_s, faults
FROM elevator_hourly_rollup ORDER BY 2, 1
"""


def write(conn: psycopg.Connection[Any], messages: list[tuple[str, dict[str, Any]]]) -> None:
    """As ingest writes a batch (COPY, staging, ON CONFLICT DO NOTHING)."""
    now = datetime.now(UTC)
    rows = Rows()
    for topic, body in messages:
        got = decode(
            topic,
            orjson.dumps(body),
            root=ROOT,
            now=now,
            max_bytes=1 << 20,
            future_tolerance_s=300,
        )
        rows.add(got, now)
    write_rows(conn, rows)
    conn.commit()


def status(eid: str, ts: datetime, n: int) -> tuple[str, dict[str, Any]]:
    return (
        f"{ROOT}/elevators/{eid}/status",
        {
            "ts": ts.isoformat(),
            "floor": 1,
            "speed": 0.0,
            "direction": "stopped",
            "door": "closed",
            "door_zone": True,
            "trips": 1000 + n,
            "door_cycles": 2000 + 2 * n,
            "run_s": 30 * n,
        },
    )


def event(eid: str, ts: datetime, code: str) -> tuple[str, dict[str, Any]]:
    return f"{ROOT}/elevators/{eid}/event", {"ts": ts.isoformat(), "code": code}


def test_incremental_rollup_equals_a_full_recomputation(fresh_database_url: str) -> None:
    rng = random.Random(7)
    now = datetime.now(UTC).replace(microsecond=0)
    cars = [f"EL-{i}" for i in range(6)]
    with psycopg.connect(fresh_database_url) as conn:
        prepare_staging(conn)

        def merge() -> None:
            conn.execute("SELECT semon_merge_hourly()")
            conn.commit()

        def same() -> None:
            full = conn.execute(FULL).fetchall()
            assert full  # something to compare
            assert conn.execute(ROLLUP).fetchall() == full

        sent: list[tuple[str, dict[str, Any]]] = []
        # live samples across the last hours, in batches like ingest's
        for batch in range(6):
            msgs = [
                status(c, now - timedelta(minutes=rng.randrange(0, 180), seconds=batch), n)
                for n, c in enumerate(rng.choices(cars, k=200))
            ]
            msgs += [event(rng.choice(cars), now - timedelta(minutes=batch), "overspeed")]
            msgs += [event(rng.choice(cars), now - timedelta(minutes=batch), "alarm_test")]
            write(conn, msgs)
            sent += msgs
            if batch % 2:
                merge()
                same()
        # redeliveries: the same rows again change nothing
        write(conn, rng.sample(sent, 150))
        # late samples into hours already rolled up, with counters beyond
        # their min and max, and a late fault, two days back
        write(
            conn,
            [status("EL-0", now - timedelta(hours=2, minutes=m), 5000 + m) for m in range(5)]
            + [status("EL-9", now - timedelta(days=2), 1)]
            + [event("EL-1", now - timedelta(days=2, minutes=3), "door_lock_fault")],
        )
        merge()
        same()
        # an explicit recomputation of a range (a repair) keeps them equal,
        # with deltas of those hours pending when it runs
        write(conn, [status("EL-2", now - timedelta(hours=1, seconds=1), 99)])
        conn.execute("SELECT semon_refresh_hourly(%s, %s)", (now - timedelta(hours=3), now))
        conn.commit()
        write(conn, [status("EL-3", now - timedelta(hours=1, seconds=2), 98)])
        merge()
        same()
        pending = conn.execute("SELECT count(*) FROM elevator_hourly_delta").fetchone()
        assert pending == (0,)
