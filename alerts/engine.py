"""The engine: decodes and judges device messages in arrival order, runs the
clock rules every tick, and marks how far judging has gone (the checkpoint).
What it decides goes to the writer's queue as ops; pages (trapped passengers,
faults) go to the writer's page queue, ahead of everything else.

Terminal events come on their own MQTT session into their own inbox
(``urgent``), judged before the next queued status message, and so do the
samples of a car standing with someone inside (``rules.watched``): a page
never waits behind telemetry (README, "Pages ahead of telemetry"). A car's
timer never pages ahead of its own samples still queued (``rules.queued``).

A worker judges only the devices of its partition (a crc32 of the id).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import zlib
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

from alerts.elevators import ElevatorRules
from alerts.filling_state import FillingState
from alerts.metrics import INBOX_BYTES, INBOX_PAUSES, INBOX_PEAK, MESSAGES, REJECTED, SAMPLE_LAG
from alerts.ops import Checkpoint, Op
from alerts.writer import Writer
from semon.clock import Clock
from semon.domain.decode import Rejection, decode, parse_topic
from semon.settings import Settings

log = logging.getLogger(__name__)

# labels() per message was 6% of the engine at 8,000 messages/s: look them up once.
_JUDGED = {k: MESSAGES.labels(k) for k in ("status", "event", "filling", "scale")}


@dataclass(slots=True)
class Mark:
    """Put at the tail of the inbox: reaching it, the engine has judged every
    message received before ``at`` (wall time, as ingest stamps received_at)."""

    at: datetime


class Wake:
    """Put in the inbox after an urgent message: wakes an idle engine."""


WAKE = Wake()

Inbox = asyncio.Queue[tuple[str, bytes] | Mark | Wake]
Urgent = deque[tuple[str, bytes]]


def status_car(topic: str, cars: str) -> str | None:
    """The car of an ``{cars}{id}/status`` topic (``cars``: the root's
    ``.../elevators/``), or None for any other topic."""
    if topic.startswith(cars) and topic.endswith("/status"):
        return topic[len(cars) : -len("/status")]
    return None


class Backpressure:
    """Bounds the inbox: once the payloads queued add up to ``high`` bytes,
    the samples session's handler returns a future instead of acknowledging,
    and ``semon.mqtt`` pauses reading the socket once enough of those wait;
    the broker keeps the rest of the session's queue. The engine resolves the
    future when the inbox is down to half. Terminal events have a session of
    their own and never wait for this (an overloaded engine held 700 MB of
    samples and grew without limit)."""

    def __init__(self, high: int) -> None:
        self.high, self.low = high, high // 2
        self.bytes = 0
        self.peak = 0  # the most the inbox held since start
        self.future: asyncio.Future[int] | None = None
        INBOX_BYTES.set_function(lambda: self.bytes)
        INBOX_PEAK.set_function(lambda: self.peak)

    def put(self, size: int) -> asyncio.Future[int] | int:
        """Count a message in; what the MQTT handler returns for it."""
        self.bytes += size
        if self.bytes < self.high:
            return 0
        self.peak = max(self.peak, self.bytes)
        if self.future is None:
            self.future = asyncio.get_running_loop().create_future()
            INBOX_PAUSES.inc()
        return self.future

    def took(self, size: int) -> None:
        """Count a message out (the engine took it)."""
        self.bytes -= size
        f = self.future
        if f is not None and self.bytes <= self.low:
            self.future = None
            if not f.done():
                f.set_result(0)


class Engine:
    """``run`` is the engine's task; ``handle`` judges one message."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        inbox: Inbox,
        fillings: FillingState,
        writer: Writer,
        *,
        urgent: Urgent | None = None,
        watched: set[str] | None = None,
        queued: dict[str, int] | None = None,
        backpressure: Backpressure | None = None,
    ) -> None:
        self.settings = settings
        self.cfg = settings.alerts
        self.clock = clock
        self.inbox = inbox
        # Terminal events (their own MQTT session): judged before the next sample.
        self.urgent: Urgent = urgent if urgent is not None else deque()
        self.rules = ElevatorRules(self.cfg)
        if watched is not None:  # shared with the MQTT handler that routes by it
            self.rules.watched = watched
        if queued is not None:  # the MQTT handler counts a car's status messages in
            self.rules.queued = queued
        self.backpressure = backpressure or Backpressure(settings.alerts.inbox_max_bytes)
        self._cars = f"{settings.mqtt.topic_root.rstrip('/')}/elevators/"
        self.fillings = fillings
        self.writer = writer
        self.handled = 0  # messages judged (tests wait on it)
        self._last_tick = float("-inf")

    def emit(self, ops: list[Op]) -> None:
        for op in ops:
            self.writer.put(op)

    def mine(self, equipment_id: str) -> bool:
        n = self.cfg.partitions
        return n <= 1 or zlib.crc32(equipment_id.encode()) % n == self.cfg.partition

    async def handle(self, topic: str, payload: bytes) -> None:
        if self.cfg.partitions > 1:
            t = parse_topic(topic, self.settings.mqtt.topic_root)
            if not isinstance(t, str) and not self.mine(t.equipment_id):
                return  # another partition judges this device
        now = self.clock.now()
        got = decode(
            topic,
            payload,
            root=self.settings.mqtt.topic_root,
            now=now,
            max_bytes=self.settings.ingest.max_payload_bytes,
            future_tolerance_s=self.settings.ingest.future_tolerance_s,
        )
        if isinstance(got, Rejection):
            REJECTED.labels(got.reason).inc()  # ingest stores it as a dead letter
            return
        _JUDGED[got.kind].inc()
        mono = time.monotonic()
        if got.kind == "status":
            self.emit(self.rules.on_samples(got.equipment_id, got.status, now=now, mono=mono))
            if got.status:
                SAMPLE_LAG.set((now - got.status[-1]["ts"]).total_seconds())
        elif got.kind == "event" and got.event is not None:
            self.emit(self.rules.on_event(got.equipment_id, got.event, now=now, mono=mono))
        elif got.kind == "scale" and got.scale is not None:
            self.emit(await self.fillings.on_scale(got.equipment_id, got.scale))
        elif got.kind == "filling" and got.filling is not None:
            self.emit(await self.fillings.on_filling(got.equipment_id, got.filling))

    async def _judge(self, topic: str, payload: bytes) -> None:
        try:
            await self.handle(topic, payload)
        except Exception:  # one bad message never stops the stream
            log.exception("message on %s not judged", topic[:200])
        self.handled += 1

    async def run(self) -> None:
        # Per-car state is many long-lived small objects: freeze what recovery
        # built so collections do not walk it again and again. (Raising the
        # thresholds made rarer but longer pauses: worse for the p99.)
        gc.freeze()
        tick = self.cfg.tick_interval_s
        next_tick = next_mark = next_freeze = time.monotonic()
        urgent = self.urgent
        writer = self.writer
        while True:
            while urgent:
                # Events first: their page must not wait for the samples queued
                # before them (a trapped passenger behind seconds of telemetry).
                await self._judge(*urgent.popleft())
                if self.handled % 256 == 0:
                    await asyncio.sleep(0)  # a city of standing cars: MQTT still reads
            if self.inbox.empty():
                # Wake at the next tick, or sooner when a standing car's
                # threshold falls due (the page then waits for no tick).
                timeout = max(0.0, min(next_tick - time.monotonic(), self._due_in()))
                try:
                    # asyncio.timeout, not wait_for: no task per message.
                    async with asyncio.timeout(timeout):
                        item = await self.inbox.get()
                except TimeoutError:
                    item = None
            else:
                item = self.inbox.get_nowait()  # under load: no timer per message
            if isinstance(item, Mark):
                # Behind the ops judged before it; the urgent inbox was empty
                # a moment ago, so every event received before it is judged too.
                self.emit([Checkpoint(item.at)])
            elif isinstance(item, tuple):
                topic = item[0]
                self.backpressure.took(len(item[1]))
                car = status_car(topic, self._cars)
                if car is not None:
                    self.rules.dequeued(car)
                await self._judge(*item)
                if self.handled % 256 == 0 or writer.paging:
                    # Let the writer and MQTT run under a flood; while a page is
                    # on its way, after every message (its store and publish
                    # must not wait for 256 samples at each step).
                    await asyncio.sleep(0)
            mono = time.monotonic()
            if mono >= next_tick or self._due_in() <= 0:
                next_tick = mono + tick
                self.tick()
            if mono >= next_freeze:
                # Cars met since start keep their samples for good: freeze the
                # survivors again, or an oldest-generation collection walks the
                # whole fleet's state with the loop stopped (~1 s at 10,000
                # cars on a slow core: the page latency's worst case).
                next_freeze = mono + self.cfg.gc_freeze_interval_s
                gc.freeze()
            if mono >= next_mark:
                next_mark = mono + self.cfg.checkpoint_interval_s
                # Wall time, not the rules' clock: it is compared with the
                # received_at ingest stamps from the system clock.
                self.inbox.put_nowait(Mark(datetime.now(UTC)))

    async def timers(self) -> None:
        """Trapped deadlines on a task of their own: one that falls due while
        the engine waits (a filling's registry lookup on a slow database) is
        paged all the same. Elevator state changes only in synchronous code,
        so this never runs in the middle of judging a message."""
        tick = self.cfg.tick_interval_s
        while True:
            await asyncio.sleep(max(0.002, min(tick, self._due_in())))
            if self._due_in() <= 0:
                self.tick()

    def _due_in(self) -> float:
        """Seconds until the earliest trapped deadline (device time)."""
        heap = self.rules.deadlines
        return (heap[0][0] - self.clock.now()).total_seconds() if heap else float("inf")

    def tick(self) -> None:
        now = self.clock.now()
        mono = time.monotonic()
        # The share of the fleet whose offline/alarm-test rules are due in
        # this tick: the time since the last one over full_tick_s.
        share = min(1.0, (mono - self._last_tick) / self.cfg.full_tick_s)
        self._last_tick = mono
        self.emit(self.rules.tick(now, mono, share=share))
