"""What only the TimescaleDB flavour has: hypertables, compression by
equipment id, retention and compression policies that follow the settings,
the continuous aggregates behind `elevator_hourly`. Against a real
TimescaleDB (PGlite + TimescaleDB 2.23 from npm), one connection at a time.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import psycopg

from semon.settings import Settings, StorageSettings
from semon.store.maintenance import apply_policies
from semon.store.migrate import detect_flavour

TIMESERIES = {"elevator_status", "elevator_events", "scale_samples"}


@asynccontextmanager
async def connect(dsn: str) -> AsyncIterator[psycopg.AsyncConnection]:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        yield conn


async def policies(
    conn: psycopg.AsyncConnection, proc: str, key: str
) -> dict[str, tuple[int, str]]:
    cur = await conn.execute(
        "SELECT hypertable_name, job_id, (config ->> %s)::interval::text"
        " FROM timescaledb_information.jobs WHERE proc_name = %s",
        (key, proc),
    )
    return {r[0]: (r[1], r[2]) for r in await cur.fetchall()}


async def test_migrations_created_the_extension_and_hypertables(timescale_url: str) -> None:
    # The fixture's server started without the extension created: the
    # migration runner detected TimescaleDB and created it.
    async with connect(timescale_url) as conn:
        cur = await conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
        )
        row = await cur.fetchone()
        assert row is not None and row[0].startswith("2.")
        cur = await conn.execute(
            "SELECT hypertable_name FROM timescaledb_information.hypertables"
            " WHERE hypertable_schema = 'public'"
        )
        assert {r[0] for r in await cur.fetchall()} >= TIMESERIES
        # (PGlite resets search_path to pg_catalog on DISCARD ALL; server.mjs
        # puts 'public' back, or the schema would land in pg_catalog.)
        cur = await conn.execute("SELECT to_regclass('public.schema_migrations') IS NOT NULL")
        assert await cur.fetchone() == (True,)
        assert await detect_flavour(conn) == "timescale"


async def test_detection_finds_plain_postgres_on_the_machine_server(
    fresh_database_url: str,
) -> None:
    async with connect(fresh_database_url) as conn:
        assert await detect_flavour(conn) == "postgres"


async def test_compression_segments_by_equipment_id(timescale_url: str) -> None:
    async with connect(timescale_url) as conn:
        cur = await conn.execute(
            "SELECT hypertable_name, attname FROM timescaledb_information.compression_settings"
            " WHERE segmentby_column_index IS NOT NULL"
        )
        segment = {r[0]: r[1] for r in await cur.fetchall()}
    assert segment["elevator_status"] == "elevator_id"
    assert segment["elevator_events"] == "elevator_id"
    assert segment["scale_samples"] == "station_id"


async def test_policies_follow_the_settings_and_are_reapplied_idempotently(
    timescale_url: str,
) -> None:
    default = Settings(database_url=timescale_url).storage
    async with connect(timescale_url) as conn:
        retention = await policies(conn, "policy_retention", "drop_after")
        compression = await policies(conn, "policy_compression", "compress_after")
        assert set(retention) == TIMESERIES and set(compression) == TIMESERIES
        assert {v[1] for v in retention.values()} == {f"{default.retention_days} days"}
        assert {v[1] for v in compression.values()} == {f"{default.compress_after_days} days"}

        # Unchanged settings: the same jobs stay (no churn of job ids).
        assert await apply_policies(conn, "timescale", default)
        assert await policies(conn, "policy_retention", "drop_after") == retention
        assert await policies(conn, "policy_compression", "compress_after") == compression

        changed = StorageSettings(retention_days=30, compress_after_days=2)
        try:
            assert await apply_policies(conn, "timescale", changed)
            now_retention = await policies(conn, "policy_retention", "drop_after")
            now_compression = await policies(conn, "policy_compression", "compress_after")
            assert {v[1] for v in now_retention.values()} == {"30 days"}
            assert {v[1] for v in now_compression.values()} == {"2 days"}
        finally:
            assert await apply_policies(conn, "timescale", default)
        back = await policies(conn, "policy_retention", "drop_after")
        assert {v[1] for v in back.values()} == {f"{default.retention_days} days"}


async def test_continuous_aggregates_and_their_refresh_policies_exist(timescale_url: str) -> None:
    async with connect(timescale_url) as conn:
        cur = await conn.execute(
            "SELECT view_name, materialized_only FROM timescaledb_information.continuous_aggregates"
        )
        caggs = dict(await cur.fetchall())
        assert caggs == {"elevator_hourly_status": False, "elevator_hourly_faults": False}
        cur = await conn.execute(
            # jobs names the continuous aggregate a refresh policy serves
            "SELECT hypertable_name FROM timescaledb_information.jobs"
            " WHERE proc_name = 'policy_refresh_continuous_aggregate'"
        )
        assert {r[0] for r in await cur.fetchall()} == set(caggs)
        cur = await conn.execute(
            "SELECT table_type FROM information_schema.tables WHERE table_name = 'elevator_hourly'"
        )
        assert await cur.fetchone() == ("VIEW",)


async def test_compressed_chunks_still_take_inserts_and_answer_queries(timescale_url: str) -> None:
    elevator = f"el-{uuid.uuid4().hex[:10]}"
    # A day of its own, far back, so compressing its chunk touches no other test.
    day = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=uuid.uuid4().int % 200)
    insert = (
        "INSERT INTO elevator_status (elevator_id, ts, floor, speed, direction, door, door_zone,"
        " mode, alarm, power, trips, received_at)"
        " SELECT %s, t, 3, 0, 'stop', 'closed', true, 'normal', false, 'on', 1, now()"
        " FROM unnest(%s::timestamptz[]) AS t ON CONFLICT DO NOTHING"
    )
    stamps = [day + timedelta(minutes=i) for i in range(100)]
    async with connect(timescale_url) as conn:
        await conn.execute(insert, (elevator, stamps))
        cur = await conn.execute(
            "SELECT compress_chunk(c, if_not_compressed => true)"
            " FROM show_chunks('elevator_status', older_than => %s::timestamptz + INTERVAL '1 day',"
            "                  newer_than => %s::timestamptz) AS c",
            (day, day),
        )
        assert len(await cur.fetchall()) == 1
        cur = await conn.execute(
            "SELECT bool_and(is_compressed) FROM timescaledb_information.chunks"
            " WHERE hypertable_name = 'elevator_status' AND range_start <= %s AND range_end > %s",
            (day, day),
        )
        assert await cur.fetchone() == (True,)
        # A redelivery into the compressed chunk is still stored once.
        cur = await conn.execute(insert, (elevator, [*stamps[:10], day + timedelta(hours=5)]))
        assert cur.rowcount == 1
        cur = await conn.execute(
            "SELECT count(*), max(ts) FROM elevator_status WHERE elevator_id = %s", (elevator,)
        )
        assert await cur.fetchone() == (101, day + timedelta(hours=5))


async def test_the_server_serves_one_client_after_another(timescale_url: str) -> None:
    # A connection's session state (prepared statements, settings) must not
    # leak into the next: PGlite is one backend shared by all clients.
    for _ in range(2):
        async with connect(timescale_url) as conn:
            await conn.execute("SET TimeZone = 'Asia/Shanghai'")
            for _ in range(7):  # past psycopg's prepare threshold (5)
                await conn.execute("SELECT %s::int", (1,))
        async with connect(timescale_url) as conn:
            cur = await conn.execute(
                "SELECT current_setting('TimeZone'), current_setting('search_path')"
            )
            row = await cur.fetchone()
            assert row is not None and row[0] != "Asia/Shanghai"
            assert row[1] == "public"
