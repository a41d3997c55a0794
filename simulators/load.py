"""Load: publish status samples at a target rate from several processes.

Each process owns a slice of the fleet and paces itself against the clock
(it owes `rate x elapsed` messages at any moment). Every process reports what
it sent each second; the parent prints the achieved rate every few seconds
and at the end, and says FALLING BEHIND whenever the fleet is more than a
second of messages short of its target. It never silently falls behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing as mp
import queue
import random
import time
from dataclasses import dataclass
from multiprocessing.context import SpawnProcess
from typing import Any

import orjson

from semon.settings import Settings
from simulators.publisher import open_publisher

log = logging.getLogger(__name__)

REPORT_EVERY_S = 5.0
# Behind by more than this share of the target over a report period: say so.
BEHIND_SHARE = 0.05


@dataclass
class LoadReport:
    target_rate: float
    achieved_rate: float
    sent: int
    seconds: float
    fell_behind: bool

    def line(self) -> str:
        state = "FELL BEHIND" if self.fell_behind else "kept up"
        return (
            f"load: {self.sent} messages in {self.seconds:.1f}s = "
            f"{self.achieved_rate:,.0f}/s against a target of {self.target_rate:,.0f}/s "
            f"({self.achieved_rate / self.target_rate:.1%}); {state}"
        )


class _Fleet:
    """Cheap but valid samples for a slice of the fleet: cars wander between
    floors, counters grow, every elevator's timestamps strictly increase."""

    def __init__(self, ids: list[str], seed: int) -> None:
        self.ids = ids
        self.rng = random.Random(seed)  # noqa: S311 - simulation, not crypto
        self.floor = {e: self.rng.randint(1, 20) for e in ids}
        self.trips = {e: self.rng.randint(1000, 100000) for e in ids}
        self.last_ms = dict.fromkeys(ids, 0)
        self.i = 0

    def next(self, now_ms: int) -> tuple[str, bytes]:
        eid = self.ids[self.i]
        self.i = (self.i + 1) % len(self.ids)
        ts = max(now_ms, self.last_ms[eid] + 1)
        self.last_ms[eid] = ts
        moving = self.rng.random() < 0.4
        if moving:
            self.floor[eid] = max(-2, min(40, self.floor[eid] + self.rng.choice((-1, 1))))
            self.trips[eid] += 1
        trips = self.trips[eid]
        sample = {
            "ts": ts,
            "floor": self.floor[eid],
            "speed": 1.5 if moving else 0.0,
            "direction": self.rng.choice(("up", "down")) if moving else "stopped",
            "door": "closed",
            "door_zone": not moving,
            "occupied": moving,
            "load_kg": 75.0 if moving else 0.0,
            "mode": "normal",
            "alarm": False,
            "power": "mains",
            "trips": trips,
            "door_cycles": trips * 2,
            "run_s": trips * 12,
        }
        return f"elevators/{eid}/status", orjson.dumps(sample)


@dataclass(frozen=True)
class _Share:
    """What one publishing process sends: its slice of the fleet, at its rate."""

    mqtt_url: str
    topic_root: str
    ids: list[str]
    rate: float
    duration: float
    index: int


async def _worker_async(share: _Share, reports: Any) -> None:
    settings = Settings(mqtt_url=share.mqtt_url)
    settings.mqtt.topic_root = share.topic_root
    fleet = _Fleet(share.ids, seed=share.index)
    rate, index = share.rate, share.index
    async with open_publisher(settings, name=f"load{index}") as pub:
        loop = asyncio.get_running_loop()
        start = loop.time()
        sent = 0
        last_report = start
        while True:
            now = loop.time()
            elapsed = now - start
            if share.duration and elapsed >= share.duration:
                break
            owed = int(rate * elapsed) - sent
            if owed <= 0:
                await asyncio.sleep(min(0.01, max(0.0005, -owed / rate)))
            else:
                now_ms = int(time.time() * 1000)
                for _ in range(min(owed, 2000)):
                    topic, body = fleet.next(now_ms)
                    await pub.publish(topic, body)
                    sent += 1
                await asyncio.sleep(0)
            if now - last_report >= 1.0:
                reports.put((index, sent, loop.time() - start))
                last_report = now
        await pub.drain()
        reports.put((index, sent, loop.time() - start))
        reports.put((index, -1, 0.0))


def _worker(share: _Share, reports: Any) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_worker_async(share, reports))


async def run_load(
    settings: Settings,
    *,
    elevators: int,
    rate: float,
    processes: int,
    duration: float,
    report_every_s: float = REPORT_EVERY_S,
) -> LoadReport:
    """Publish `rate` samples/s for `elevators` cars from `processes` processes."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    if not settings.mqtt_url:
        raise ValueError("MQTT_URL is not set")
    processes = max(1, min(processes, elevators))
    ctx = mp.get_context("spawn")
    reports: Any = ctx.Queue()
    ids = [f"E{i + 1:05d}" for i in range(elevators)]
    procs: list[SpawnProcess] = []
    for k in range(processes):
        p = ctx.Process(
            target=_worker,
            name=f"semon-load-{k}",
            args=(
                _Share(
                    settings.mqtt_url,
                    settings.mqtt.topic_root,
                    ids[k::processes],
                    rate / processes,
                    duration,
                    k,
                ),
                reports,
            ),
            daemon=True,
        )
        p.start()
        procs.append(p)
    sent = dict.fromkeys(range(processes), 0)
    elapsed = dict.fromkeys(range(processes), 0.0)
    done: set[int] = set()
    loop = asyncio.get_running_loop()
    started = loop.time()
    last_print, last_total, fell_behind = started, 0, False
    try:
        while len(done) < processes:
            try:
                index, count, seconds = reports.get_nowait()
            except queue.Empty:
                if all(not p.is_alive() for p in procs) and len(done) < processes:
                    dead = [p.name for p in procs if p.exitcode not in (0, None)]
                    raise RuntimeError(f"load publisher process(es) died: {dead}") from None
                await asyncio.sleep(0.1)
                now = loop.time()
            else:
                if count < 0:
                    done.add(index)
                else:
                    sent[index], elapsed[index] = count, seconds
                now = loop.time()
            if now - last_print >= report_every_s:
                total = sum(sent.values())
                period_rate = (total - last_total) / (now - last_print)
                # Owed against each worker's own clock (process start-up is not lag).
                behind = sum(rate / processes * elapsed[k] - sent[k] for k in sent)
                line = (
                    f"load: {period_rate:,.0f}/s over the last {now - last_print:.0f}s "
                    f"(target {rate:,.0f}/s), {total} sent"
                )
                if behind > rate * max(1.0, BEHIND_SHARE * max(elapsed.values())):
                    fell_behind = True
                    log.warning(
                        "%s; FALLING BEHIND by %d messages: the publisher, not the "
                        "platform, limits this run",
                        line,
                        int(behind),
                    )
                else:
                    log.info(line)
                last_print, last_total = now, total
    finally:
        # Cancelled (or a worker died): stop the rest; otherwise they have finished.
        for p in procs:
            if len(done) < processes and p.is_alive():
                p.terminate()
            p.join(timeout=15)
    total = sum(sent.values())
    seconds = max(elapsed.values()) or (loop.time() - started)
    achieved = sum(sent[k] / elapsed[k] for k in sent if elapsed[k] > 0)
    if achieved < rate * (1 - BEHIND_SHARE):
        fell_behind = True
    report = LoadReport(
        target_rate=rate,
        achieved_rate=achieved,
        sent=total,
        seconds=seconds,
        fell_behind=fell_behind,
    )
    (log.warning if fell_behind else log.info)("%s", report.line())
    return report
