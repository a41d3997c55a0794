"""Issue 13 item 6: during a database outage ingest holds what it has not
committed; with large payloads that was receive_maximum x 1 MB. It is now
bounded in bytes too (ingest.max_pending_bytes, exported as a gauge), and
nothing is lost once the database is back."""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import psutil
import psycopg
import pytest

from semon.embedded import EmbeddedPostgres
from semon.settings import Settings
from semon.store.commands import migrate_database
from tests.ingest.support import count, publish, spawn_ingest, wait_until
from tests.support import services

BOUND = 4 * 2**20
BIG = 600_000  # bytes of each message's data
N = 200  # 120 MB in all


def gauge(metrics_url: str, name: str) -> float | None:
    for line in httpx.get(metrics_url, timeout=2).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


@pytest.mark.slow
async def test_outage_with_large_payloads_holds_at_most_the_byte_bound(
    settings: Settings, tmp_path: Path
) -> None:
    s = settings
    pg = EmbeddedPostgres(
        Path(tempfile.mkdtemp(prefix="semon-bytes-")) / "pgdata", port=services.free_port()
    )
    await asyncio.to_thread(pg.start)
    try:
        with psycopg.connect(pg.dsn("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE outage")
        s.database_url = pg.dsn("outage")
        await migrate_database(s.database_url, Settings(database_url=s.database_url))
        with services.mosquitto() as (url, _broker):
            s.mqtt_url = url
            port = services.free_port()
            metrics = f"http://127.0.0.1:{port}/metrics"
            proc = spawn_ingest(
                s,
                tmp_path / "ingest.log",
                SEMON_INGEST__RECEIVE_MAXIMUM="1000",
                SEMON_INGEST__MAX_PENDING_BYTES=str(BOUND),
                SEMON_INGEST__METRICS_PORT=str(port),
            )
            try:
                root = s.mqtt.topic_root
                t0 = datetime.now(UTC) - timedelta(minutes=10)

                def event(i: int) -> tuple[str, bytes]:
                    body = {
                        "ts": (t0 + timedelta(milliseconds=i)).isoformat(),
                        "code": "overspeed",
                        "data": {"blob": "x" * BIG},
                    }
                    return f"{root}/elevators/BIG-{i % 10}/event", orjson.dumps(body)

                await publish(url, [event(0)])
                sql = "SELECT count(DISTINCT (elevator_id, ts, code)) FROM elevator_events"
                await wait_until(lambda: _at_least(s.database_url, sql, 1), 30, "first event")
                assert gauge(metrics, "semon_ingest_pending_bytes_limit") == BOUND
                rss0 = psutil.Process(proc.pid).memory_info().rss
                await asyncio.to_thread(pg.stop)
                held: list[float] = []
                rss: list[int] = []
                publisher = asyncio.create_task(publish(url, [event(i) for i in range(1, N)]))
                deadline = time.monotonic() + 60
                while not publisher.done() or len(held) < 20:
                    assert time.monotonic() < deadline
                    held.append(gauge(metrics, "semon_ingest_pending_bytes") or 0.0)
                    rss.append(psutil.Process(proc.pid).memory_info().rss)
                    await asyncio.sleep(0.2)
                await publisher
                assert proc.poll() is None
                # At most the bound plus what was already read from the
                # socket when reading paused (the message that filled it and
                # the read buffer's: a few of these large ones).
                assert max(held) <= BOUND + 3 * (BIG + 1000), max(held)
                assert max(held) > 0
                # ... and memory with it (120 MB were sent; decoded rows
                # and buffers cost a small multiple of the payload bytes)
                grew = (max(rss) - rss0) / 2**20
                print(f"held at most {max(held) / 2**20:.1f} MiB; RSS grew by {grew:.0f} MB")
                assert grew < 50, f"RSS grew by {grew:.0f} MB during the outage"
                await asyncio.to_thread(pg.start)
                await wait_until(lambda: _at_least(s.database_url, sql, N), 90, "all events")
                assert await count(s.database_url, sql) == N
                assert await count(s.database_url, "SELECT count(*) FROM elevator_events") == N
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(10)
    finally:
        await asyncio.to_thread(pg.stop)


async def _at_least(dsn: str, sql: str, n: int) -> bool:
    return await count(dsn, sql) >= n
