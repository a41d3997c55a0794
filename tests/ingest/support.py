"""Helpers for ingest tests: run the service, publish, wait on the database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psycopg

from ingest.service import run
from semon import mqtt
from semon.settings import Settings

REPO = Path(__file__).resolve().parents[2]


@contextlib.asynccontextmanager
async def running_ingest(settings: Settings) -> AsyncIterator[asyncio.Task[None]]:
    """`ingest.service.run` in this event loop, ready before the body runs."""
    ready = asyncio.Event()
    task = asyncio.create_task(run(settings, ready=ready))
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait([task, waiter], timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()
    assert ready.is_set(), "ingest did not become ready"
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def publish(
    url: str,
    messages: Iterable[tuple[str, bytes]],
    *,
    qos: int = 1,
    window: int = 500,
    client_id: str | None = None,
) -> int:
    """Publish and wait until the broker acknowledged every message (QoS 1):
    from then on the broker owns them."""
    async with mqtt.connect(url, client_id or f"pub-{uuid.uuid4().hex[:10]}") as client:
        return await publish_on(client, messages, qos=qos, window=window)


async def publish_on(
    client: mqtt.Client,
    messages: Iterable[tuple[str, bytes]],
    *,
    qos: int = 1,
    window: int = 500,
) -> int:
    n = 0
    for topic, payload in messages:
        if qos:
            await client.wait_window(window)
        client.publish(topic, payload, qos=qos)
        n += 1
    if qos:
        await client.drain(timeout_s=120)
    return n


def status_messages(
    root: str, n: int, *, elevators: int = 50, per_message: int = 1, start: datetime | None = None
) -> list[tuple[str, bytes]]:
    """n messages, each with `per_message` unique samples (distinct ts per elevator)."""
    start = start or datetime.now(UTC) - timedelta(hours=1)
    base_ms = int(start.timestamp() * 1000)
    out = []
    for i in range(n):
        eid = f"EL-{i % elevators:05d}"
        samples = [
            {
                "ts": base_ms + (i // elevators) * per_message * 10 + k * 10,
                "floor": i % 30,
                "speed": 1.5,
                "direction": "up",
                "door": "closed",
                "door_zone": False,
                "trips": i,
            }
            for k in range(per_message)
        ]
        body = samples[0] if per_message == 1 else {"samples": samples}
        out.append((f"{root}/elevators/{eid}/status", orjson.dumps(body)))
    return out


async def count(dsn: str, sql: str = "SELECT count(*) FROM elevator_status") -> int:
    async with await psycopg.AsyncConnection.connect(dsn, connect_timeout=5) as conn:
        row = await (await conn.execute(sql)).fetchone()
        assert row is not None
        return int(row[0])


async def wait_until(
    check: Callable[[], Awaitable[bool]], timeout: float, what: str, interval: float = 0.2
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if await check():
                return
        except psycopg.OperationalError:
            pass  # the database may be the thing we are waiting for
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


def spawn_ingest(settings: Settings, log_path: Path, **extra_env: str) -> subprocess.Popen[bytes]:
    """A real `semon ingest` process configured like `settings`."""
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": settings.database_url,
            "MQTT_URL": settings.mqtt_url,
            "SEMON_MQTT__TOPIC_ROOT": settings.mqtt.topic_root,
            "SEMON_MQTT__SHARE_GROUP": settings.mqtt.share_group,
            "SEMON_INGEST__CLIENT_ID": settings.ingest.client_id,
            "SEMON_INGEST__MAINTENANCE_INTERVAL_S": "0",
            "SEMON_LOG_LEVEL": "INFO",
        }
    )
    env.update(extra_env)
    before = log_path.read_text().count("ingest subscribed") if log_path.exists() else 0
    out = log_path.open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "ingest"],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        cwd=REPO,
    )
    # Subscribed before anything is published: a first session's subscription
    # is what makes the broker keep messages for us.
    deadline = time.monotonic() + 30
    while log_path.read_text().count("ingest subscribed") <= before:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError("ingest did not start: " + log_path.read_text()[-3000:])
        time.sleep(0.05)
    return proc
