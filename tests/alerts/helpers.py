"""Helpers for alert tests: the service in-process, a device, a console."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg

from alerts.service import run
from semon import mqtt
from semon.clock import ManualClock
from semon.settings import Settings


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def start_clock() -> ManualClock:
    return ManualClock(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1))


def tune(settings: Settings) -> Settings:
    """Timing knobs near zero; rule thresholds stay at their defaults."""
    a = settings.alerts
    a.tick_interval_s = 0.05
    a.publish_poll_s = 0.1
    a.backlog_quiet_s = 0.3
    a.full_tick_s = 0.2
    a.sweep_interval_s = 10**9  # tests drive the sweep explicitly where they need it
    return settings


@contextlib.asynccontextmanager
async def alerts_process(
    settings: Settings, clock: ManualClock
) -> AsyncIterator[asyncio.Task[None]]:
    ready = asyncio.Event()
    task = asyncio.create_task(run(settings, ready=ready, clock=clock))
    done, _ = await asyncio.wait(
        [task, asyncio.create_task(ready.wait())], timeout=20, return_when=asyncio.FIRST_COMPLETED
    )
    if task in done:
        task.result()
    assert ready.is_set(), "alerts process did not become ready"
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class Console:
    """An MQTT subscriber to the alert topics."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.changed = asyncio.Event()

    async def on_message(self, topic: str, payload: bytes, qos: int, props: dict[str, Any]) -> int:
        msg = orjson.loads(payload)
        msg["_topic"] = topic
        self.messages.append(msg)
        self.changed.set()
        return 0

    async def wait(
        self, pred: Callable[[dict[str, Any]], bool], *, count: int = 1, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        async def loop() -> list[dict[str, Any]]:
            while True:
                got = [m for m in self.messages if pred(m)]
                if len(got) >= count:
                    return got
                self.changed.clear()
                await self.changed.wait()

        return await asyncio.wait_for(loop(), timeout)


@contextlib.asynccontextmanager
async def console(settings: Settings) -> AsyncIterator[Console]:
    c = Console()
    async with mqtt.connect(settings.mqtt_url, uid("console"), on_message=c.on_message) as client:
        client.subscribe(f"{settings.mqtt.topic_root}/alerts/#", qos=1)
        await asyncio.sleep(0.2)  # the SUBACK has no awaitable in gmqtt
        yield c


class Device:
    def __init__(self, client: Any, root: str) -> None:
        self.client, self.root = client, root

    def status(self, eid: str, *samples: dict[str, Any]) -> None:
        body: Any = samples[0] if len(samples) == 1 else {"samples": list(samples)}
        self.client.publish(f"{self.root}/elevators/{eid}/status", orjson.dumps(body), qos=1)

    def event(self, eid: str, ts: datetime, code: str, **kw: Any) -> None:
        self.client.publish(
            f"{self.root}/elevators/{eid}/event",
            orjson.dumps({"ts": ts.isoformat(), "code": code, **kw}),
            qos=1,
        )

    def filling(self, station: str, record: dict[str, Any]) -> None:
        self.client.publish(f"{self.root}/stations/{station}/filling", orjson.dumps(record), qos=1)

    def scale(self, station: str, record: dict[str, Any]) -> None:
        self.client.publish(f"{self.root}/stations/{station}/scale", orjson.dumps(record), qos=1)


@contextlib.asynccontextmanager
async def device(settings: Settings) -> AsyncIterator[Device]:
    async with mqtt.connect(settings.mqtt_url, uid("device")) as client:
        yield Device(client, settings.mqtt.topic_root)


def sample(ts: datetime, **kw: Any) -> dict[str, Any]:
    """A car at rest at a landing, doors closed, empty, unless told otherwise."""
    base: dict[str, Any] = {
        "ts": ts.isoformat(),
        "floor": 3,
        "speed": 0.0,
        "direction": "stopped",
        "door": "closed",
        "door_zone": True,
        "occupied": False,
        "mode": "normal",
    }
    base.update(kw)
    return base


STUCK = {"door_zone": False, "occupied": True}  # between floors with someone inside


async def alerts_for(dsn: str, equipment_id: str) -> list[dict[str, Any]]:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cur = conn.cursor(row_factory=psycopg.rows.dict_row)
        await cur.execute(
            "SELECT * FROM alerts WHERE equipment_id = %s ORDER BY raised_at, alert_id",
            (equipment_id,),
        )
        return await cur.fetchall()


async def wait_db(
    dsn: str, equipment_id: str, pred: Callable[[list[dict[str, Any]]], bool], timeout: float = 10.0
) -> list[dict[str, Any]]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        rows = await alerts_for(dsn, equipment_id)
        if pred(rows):
            return rows
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met; alerts: {rows}")
        await asyncio.sleep(0.05)


async def events_for(dsn: str, alert_id: str) -> list[dict[str, Any]]:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cur = conn.cursor(row_factory=psycopg.rows.dict_row)
        await cur.execute(
            "SELECT * FROM alert_events WHERE alert_id = %s ORDER BY event_id", (alert_id,)
        )
        return await cur.fetchall()
