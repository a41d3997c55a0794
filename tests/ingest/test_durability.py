"""No loss, no duplicates: kill -9, SIGTERM, a database outage, a broker
restart, redelivery in any order, two workers sharing a subscription.

"Loss" is a message the broker acknowledged to its publisher (`publish`
waits for that) that never reaches the database.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import psutil
import psycopg
import pytest
from prometheus_client import REGISTRY

from ingest import metrics
from semon import mqtt
from semon.embedded import EmbeddedPostgres
from semon.settings import Settings
from semon.store.commands import migrate_database
from tests.ingest.support import (
    count,
    publish,
    publish_on,
    running_ingest,
    spawn_ingest,
    status_messages,
    wait_until,
)
from tests.semon.test_contract_examples import example_payload
from tests.support import services


def broker_dir() -> Path:
    """A persistence directory Mosquitto can write to: run as root it drops to
    the `mosquitto` user, which cannot enter pytest's 0700 tmp_path (the broker
    would then silently keep nothing across a restart)."""
    path = Path(tempfile.mkdtemp(prefix="semon-mq-data-"))
    path.chmod(0o777)
    return path


@pytest.fixture
def private_broker() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    with services.mosquitto(data_dir=broker_dir()) as (url, proc):
        yield url, proc


@pytest.fixture
def load_settings(
    settings: Settings, fresh_database_url: str, private_broker: tuple[str, subprocess.Popen[bytes]]
) -> Settings:
    settings.database_url = fresh_database_url
    settings.mqtt_url = private_broker[0]
    settings.ingest.maintenance_interval_s = 0
    return settings


async def _exactly(dsn: str, n: int) -> None:
    await wait_until(lambda: _at_least(dsn, n), 90, f"{n} rows stored")
    assert await count(dsn) == n
    distinct = await count(dsn, "SELECT count(DISTINCT (elevator_id, ts)) FROM elevator_status")
    assert distinct == n


async def _at_least(dsn: str, n: int) -> bool:
    return await count(dsn) >= n


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


@pytest.mark.slow
async def test_kill_9_mid_stream_loses_and_duplicates_nothing(
    load_settings: Settings, tmp_path: Path
) -> None:
    s = load_settings
    n = 20000
    messages = status_messages(s.mqtt.topic_root, n)
    log = tmp_path / "ingest.log"
    proc = spawn_ingest(s, log)
    try:
        publisher = asyncio.create_task(publish(s.mqtt_url, messages))
        await wait_until(lambda: _at_least(s.database_url, n // 5), 60, "some rows stored")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        killed_at = await count(s.database_url)
        assert killed_at < n, "the kill came too late to prove anything"
        await publisher  # the broker owns every message from here on
        proc = spawn_ingest(s, log)
        await _exactly(s.database_url, n)
    finally:
        _stop(proc)


@pytest.mark.slow
async def test_sigterm_flushes_and_exits_within_10s(
    load_settings: Settings, tmp_path: Path
) -> None:
    s = load_settings
    n = 10000
    log = tmp_path / "ingest.log"
    proc = spawn_ingest(s, log)
    try:
        publisher = asyncio.create_task(publish(s.mqtt_url, status_messages(s.mqtt.topic_root, n)))
        await wait_until(lambda: _at_least(s.database_url, n // 5), 60, "some rows stored")
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rc = await asyncio.to_thread(proc.wait, 15)
        assert time.monotonic() - started < 10
        assert rc == 0, log.read_text()[-2000:]
        assert "SIGTERM: flushing" in log.read_text()
        await publisher
        proc = spawn_ingest(s, log)
        await _exactly(s.database_url, n)
    finally:
        _stop(proc)


@pytest.mark.slow
async def test_broker_restart_while_running(
    settings: Settings, fresh_database_url: str, tmp_path: Path
) -> None:
    s = settings
    s.database_url = fresh_database_url
    s.ingest.maintenance_interval_s = 0
    s.mqtt.reconnect_min_s = 0.2
    s.mqtt.reconnect_max_s = 2.0
    port = services.free_port()
    messages = status_messages(s.mqtt.topic_root, 4000)
    data = broker_dir()
    with services.mosquitto(port=port, data_dir=data) as (url, proc):
        s.mqtt_url = url
        async with running_ingest(s) as task:
            await publish(url, messages[:2000])
            await _exactly(s.database_url, 2000)
            proc.terminate()
            proc.wait(10)
            await asyncio.sleep(1.0)  # the worker is now retrying with backoff
            with services.mosquitto(port=port, data_dir=data) as (url2, _):
                await publish(url2, messages[2000:])
                await _exactly(s.database_url, 4000)
                assert not task.done()


@pytest.mark.slow
async def test_postgres_outage_under_load(
    settings: Settings, tmp_path: Path, private_broker: tuple[str, subprocess.Popen[bytes]]
) -> None:
    s = settings
    pg = EmbeddedPostgres(
        Path(tempfile.mkdtemp(prefix="semon-outage-")) / "pgdata", port=services.free_port()
    )
    await asyncio.to_thread(pg.start)
    try:
        with psycopg.connect(pg.dsn("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE outage")
        s.database_url = pg.dsn("outage")
        await migrate_database(s.database_url, Settings(database_url=s.database_url))
        s.mqtt_url = private_broker[0]
        n = 30000
        messages = status_messages(s.mqtt.topic_root, n)
        proc = spawn_ingest(s, tmp_path / "ingest.log", SEMON_INGEST__RECEIVE_MAXIMUM="1000")
        try:
            # Publish at a steady ~600 msg/s for the whole outage.
            async def steady() -> None:
                async with mqtt.connect(s.mqtt_url, f"pub-{uuid.uuid4().hex[:8]}") as client:
                    for i in range(0, n, 300):
                        await publish_on(client, messages[i : i + 300])
                        await asyncio.sleep(0.5)

            publisher = asyncio.create_task(steady())
            await wait_until(lambda: _at_least(s.database_url, 2000), 60, "some rows stored")
            await asyncio.to_thread(pg.stop)
            rss = []
            for _ in range(30):
                rss.append(psutil.Process(proc.pid).memory_info().rss)
                await asyncio.sleep(1)
            assert proc.poll() is None
            await asyncio.to_thread(pg.start)
            await publisher
            await _exactly(s.database_url, n)
            # Memory bounded: the broker held the backlog, not us.
            assert max(rss) < 400 * 2**20, rss
            assert "database write failed" in (tmp_path / "ingest.log").read_text()
        finally:
            _stop(proc)
    finally:
        await asyncio.to_thread(pg.stop)


async def test_same_messages_twice_shuffled_store_the_same(
    settings: Settings,
    pg_admin_dsn: str,
    tmp_path: Path,
    contract_dir: Path,
    private_broker: tuple[str, subprocess.Popen[bytes]],
) -> None:
    root = settings.mqtt.topic_root
    # Every rejection the contract lists, and the not-JSON bytes again on
    # another topic: the same bytes elsewhere are another dead letter.
    invalid = []
    for path in sorted((contract_dir / "examples" / "invalid").glob("*.json")):
        example = json.loads(path.read_text())
        invalid.append((root + example["topic"][len("se/v1") :], example_payload(example)))
    invalid.append((f"{root}/elevators/EL-00001/status", b"floor=7;speed=1.6"))
    assert len(set(invalid)) == len(invalid) > 5
    messages = status_messages(root, 1000, per_message=3) + status_messages(root, 500)
    messages += [
        (
            f"{root}/elevators/EL-{i:05d}/event",
            b'{"ts": "2026-11-21T08:00:%02dZ", "code": "trapped"}' % (i % 60),
        )
        for i in range(100)
    ]
    messages += [
        (
            f"{root}/stations/ST-1/filling",
            b'{"filling_id": "F-%d", "cylinder_id": "C-%d", "gas": "lpg", '
            b'"operator_id": "OP-1", "started_at": "2026-11-21T08:00:00Z", '
            b'"ended_at": "2026-11-21T08:03:00Z", "result": "filled", "net_kg": 14.5, '
            b'"precheck": {"passed": true}}' % (i, i),
        )
        for i in range(100)
    ]
    messages += invalid
    twice = messages * 2
    random.Random(7).shuffle(twice)
    dumps = []
    for payloads, copies in ((messages, 1), (twice, 2)):
        # Every receipt is counted as rejected, a redelivery too; only what
        # was already kept is counted as a duplicate.
        rejected = _rejected()
        duplicates = _dead_letter_duplicates()
        receipts = len(invalid) * copies
        with services.fresh_database(pg_admin_dsn) as dsn:
            await migrate_database(dsn, Settings(database_url=dsn))
            settings.database_url = dsn
            settings.mqtt_url = private_broker[0]
            settings.ingest.maintenance_interval_s = 0
            settings.ingest.client_id = f"ingest-{uuid.uuid4().hex[:8]}"
            async with running_ingest(settings):
                await publish(settings.mqtt_url, payloads)
                await wait_until(lambda d=dsn: _at_least(d, 3500), 60, "all rows")  # type: ignore[misc]
                await wait_until(lambda d=dsn: _fillings(d, 100), 60, "all fillings")  # type: ignore[misc]
                await wait_until(
                    partial(_rejected_reached, rejected + receipts), 60, "every rejection committed"
                )
            assert _rejected() == rejected + receipts
            dropped = _dead_letter_duplicates() - duplicates
            assert dropped == receipts - len(invalid)
            dumps.append(await _dump(dsn))
    assert dumps[0] == dumps[1]
    assert len(dumps[0]["elevator_status"]) == 3500
    assert len(dumps[0]["dead_letters"]) == len(invalid)


async def _fillings(dsn: str, n: int) -> bool:
    return await count(dsn, "SELECT count(*) FROM fillings") >= n


def _rejected() -> float:
    """Messages counted as rejected so far in this process, every reason."""
    return sum(
        s.value for m in metrics.REJECTED.collect() for s in m.samples if s.name.endswith("_total")
    )


def _dead_letter_duplicates() -> float:
    value = REGISTRY.get_sample_value(
        "semon_ingest_duplicates_dropped_total", {"table": "dead_letters"}
    )
    return value or 0.0


async def _rejected_reached(n: float) -> bool:
    return _rejected() >= n


async def _dump(dsn: str) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        # Every column but the time of receipt and the serial id, which
        # differ from one pass to the other by design.
        for table, key in (
            ("elevator_status", "elevator_id, ts"),
            ("elevator_events", "elevator_id, ts, code"),
            ("fillings", "filling_id"),
            ("scale_samples", "filling_id, ts"),
            ("dead_letters", "digest"),
        ):
            cur = await conn.execute(f"SELECT * FROM {table} ORDER BY {key}")
            names = [d.name for d in cur.description or []]
            keep = [i for i, n in enumerate(names) if n not in ("received_at", "id")]
            out[table] = [tuple(r[i] for i in keep) for r in await cur.fetchall()]
    return out


@pytest.mark.slow
async def test_two_workers_share_the_subscription(
    settings: Settings,
    fresh_database_url: str,
    tmp_path: Path,
    private_broker: tuple[str, subprocess.Popen[bytes]],
) -> None:
    s = settings
    s.database_url = fresh_database_url
    s.mqtt_url = private_broker[0]
    s.mqtt.share_group = f"g{uuid.uuid4().hex[:6]}"
    s.ingest.maintenance_interval_s = 0
    other = s.model_copy(deep=True)
    other.ingest.client_id = s.ingest.client_id + "-b"
    n = 6000
    procs = [spawn_ingest(s, tmp_path / "a.log"), spawn_ingest(other, tmp_path / "b.log")]
    try:
        await asyncio.sleep(0)  # both subscribe before anything is published
        await wait_until(lambda: _subscribed(tmp_path), 30, "both workers subscribed")
        await publish(s.mqtt_url, status_messages(s.mqtt.topic_root, n))
        await _exactly(s.database_url, n)
        for p in procs:
            p.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(p.wait, 15) == 0
        # Each worker took a share; together exactly every message once.
        shares = [_committed((tmp_path / f).read_text()) for f in ("a.log", "b.log")]
        assert all(share > 0 for share in shares), shares
        assert sum(shares) == n, shares
    finally:
        for p in procs:
            _stop(p)


def _committed(log_text: str) -> int:
    match = re.search(r"ingest stopped: (\d+) messages committed", log_text)
    assert match, log_text[-2000:]
    return int(match.group(1))


async def _subscribed(tmp_path: Path) -> bool:
    return all(
        (tmp_path / f).exists() and "ingest subscribed" in (tmp_path / f).read_text()
        for f in ("a.log", "b.log")
    )
