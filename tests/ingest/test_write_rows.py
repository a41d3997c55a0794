"""The write path on its own, against real PostgreSQL: status samples COPY
straight into their table, and a batch that meets rows already stored (or
repeats itself) falls back to staging without losing or doubling a row;
dead letters are kept once per topic and bytes, however often received."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson
import psycopg
import pytest
from prometheus_client import REGISTRY
from psycopg import sql

from ingest.pipeline import Batch, Pipeline
from semon.domain.decode import Decoded, Rejection, decode
from semon.settings import Settings
from semon.store.migrate import migrate, migrations_for
from semon.store.telemetry import Rows, prepare_staging, write_rows
from tests.support import services

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
T0 = int((NOW - timedelta(minutes=10)).timestamp() * 1000)


@pytest.fixture
def conn(fresh_database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(fresh_database_url) as c:
        prepare_staging(c)
        yield c


def status_message(eid: str, offset: int) -> tuple[str, bytes]:
    """One status sample of elevator `eid`, `offset` ms after T0."""
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
    return f"se/v1/elevators/{eid}/status", payload


def batch(*messages: tuple[str, int]) -> Rows:
    """Rows of status samples, one message per (elevator, ms offset)."""
    rows = Rows()
    for eid, offset in messages:
        out = decode(*status_message(eid, offset), root="se/v1", now=NOW)
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


def rejected(topic: str, payload: bytes, at: datetime = NOW) -> Rows:
    rows = Rows()
    out = decode(topic, payload, root="se/v1", now=at)
    assert isinstance(out, Rejection), out
    rows.add(out, at)
    return rows


def dead_letters(conn: psycopg.Connection) -> list[tuple[str, bytes, str]]:
    return [
        (topic, bytes(payload), reason)
        for topic, payload, reason in conn.execute(
            "SELECT topic, payload, reason FROM dead_letters ORDER BY id"
        ).fetchall()
    ]


def test_a_rejection_written_twice_is_kept_once(conn: psycopg.Connection) -> None:
    """A redelivered bad message (the same topic and bytes, in a later batch
    after a crash) is kept once and reported as a duplicate; the same bytes
    on another topic are another dead letter."""
    topic = "se/v1/elevators/E9/status"
    first = write_rows(conn, rejected(topic, b"floor=7"))
    conn.commit()
    assert first.staged["dead_letters"] == first.inserted["dead_letters"] == 1

    again = rejected(topic, b"floor=7", NOW + timedelta(minutes=1))
    again.add_dead(NOW, "se/v1/elevators/E8/status", b"floor=7", "not_json", "payload is not JSON")
    out = write_rows(conn, again)
    conn.commit()
    assert out.staged["dead_letters"] == 2
    assert out.inserted["dead_letters"] == 1
    assert out.duplicates("dead_letters") == 1
    assert dead_letters(conn) == [
        (topic, b"floor=7", "not_json"),
        ("se/v1/elevators/E8/status", b"floor=7", "not_json"),
    ]
    # The first receipt is the one kept.
    kept = conn.execute("SELECT received_at FROM dead_letters WHERE topic = %s", (topic,))
    assert kept.fetchall() == [(NOW,)]


def test_a_rejection_repeated_inside_one_batch_is_kept_once(conn: psycopg.Connection) -> None:
    rows = rejected("se/v1/elevators/E9/status", b"[1]")
    rows.dead.extend(rejected("se/v1/elevators/E9/status", b"[1]").dead)
    out = write_rows(conn, rows)
    conn.commit()
    assert (out.staged["dead_letters"], out.inserted["dead_letters"]) == (2, 1)
    assert dead_letters(conn) == [("se/v1/elevators/E9/status", b"[1]", "not_object")]


def test_the_digest_is_the_one_migration_0014_backfilled(conn: psycopg.Connection) -> None:
    """Python's digest and the SQL one agree, non-ASCII topics and NULs included:
    a row backfilled by the migration and its redelivery meet on the index."""
    rows = rejected("se/v1/elevators/Ä-1/status", b"\x00\xff not json")
    rows.add_dead(NOW, "se/v1/elevators/E\x00/status", b"", "bad_identifier", "x\x00")
    write_rows(conn, rows)
    conn.commit()
    checked = conn.execute(
        "SELECT digest = sha256(convert_to(topic, 'UTF8') || '\\x00'::bytea || payload)"
        " FROM dead_letters"
    ).fetchall()
    assert checked == [(True,), (True,)]


async def test_migration_0014_backfills_and_keeps_the_first_of_each(pg_admin_dsn: str) -> None:
    """Dead letters kept twice before 0014 (a redelivery) are cut to the
    first receipt, and the digest then refuses a third."""
    with services.fresh_database(pg_admin_dsn) as dsn:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            # The schema as it was before 0014, recorded as applied.
            await conn.execute(
                "CREATE TABLE schema_migrations (version integer PRIMARY KEY,"
                " name text NOT NULL, flavour text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            for m in migrations_for("postgres"):
                if m.version < 14:
                    await conn.execute(sql.SQL(m.sql))
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name, flavour)"
                        " VALUES (%s, %s, 'postgres')",
                        (m.version, m.name),
                    )
            await conn.execute(
                "INSERT INTO dead_letters (received_at, topic, payload, reason, detail) VALUES"
                " (%(t)s, 'se/v1/elevators/E1/status', 'x', 'not_json', 'first'),"
                " (%(t)s + '1 min', 'se/v1/elevators/E1/status', 'x', 'not_json', 'again'),"
                " (%(t)s, 'se/v1/elevators/E2/status', 'x', 'not_json', 'other topic'),"
                " (%(t)s + '2 min', 'se/v1/elevators/E1/status', 'x', 'not_json', 'again')",
                {"t": NOW},
            )
            flavour, applied = await migrate(conn)
            assert (flavour, applied[:1]) == ("postgres", [14])
            cur = await conn.execute("SELECT id, detail FROM dead_letters ORDER BY id")
            assert await cur.fetchall() == [(1, "first"), (3, "other topic")]
        with psycopg.connect(dsn) as sync:
            prepare_staging(sync)
            out = write_rows(sync, rejected("se/v1/elevators/E1/status", b"x"))
            sync.commit()
            assert out.duplicates("dead_letters") == 1
            assert sync.execute("SELECT count(*) FROM dead_letters").fetchone() == (2,)


async def test_the_one_by_one_fallback_dead_letters_a_refused_message_once(
    settings: Settings, fresh_database_url: str
) -> None:
    """A message that passed validation but that the database refuses (here a
    CHECK constraint this database has and the validators know nothing of)
    makes its batch go one message at a time, each decoded again from its
    bytes: the culprit is dead-lettered, its neighbour stored. Received again
    in a later batch it stays one row, but is counted as rejected each time."""
    settings.database_url = fresh_database_url
    settings.mqtt.topic_root = "se/v1"  # the pipeline decodes the messages again
    with psycopg.connect(fresh_database_url) as conn:
        conn.execute("ALTER TABLE elevator_events ADD CONSTRAINT no_e7 CHECK (elevator_id <> 'E7')")
    topic = "se/v1/elevators/E7/event"
    payload = b'{"ts": "2026-11-21T12:00:00Z", "code": "trapped"}'
    pipeline = Pipeline(settings)
    try:
        for n in range(2):
            b = Batch()
            for t, raw in ((topic, payload), status_message("E1", n)):
                message = decode(t, raw, root="se/v1", now=NOW)
                assert isinstance(message, Decoded)
                b.items.append((t, raw, NOW))
                b.rows.add(message, NOW)
                b.messages += 1
            counted = _sample("semon_ingest_messages_rejected_total", reason="invalid")
            dropped = _sample("semon_ingest_duplicates_dropped_total", table="dead_letters")
            await pipeline._write(b)
            after = _sample("semon_ingest_messages_rejected_total", reason="invalid")
            assert after == counted + 1
            after = _sample("semon_ingest_duplicates_dropped_total", table="dead_letters")
            assert after == dropped + n
    finally:
        await asyncio.wrap_future(pipeline._thread.submit(pipeline._drop_connection))
        pipeline._thread.shutdown()
    with psycopg.connect(fresh_database_url) as conn:
        assert [row[:2] for row in dead_letters(conn)] == [(topic, payload)]
        detail = conn.execute("SELECT detail FROM dead_letters").fetchone()
        assert detail is not None and detail[0].startswith("refused by the database")
        assert len(stored(conn)) == 2


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0
