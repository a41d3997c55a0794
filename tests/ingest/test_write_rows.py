"""The write path on its own, against real PostgreSQL: status samples COPY
straight into their table, and a batch that meets rows already stored (or
repeats itself) falls back to staging without losing or doubling a row."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson
import psycopg
import pytest

from semon.domain.decode import Decoded, decode
from semon.store.telemetry import Rows, prepare_staging, write_rows

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
T0 = int((NOW - timedelta(minutes=10)).timestamp() * 1000)


@pytest.fixture
def conn(fresh_database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(fresh_database_url) as c:
        prepare_staging(c)
        yield c


def batch(*messages: tuple[str, int]) -> Rows:
    """Rows of status samples, one message per (elevator, ms offset)."""
    rows = Rows()
    for eid, offset in messages:
        payload = orjson.dumps(
            {
                "ts": T0 + offset,
                "floor": offset % 7,
                "speed": 0.0,
                "direction": "stopped",
                "door": "closed",
                "door_zone": True,
            }
        )
        out = decode(f"se/v1/elevators/{eid}/status", payload, root="se/v1", now=NOW)
        assert isinstance(out, Decoded), out
        rows.add(out, NOW)
    return rows


def stored(conn: psycopg.Connection) -> list[tuple[str, datetime, int]]:
    return conn.execute(
        "SELECT elevator_id, ts, floor FROM elevator_status ORDER BY elevator_id, ts"
    ).fetchall()


def test_new_rows_go_straight_in_and_stored_ones_are_dropped(conn: psycopg.Connection) -> None:
    first = write_rows(conn, batch(("E1", 1), ("E1", 2), ("E2", 1)))
    conn.commit()
    assert first.staged["elevator_status"] == first.inserted["elevator_status"] == 3

    # Two already stored, one repeated inside the batch, two new.
    again = write_rows(conn, batch(("E1", 2), ("E2", 1), ("E3", 5), ("E3", 5), ("E1", 3)))
    conn.commit()
    assert again.staged["elevator_status"] == 5
    assert again.inserted["elevator_status"] == 2
    assert again.duplicates("elevator_status") == 3
    assert [(e, int(ts.timestamp() * 1000) - T0) for e, ts, _ in stored(conn)] == [
        ("E1", 1),
        ("E1", 2),
        ("E1", 3),
        ("E2", 1),
        ("E3", 5),
    ]


def test_fallback_keeps_the_rest_of_the_transaction(conn: psycopg.Connection) -> None:
    """The savepoint undoes only the failed COPY: rows written earlier in the
    same transaction survive it, and a batch's commit is still all or nothing."""
    write_rows(conn, batch(("E1", 1)))
    conn.commit()
    rows = batch(("E1", 1), ("E9", 9))
    rows.add_dead(NOW, "se/v1/elevators/E9/status", b"{", "not_json", "payload is not JSON")
    out = write_rows(conn, rows)
    assert out.inserted == {"elevator_status": 1, "dead_letters": 1}
    conn.rollback()
    assert len(stored(conn)) == 1
    assert conn.execute("SELECT count(*) FROM dead_letters").fetchone() == (0,)
    write_rows(conn, rows)
    conn.commit()
    assert len(stored(conn)) == 2
    assert conn.execute("SELECT count(*) FROM dead_letters").fetchone() == (1,)
