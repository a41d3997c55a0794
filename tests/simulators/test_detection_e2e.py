"""End to end: a compressed simulated day through the real broker to a running
alerts process, scored against the ground truth.

Time: the alerts process runs on a ManualClock that follows the simulation.
The day is played in slices; each slice's messages are published, the test
waits until the alerts process has judged them all (its message counter),
then sets the clock to the slice's end and lets a few ticks run. Device times
are therefore never more than one slice (180 s) ahead of the platform clock
(the contract allows 5 minutes), and the clock never overtakes data the
process has not yet seen, so nothing looks silent or stuck that is not.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alerts import metrics as alerts_metrics
from alerts import service as alerts_service
from semon.clock import ManualClock
from semon.settings import Settings
from simulators.city import generate_city
from simulators.incidents import (
    FAULT_CODES,
    STATION_INCIDENTS,
    GroundTruth,
    Incident,
    read_ground_truth,
)
from simulators.player import load_city
from simulators.publisher import open_publisher
from simulators.truth import alerts_from_database, registry_truth, score
from simulators.world import World, WorldOptions

SLICE_S = 180.0
DAY_S = 86400.0
# Local midnight (UTC+8) of the simulated day.
START = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
ELEVATORS = 200


def _judged() -> float:
    total = 0.0
    for counter in (alerts_metrics.MESSAGES, alerts_metrics.REJECTED):
        for metric in counter.collect():
            total += sum(s.value for s in metric.samples if s.name.endswith("_total"))
    return total


def _rejected() -> float:
    return sum(
        s.value
        for m in alerts_metrics.REJECTED.collect()
        for s in m.samples
        if s.name.endswith("_total")
    )


async def _wait_judged(target: float, timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while _judged() < target:
        if loop.time() > deadline:
            raise TimeoutError(f"alerts judged {_judged()} of {target} messages")
        await asyncio.sleep(0.002)


def _incidents(world: World, rng: random.Random) -> list[Incident]:
    """A fixed detection matrix: every elevator incident and every filling
    incident, each on its own equipment, spread over the day."""
    t0 = START.timestamp()
    cars = sorted(world.elevators)
    rng.shuffle(cars)
    sensing = [c for c in cars if world.elevators[c].spec.has_presence_sensor]
    plan: list[tuple[str, str | None]] = (
        [("trapped", None)] * 3
        + [("trapped_at_landing", None)] * 2
        + [("fault", code) for code in rng.sample(FAULT_CODES, 6)]
        + [("power_loss", None)] * 2
        + [("alarm_button", None)] * 2
        + [("maintenance", None)] * 3
        + [("silent", None)] * 2
        + [("buffered", None)]
    )
    out: list[Incident] = []
    used: set[str] = set()
    for i, (kind, code) in enumerate(plan):
        pool = sensing if kind.startswith("trapped") else cars
        car = next(c for c in pool if c not in used)
        used.add(car)
        # Between 01:00 and 20:00 local, so everything ends inside the day.
        at = t0 + 3600 + i * (19 * 3600 / len(plan))
        duration = {
            "trapped": 600.0,
            "trapped_at_landing": 300.0,
            "fault": 240.0,
            "power_loss": 900.0,
            "alarm_button": 3.0,
            "maintenance": 2400.0,
            "silent": 1200.0,
            "buffered": 3600.0,
        }[kind]
        out.append(Incident(kind=kind, equipment_id=car, at=at, duration_s=duration, code=code))
    stations = sorted(world.stations)
    for i, kind in enumerate(STATION_INCIDENTS):
        station = stations[0] if kind != "wrong_gas" else stations[-1]
        at = t0 + 8.5 * 3600 + i * 1800  # opening hours, local
        out.append(Incident(kind=kind, equipment_id=station, station_id=station, at=at))
    return out


async def test_a_simulated_day_raises_each_incident_once_and_nothing_else(
    fresh_database_url: str, mqtt_url: str, topic_root: str, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=fresh_database_url, mqtt_url=mqtt_url, state_dir=tmp_path / "state"
    )
    settings.mqtt.topic_root = topic_root
    settings.alerts.client_id = f"semon-alerts-e2e-{uuid.uuid4().hex[:8]}"
    settings.mqtt.session_expiry_s = 0
    # Judge fast on the compressed clock: ticks and "the upload went quiet" in
    # real milliseconds; anything within a slice of the clock counts as live.
    settings.alerts.tick_interval_s = 0.005
    settings.alerts.full_tick_s = 0.005
    settings.alerts.backlog_quiet_s = 0.005
    settings.alerts.backlog_after_s = 600.0
    settings.alerts.escalate_after_s = 10 * DAY_S
    # The clock jumps a slice at a time, with a slice of data ahead of it:
    # receive times say nothing of the terminals' clocks here (learned, every
    # terminal would look 3 minutes fast). They are right, as simulated.
    settings.alerts.skew_samples = 0

    city = generate_city(
        21, elevators=ELEVATORS, stations=3, reference_day=START.date(), cylinders_per_station=40
    )
    await load_city(settings, city, tmp_path / "city")

    truth_path = tmp_path / "ground-truth.jsonl"
    truth = GroundTruth(truth_path)
    options = WorldOptions(
        moving_interval_s=5.0, traffic_scale=0.3, scale_interval_s=0.5, rates=None
    )
    world = World(city, start=START.timestamp(), seed=21, options=options, truth=truth)
    planned = _incidents(world, random.Random(21))
    for incident in planned:
        world.inject(incident)

    clock = ManualClock(START)
    ready = asyncio.Event()
    task = asyncio.create_task(alerts_service.run(settings, ready=ready, clock=clock))
    try:
        await asyncio.wait_for(ready.wait(), 30)
        rejected_before = _judged(), _rejected()
        async with open_publisher(settings, name="e2e") as publisher:
            # The subscription is live once a first message is judged.
            first = world.step(START.timestamp() + SLICE_S, batch=True)
            base = _judged()
            await publisher.send(first)
            await _wait_judged(base + len(first))
            sent = len(first)
            t = START.timestamp() + SLICE_S
            while t < START.timestamp() + DAY_S:
                clock.set(datetime.fromtimestamp(t, UTC))
                await asyncio.sleep(settings.alerts.tick_interval_s * 4)
                until = t + SLICE_S
                out = world.step(until, batch=True)
                base = _judged()
                await publisher.send(out)
                await _wait_judged(base + len(out))
                sent += len(out)
                t = until
            clock.set(datetime.fromtimestamp(t, UTC))
        # Let the writer store what it holds: wait until the alert count settles.
        # Bounded: a count that never settles fails here instead of hanging the suite.
        previous, stable = -1, 0
        settle_by = asyncio.get_running_loop().time() + 120
        while stable < 4:
            assert asyncio.get_running_loop().time() < settle_by, (
                f"alerts still changing: {previous}"
            )
            await asyncio.sleep(0.5)
            count = len(await alerts_from_database(fresh_database_url))
            stable = stable + 1 if count == previous else 0
            previous = count
        assert _rejected() == rejected_before[1], "the simulator sent something off-contract"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        truth.close()

    records = read_ground_truth(truth_path)
    assert len(records) == len(planned)
    assert {r["injected"] for r in records} == {i.kind for i in planned}
    expected = records + registry_truth(
        city, START.date(), (START + timedelta(days=1)).date(), cylinders=True
    )
    alerts = await alerts_from_database(fresh_database_url)
    result = score(expected, alerts)
    print(f"\n{sent} messages, {len(records)} incidents, {len(alerts)} alerts: {result.summary()}")
    for m in result.missed:
        print("MISSED", m)
    assert not result.missed, result.missed
    assert not result.duplicated, result.duplicated
    assert not result.false_alerts, result.false_alerts
    assert result.recall == 1.0 and result.precision == 1.0
