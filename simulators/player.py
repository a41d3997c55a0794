"""Playing a world in real time, and loading its city through the import path."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from semon.registry_import import import_files
from semon.settings import Settings
from simulators.city import KIND_ORDER, City, write_city
from simulators.publisher import Publisher
from simulators.world import World

log = logging.getLogger(__name__)

TICK_S = 0.5
REPORT_EVERY_S = 10.0


async def load_city(
    settings: Settings, city: City, directory: Path, *, retry_s: float = 30.0
) -> dict[str, int]:
    """Write the registry files and import them (`semon registry import`'s path).

    Retries while the database is still coming up (under `semon up` the
    simulator may start beside the migration).
    """
    paths = write_city(city, directory)
    files = [(paths[kind], kind) for kind in KIND_ORDER]
    deadline = time.monotonic() + retry_s
    while True:
        try:
            # One transaction: the alerts sweep never sees elevators without
            # their maintenance records (it would page nearly all of them).
            counts = await import_files(settings, files)
            break
        except (OSError, ConnectionError) as exc:
            if time.monotonic() > deadline:
                raise
            log.info("registry import waits for the database: %s", exc)
            await asyncio.sleep(1.0)
        except Exception as exc:
            # psycopg's OperationalError (database not up, table not yet migrated)
            if time.monotonic() > deadline or type(exc).__name__ not in (
                "OperationalError",
                "UndefinedTable",
            ):
                raise
            log.info("registry import waits for the database: %s", exc)
            await asyncio.sleep(1.0)
    log.info("city %s loaded: %s", city.seed, ", ".join(f"{n} {k}" for k, n in counts.items()))
    return counts


async def play_realtime(
    world: World,
    publisher: Publisher,
    *,
    duration: float = 0.0,
    on_tick: Callable[[float], Awaitable[None]] | None = None,
    started: asyncio.Event | None = None,
) -> int:
    """Step the world to the wall clock every half second and publish; returns messages sent."""
    loop = asyncio.get_running_loop()
    begin = loop.time()
    last_report, last_sent = begin, 0
    sent = 0
    while True:
        now = time.time()
        sent += await publisher.send(world.step(now))
        if started is not None and not started.is_set():
            started.set()
        if on_tick is not None:
            await on_tick(now)
        mono = loop.time()
        if mono - last_report >= REPORT_EVERY_S:
            log.info(
                "simulator: %d messages (%.0f/s), simulated %s",
                sent,
                (sent - last_sent) / (mono - last_report),
                datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
            )
            last_report, last_sent = mono, sent
        if duration and mono - begin >= duration:
            return sent
        await asyncio.sleep(TICK_S)
