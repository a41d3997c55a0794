"""IoT coverage on the TimescaleDB flavour (status samples in a hypertable):
each lift's last-seen time kept as ingest's write path keeps it, and the
coverage figure reading it, probing the samples only for a lift heard from
after the moment judged."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

from semon.store.coverage import coverage
from semon.store.last_seen import note_last_seen


async def test_iot_coverage_on_a_hypertable(timescale_url: str) -> None:
    tag = uuid.uuid4().hex[:6]
    district = f"D{tag}"
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    heard = {
        f"E{tag}0": [at - timedelta(hours=2)],  # in the day before `at`
        f"E{tag}1": [at - timedelta(hours=30)],  # before it
        f"E{tag}2": [at - timedelta(hours=1), at + timedelta(hours=5)],  # in it, and since
        f"E{tag}3": [at + timedelta(hours=1)],  # only since
    }
    with psycopg.connect(timescale_url) as conn:
        for i in range(5):
            conn.execute(
                "INSERT INTO elevators (elevator_id, address, district, use_unit, installed_on)"
                " VALUES (%s, 'a', %s, 'u', '2015-01-01')",
                (f"E{tag}{i}", district),
            )
        for eid, times in heard.items():
            for ts in times:  # one batch each, in the order heard
                # as write_rows stores a batch (PGlite has no COPY), then its
                # lifts' last-seen times
                conn.execute(
                    "INSERT INTO elevator_status (elevator_id, ts, floor, speed, direction,"
                    " door, door_zone, mode, alarm, power, received_at) VALUES"
                    " (%s, %s, 1, 0, 'stopped', 'closed', true, 'normal', false, 'mains', %s)",
                    (eid, ts, ts),
                )
                note_last_seen(conn, [(eid, ts)])
                conn.commit()
        seen = dict(
            conn.execute(
                "SELECT elevator_id, ts FROM elevator_last_seen WHERE elevator_id LIKE %s",
                (f"E{tag}%",),
            ).fetchall()
        )
    assert seen == {eid: max(times) for eid, times in heard.items()}
    async with await psycopg.AsyncConnection.connect(timescale_url, autocommit=True) as conn:
        scope = (sql.SQL("e.district = %(d)s"), {"d": district})
        judged = await coverage(
            conn, metric="iot", equipment="elevator", group_by="district", at=at, scope=scope
        )
        now = await coverage(
            conn,
            metric="iot",
            equipment="elevator",
            group_by="district",
            at=at + timedelta(hours=6),
            scope=scope,
        )
    assert judged["overall"] == {"total": 5, "covered": 2, "rate": 0.4}  # E0, E2
    assert now["overall"] == {"total": 5, "covered": 3, "rate": 0.6}  # E0, E2, E3
