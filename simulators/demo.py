"""The demo city `semon up` plays: small, busy, and with something happening.

A newcomer should see telemetry, alerts and their lifecycle within a minute:
so besides the city's ordinary life the demo injects a trapped passenger
about every four minutes (the first at once), a fault every two, an
illegal filling every three and a terminal going silent now and then; the
firms visit their lifts (maintenance mode, which must page no one) and file
full records, every third with nobody on site (simulators/demo_firms.py), and
a simulated rescue desk works every rescue the platform opens
(simulators/rescues.py, RescueDesk).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from semon.settings import Settings
from simulators.city import generate_city
from simulators.demo_firms import DemoFirms, file_visits, visited_today
from simulators.incidents import FAULT_CODES, STATION_INCIDENTS, GroundTruth, Incident
from simulators.player import load_city, play_realtime
from simulators.publisher import open_publisher
from simulators.regulator import Book, add_book, store_book
from simulators.rescues import RescueDesk
from simulators.world import World, WorldOptions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoSchedule:
    """Seconds from the start of the first incident of each sort, then between them."""

    # The first trap pages ~40 s in (boarding, the stop, the 20 s threshold)
    # and is rescued about a minute and a half later: the whole lifecycle early.
    trapped: tuple[float, float] = (5.0, 240.0)
    fault: tuple[float, float] = (10.0, 120.0)
    filling: tuple[float, float] = (5.0, 180.0)
    silent: tuple[float, float] = (60.0, 600.0)
    # the firms' visits (DemoFirms): a record filed after each
    maintenance: tuple[float, float] = (20.0, 150.0)


# The fillings the demo injects: every station incident but a past-life cylinder.
FILLING_KINDS = tuple(k for k in STATION_INCIDENTS if k != "past_life_filled")


class DemoDirector:
    """Picks what goes wrong next, on the wall clock."""

    def __init__(
        self, world: World, start: float, seed: int, schedule: DemoSchedule | None = None
    ) -> None:
        self.world = world
        self.rng = random.Random(f"demo-{seed}")  # noqa: S311 - simulation, not crypto
        self.schedule = schedule or DemoSchedule()
        self.next = {
            name: start + getattr(self.schedule, name)[0]
            for name in ("trapped", "fault", "filling", "silent")
        }
        cars = list(world.elevators.values())
        self.sensing = [c.id for c in cars if c.spec.has_presence_sensor] or [c.id for c in cars]
        self.cars = [c.id for c in cars]
        self._trapped_yet = False

    def due(self, now: float) -> list[Incident]:
        out: list[Incident] = []
        for name, at in self.next.items():
            if now < at:
                continue
            self.next[name] = at + getattr(self.schedule, name)[1]
            incident = self._make(name, now)
            if incident is not None:
                out.append(incident)
        return out

    def _make(self, name: str, now: float) -> Incident | None:
        rng = self.rng
        if name == "filling":
            if not self.world.stations:
                return None
            station = rng.choice(list(self.world.stations))
            return Incident(
                kind=rng.choice(FILLING_KINDS), equipment_id=station, station_id=station, at=now
            )
        if not self.cars:
            return None
        if name == "trapped":
            first = not self._trapped_yet
            self._trapped_yet = True
            kind = "trapped" if first else rng.choice(("trapped", "trapped", "trapped_at_landing"))
            # A car at rest: one mid-trip would finish its trip first.
            idle = [c for c in self.sensing if self.world.elevators[c].idle]
            car = rng.choice(idle or self.sensing)
            return Incident(kind, car, at=now, duration_s=90.0 if first else rng.uniform(120, 420))
        if name == "fault":
            kind = "power_loss" if rng.random() < 0.15 else "fault"
            car, duration = rng.choice(self.cars), rng.uniform(60, 300)
            code = rng.choice(FAULT_CODES) if kind == "fault" else None
            return Incident(kind, car, at=now, duration_s=duration, code=code)
        kind = "buffered" if rng.random() < 0.3 else "silent"
        return Incident(kind, rng.choice(self.cars), at=now, duration_s=rng.uniform(300, 900))


async def _file_visits(
    settings: Settings, firms: DemoFirms, truth: GroundTruth, now: float
) -> None:
    """The firms file the records of their visits now over (checked against the terminal)."""
    visits = firms.ready(now)
    if not visits:
        return
    try:
        async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
            verdicts = await file_visits(
                conn, visits, settings.verification, now=datetime.now(UTC), truth=truth
            )
        log.info(
            "demo: %d maintenance records filed (%d repeats of a record of the day): %s",
            len(verdicts),
            len(visits) - len(verdicts),
            sorted(verdicts.values()),
        )
    except (psycopg.Error, OSError) as exc:
        log.warning("maintenance records not filed: %s", exc)


async def _visited_today(settings: Settings) -> set[str]:
    try:
        async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
            return await visited_today(conn, datetime.now(UTC).date())
    except (psycopg.Error, OSError) as exc:
        log.warning("maintenance records of today not read: %s", exc)
        return set()


async def _work_rescues(settings: Settings, desk: RescueDesk) -> None:
    try:
        async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
            await desk.tick(conn, datetime.now(UTC))
    except (psycopg.Error, OSError) as exc:
        log.warning("the rescue desk could not work: %s", exc)


async def _store_book(settings: Settings, book: Book) -> None:
    try:
        async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
            await store_book(conn, book)
            await conn.commit()
    except (psycopg.Error, OSError) as exc:
        log.warning("regulator's book not stored: %s", exc)


async def run_demo(
    settings: Settings,
    *,
    elevators: int,
    stations: int,
    seed: int,
    ready: asyncio.Event | None = None,
) -> None:
    """Generate a small city, import it, then play it in real time until cancelled."""
    city = generate_city(
        seed,
        elevators=elevators,
        stations=stations,
        reference_day=datetime.now(UTC).date(),
        cylinders_per_station=80,
    )
    # Last month's regulator's book: insurance, tags, failed inspections
    # (into the registry files), hazards and self-checks (into the store).
    today = city.reference_day
    month_end = today.replace(day=1)
    book = add_book(city, (month_end - timedelta(days=1)).replace(day=1), month_end)
    await load_city(settings, city, settings.state_dir / "demo-city")
    await _store_book(settings, book)
    start = time.time()
    truth = GroundTruth(settings.state_dir / "demo-ground-truth.jsonl")
    options = WorldOptions(rates=None, station_hours=(0.0, 24.0), fills_scale=2.0)
    world = World(city, start=start, seed=seed, options=options, truth=truth)
    director = DemoDirector(world, start, seed)
    lifts = {
        r["elevator_id"]: r["firm_id"]
        for r in city.records["elevators"]
        if r["elevator_id"] in world.elevators and r.get("firm_id")
    }
    firms = DemoFirms(
        lifts,
        start=start,
        seed=seed,
        schedule=director.schedule.maintenance,
        visited=await _visited_today(settings),
    )
    # The rescue centre works every trap the platform opens a rescue for.
    desk = RescueDesk(seed, truth=truth)
    last_visits = last_desk = time.monotonic()

    async def on_tick(now: float) -> None:
        nonlocal last_visits, last_desk
        for incident in director.due(now) + firms.due(now):
            log.info("demo: injecting %s on %s", incident.kind, incident.equipment_id)
            world.inject(incident)
        if time.monotonic() - last_visits >= 10.0:
            last_visits = time.monotonic()
            # The firms file their own full records; the world's bare ones go.
            world.visits.clear()
            await _file_visits(settings, firms, truth, now)
        if time.monotonic() - last_desk >= 2.0:
            last_desk = time.monotonic()
            await _work_rescues(settings, desk)

    try:
        async with open_publisher(settings, name="demo") as publisher:
            await play_realtime(world, publisher, on_tick=on_tick, started=ready)
    finally:
        truth.close()
