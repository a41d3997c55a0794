"""Each lift's last-seen time (elevator_last_seen, 0076), kept by the write
path against real PostgreSQL: moved up to a batch's newest sample when that
is a step (STEP) or more ahead, never back by a late or redelivered batch,
committed or rolled back with the samples; and the migration fills it from
the samples already stored."""

from __future__ import annotations

from datetime import timedelta

import psycopg

from semon.store.last_seen import STEP
from semon.store.migrate import migrate
from semon.store.telemetry import prepare_staging, write_rows
from tests.ingest.test_write_rows import NOW, T0, batch


def _seen(conn: psycopg.Connection) -> dict[str, int]:
    """Elevator -> its last-seen time, in ms after T0."""
    rows = conn.execute("SELECT elevator_id, ts FROM elevator_last_seen").fetchall()
    return {eid: int(ts.timestamp() * 1000) - T0 for eid, ts in rows}


def test_the_newest_sample_of_each_lift_a_step_apart(fresh_database_url: str) -> None:
    step = int(STEP.total_seconds() * 1000)
    with psycopg.connect(fresh_database_url) as conn:
        prepare_staging(conn)
        write_rows(conn, batch(("E2", 7), ("E1", 3), ("E1", 9), ("E2", 1)))
        conn.commit()
        assert _seen(conn) == {"E1": 9, "E2": 7}
        # Late samples, a redelivery and a newer sample less than a step
        # ahead move nothing; a new lift is kept at once.
        write_rows(conn, batch(("E1", 5), ("E2", 7), ("E2", 8), ("E3", 2)))
        conn.commit()
        assert _seen(conn) == {"E1": 9, "E2": 7, "E3": 2}
        # A step ahead: moved up to the batch's newest.
        write_rows(conn, batch(("E2", 7 + step), ("E2", 9 + step), ("E1", 8 + step)))
        conn.commit()
        assert _seen(conn) == {"E1": 9, "E2": 9 + step, "E3": 2}
        # Rolled back with the samples.
        write_rows(conn, batch(("E1", 9 + 2 * step)))
        conn.rollback()
        assert _seen(conn) == {"E1": 9, "E2": 9 + step, "E3": 2}


async def test_the_migration_fills_it_from_stored_samples(fresh_database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(fresh_database_url, autocommit=True) as conn:
        # Back to the schema before 0076, with samples stored then.
        await conn.execute("DROP TABLE elevator_last_seen")
        await conn.execute("DELETE FROM schema_migrations WHERE version = 76")
        for eid, minutes in (("E1", 5), ("E1", 90), ("E2", 30)):
            await conn.execute(
                "INSERT INTO elevator_status (elevator_id, ts, floor, speed, direction,"
                " door, door_zone, mode, alarm, power, received_at) VALUES"
                " (%s, %s, 1, 0, 'stopped', 'closed', true, 'normal', false, 'mains', %s)",
                (eid, NOW - timedelta(minutes=minutes), NOW),
            )
        assert (await migrate(conn))[1] == [76]
        cur = await conn.execute("SELECT elevator_id, ts FROM elevator_last_seen")
        seen = dict(await cur.fetchall())
    assert seen == {"E1": NOW - timedelta(minutes=5), "E2": NOW - timedelta(minutes=30)}
