"""The demo: the city loads, telemetry flows at once, incidents come early and often."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg

from semon.mqtt import connect
from semon.settings import Settings
from simulators.city import generate_city
from simulators.demo import DemoDirector, run_demo
from simulators.incidents import GroundTruth, Incident
from simulators.world import World, WorldOptions


def test_the_director_makes_something_happen_within_a_minute() -> None:
    city = generate_city(1, elevators=60, stations=2, reference_day=date(2026, 11, 23))
    start = time.time()
    truth = GroundTruth(None)
    world = World(
        city,
        start=start,
        seed=1,
        truth=truth,
        options=WorldOptions(rates=None, station_hours=(0.0, 24.0)),
    )
    director = DemoDirector(world, start, seed=1)
    injected: list[tuple[float, str]] = []
    t = start
    while t < start + 900:
        t += 0.5
        for incident in director.due(t):
            injected.append((t - start, incident.kind))
            world.inject(incident)
        world.step(t)
    first = {}
    for at, kind in injected:
        first.setdefault(kind, at)
    assert min(at for at, kind in injected if kind.startswith("trapped")) <= 25
    assert min(at for at, _ in injected) <= 60
    assert {k for _, k in injected} & {"fault", "power_loss"}
    assert len([k for _, k in injected if k.startswith("trapped")]) >= 3
    finished = {r["injected"] for r in truth.records}
    assert finished & {"trapped", "trapped_at_landing"}


async def test_run_demo_loads_the_city_and_publishes(
    fresh_database_url: str, mqtt_url: str, topic_root: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=fresh_database_url, mqtt_url=mqtt_url, state_dir=tmp_path)
    settings.mqtt.topic_root = topic_root
    seen: list[str] = []
    got = asyncio.Event()

    async def on_message(topic: str, payload: bytes, qos: int, props: dict[str, Any]) -> int:
        seen.append(topic)
        if len(seen) >= 20:
            got.set()
        return 0

    async with connect(
        mqtt_url, f"demo-probe-{uuid.uuid4().hex[:8]}", on_message=on_message
    ) as client:
        await client.subscribe((f"{topic_root}/#", 1))
        ready = asyncio.Event()
        task = asyncio.create_task(
            run_demo(settings, elevators=40, stations=2, seed=3, ready=ready)
        )
        try:
            await asyncio.wait_for(ready.wait(), 30)
            await asyncio.wait_for(got.wait(), 30)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert any("/elevators/" in t and t.endswith("/status") for t in seen)
    async with await psycopg.AsyncConnection.connect(fresh_database_url) as conn:
        cur = await conn.execute("SELECT count(*) FROM elevators")
        row = await cur.fetchone()
        assert row is not None and row[0] == 40
    assert (tmp_path / "demo-city" / "elevators.json").exists()


def test_the_first_trap_plays_at_once_at_the_evening_peak() -> None:
    """The first trap goes to a car standing idle: one on a trip would finish
    it first (over a minute in a tower at 18:00), and the page the README
    promises ~35 s in would come at ~100 s."""
    city = generate_city(1, elevators=300, stations=4, reference_day=date(2026, 11, 23))
    start = datetime(2026, 11, 23, 10, 0, tzinfo=UTC).timestamp()  # 18:00 in the city
    world = World(
        city,
        start=start,
        seed=1,
        truth=GroundTruth(None),
        options=WorldOptions(rates=None, station_hours=(0.0, 24.0)),
    )
    director = DemoDirector(world, start, seed=1)
    first: Incident | None = None
    t = start
    while t < start + 120:
        t += 0.5
        for incident in director.due(t):
            if first is None and incident.kind == "trapped":
                first = incident
            world.inject(incident)
        world.step(t)
    assert first is not None and first.started is not None
    # boarding (doors, 3-6 s dwell) and the short hop, then stuck
    assert first.started - first.at <= 15, first.started - first.at
