"""Helpers for alert tests: the service in-process, a device, a console."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
from prometheus_client import REGISTRY
from psycopg.types.json import Jsonb

from alerts.service import run
from semon import mqtt
from semon.clock import ManualClock
from semon.domain.gov_codes import gov_code_for
from semon.embedded import EmbeddedPostgres
from semon.settings import Settings
from semon.store.commands import migrate_database
from tests.support import services


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
    a.checkpoint_interval_s = 0.1
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
        msg["_received"] = datetime.now(UTC)
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
        await client.subscribe((f"{settings.mqtt.topic_root}/alerts/#", 1))
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


async def publish_fleet_backlog(pub: Any, root: str, t0: datetime, messages: int) -> None:
    """``messages`` status messages of ten moving samples each from 400 busy
    cars, a second of device time per 400 (what a broker queues for an absent
    or slow alerts process)."""
    for i in range(messages):
        ts = t0 + timedelta(seconds=i // 400)
        body = {
            "samples": [
                sample(ts + timedelta(milliseconds=90 * k), speed=1.0, direction="up")
                for k in range(10)
            ]
        }
        pub.publish(f"{root}/elevators/busy-{i % 400}/status", orjson.dumps(body), qos=1)
        await pub.wait_window(500)


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
            # the alert's own events; rescue changes share the feed (action 'rescue')
            "SELECT * FROM alert_events WHERE alert_id = %s AND action <> 'rescue'"
            " ORDER BY event_id",
            (alert_id,),
        )
        return await cur.fetchall()


_STORE_SAMPLE = """
INSERT INTO elevator_status (elevator_id, ts, floor, speed, direction, door, door_zone, occupied,
    mode, alarm, power, received_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, false, 'mains', now())
"""


async def store_samples(dsn: str, eid: str, *samples: dict[str, Any]) -> None:
    """What ingest stores for these samples: received now (wall time)."""
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        for s in samples:
            await conn.execute(
                _STORE_SAMPLE,
                (
                    eid,
                    datetime.fromisoformat(s["ts"]),
                    s["floor"],
                    s["speed"],
                    s["direction"],
                    s["door"],
                    s["door_zone"],
                    s["occupied"],
                    s["mode"],
                ),
            )


_STORE_EVENT = """
INSERT INTO elevator_events (elevator_id, ts, code, gov_code, detail, data, received_at)
VALUES (%s, %s, %s, %s, %s, %s, now())
"""


async def store_event(dsn: str, eid: str, ts: datetime, code: str, **kw: Any) -> None:
    """What ingest stores for ``Device.event(eid, ts, code, **kw)``: received now."""
    data = kw.get("data")
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        await conn.execute(
            _STORE_EVENT,
            (
                eid,
                ts,
                code,
                gov_code_for(code, kw.get("gov_code")),
                kw.get("detail"),
                None if data is None else Jsonb(data),
            ),
        )


_STORE_FILLING = """
INSERT INTO fillings (filling_id, station_id, cylinder_id, gas, operator_id, started_at,
    ended_at, result, net_kg, tare_kg, precheck, postcheck, received_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())
"""


async def store_fillings(dsn: str, station: str, *records: dict[str, Any]) -> None:
    """What ingest stores for ``Device.filling(station, record)`` (``fill()``
    records): received now."""
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        for r in records:
            post = r.get("postcheck")
            await conn.execute(
                _STORE_FILLING,
                (
                    r["filling_id"],
                    station,
                    r["cylinder_id"],
                    r["gas"],
                    r["operator_id"],
                    datetime.fromisoformat(r["started_at"]),
                    datetime.fromisoformat(r["ended_at"]),
                    r["result"],
                    r["net_kg"],
                    r.get("tare_kg"),
                    Jsonb(r["precheck"]),
                    None if post is None else Jsonb(post),
                ),
            )


async def checkpoints(dsn: str, topic_root: str) -> dict[int, dict[str, Any]]:
    """The alerts checkpoints of a fleet, by partition."""
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cur = conn.cursor(row_factory=psycopg.rows.dict_row)
        await cur.execute("SELECT * FROM alerts_checkpoints WHERE topic_root = %s", (topic_root,))
        return {r["partition"]: r for r in await cur.fetchall()}


async def wait_checkpoint(
    dsn: str, topic_root: str, after: datetime, *, partition: int = 0, timeout: float = 20.0
) -> datetime:
    """Until the partition has judged (and stored) everything received before ``after``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        row = (await checkpoints(dsn, topic_root)).get(partition)
        if row is not None and row["judged_through"] >= after:
            return datetime.fromisoformat(str(row["judged_through"]))
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"checkpoint of {topic_root} not past {after}: {row}")
        await asyncio.sleep(0.05)


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def wait_metric(name: str, at_least: float, timeout: float = 10.0, **labels: str) -> None:
    """Until this process's metric reaches `at_least` (an engine run in the
    test's own process counts what it judged)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while metric(name, **labels) < at_least:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{name}{labels} = {metric(name, **labels)}, not {at_least}")
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def private_postgres() -> AsyncIterator[tuple[EmbeddedPostgres, str]]:
    """A migrated PostgreSQL of the test's own, to stop and start."""
    with tempfile.TemporaryDirectory(prefix="semon-pg-alerts-") as tmp:
        pg = EmbeddedPostgres(Path(tmp) / "pgdata", port=services.free_port())
        await asyncio.to_thread(pg.start)
        try:
            with psycopg.connect(pg.dsn("postgres"), autocommit=True) as c:
                c.execute("CREATE DATABASE semon")
            dsn = pg.dsn("semon")
            await migrate_database(dsn, Settings(database_url=dsn))
            yield pg, dsn
        finally:
            await asyncio.to_thread(pg.stop)


def postgres_pids(pgdata: Path) -> list[int]:
    """The postmaster (first line of postmaster.pid) and its children."""
    postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    pids = [postmaster]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                pids.append(int(stat.parent.name))
    return pids


def years_ago(n: float) -> date:
    return date.today() - timedelta(days=int(365.25 * n))


async def add_cylinder(
    dsn: str,
    cid: str,
    owner: str,
    *,
    gas: str = "lpg",
    made: date | None = None,
    inspected: date | None = None,
    status: str = "in_service",
) -> None:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        await conn.execute(
            "INSERT INTO cylinders (cylinder_id, gas, manufactured_on, max_fill_kg,"
            " design_life_years, inspection_interval_years, last_inspected_on,"
            " owner_station_id, status)"
            " VALUES (%s, %s, %s, 15, 12, 4, %s, %s, %s)",
            (cid, gas, made or years_ago(2), inspected, owner, status),
        )


def fill(fid: str, cid: str, at: datetime, **kw: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "filling_id": fid,
        "cylinder_id": cid,
        "gas": "lpg",
        "operator_id": "op-1",
        "started_at": at.isoformat(),
        "ended_at": (at + timedelta(seconds=60)).isoformat(),
        "result": "filled",
        "net_kg": 14.5,
        "tare_kg": 15.0,
        "precheck": {"passed": True, "failed_items": []},
        "postcheck": {"passed": True, "failed_items": []},
    }
    rec.update(kw)
    return rec
