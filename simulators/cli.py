"""`semon simulate`: a realistic city in real time, or load at a target rate."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from semon.settings import Settings
from simulators.city import generate_city
from simulators.incidents import GroundTruth
from simulators.load import LoadReport, run_load
from simulators.player import load_city, play_realtime
from simulators.publisher import open_publisher
from simulators.world import World, WorldOptions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimulateOptions:
    """What `semon simulate` is asked for (its options, in their order)."""

    elevators: int
    stations: int
    seed: int
    rate: float
    processes: int
    duration: float
    ground_truth: Path | None


async def run_simulate(settings: Settings, options: SimulateOptions) -> LoadReport | None:
    """`rate` > 0: load mode (samples at that rate from `processes` processes).
    `rate` = 0: the realistic city in real time, incidents at their default
    rates, injected incidents written to `ground_truth`."""
    if options.rate > 0:
        if options.ground_truth is not None:
            log.warning("load mode injects no incidents: %s stays empty", options.ground_truth)
        return await run_load(
            settings,
            elevators=options.elevators,
            rate=options.rate,
            processes=options.processes,
            duration=options.duration,
        )
    if options.processes > 1:
        log.warning(
            "the realistic city plays in one process; --processes applies to "
            "load mode (--rate > 0) only"
        )
    city = generate_city(
        options.seed,
        elevators=options.elevators,
        stations=options.stations,
        reference_day=datetime.now(UTC).date(),
    )
    if settings.database_url:
        await load_city(settings, city, settings.state_dir / f"sim-city-{options.seed}")
    else:
        log.warning(
            "DATABASE_URL is not set: the city's registry is not imported, "
            "the platform will see unknown equipment"
        )
    truth = GroundTruth(options.ground_truth)
    world = World(city, start=time.time(), seed=options.seed, options=WorldOptions(), truth=truth)
    try:
        async with open_publisher(settings, name=f"sim{options.seed}") as publisher:
            sent = await play_realtime(world, publisher, duration=options.duration)
            log.info("simulator done: %d messages, %d incidents recorded", sent, len(truth.records))
    finally:
        truth.close()
    return None
