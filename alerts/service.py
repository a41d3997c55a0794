"""`semon alerts`: subscribe to the device topics, judge, store, publish.

Tasks (one TaskGroup): the engine (decodes and judges messages in arrival
order, runs the clock rules every tick), the writer (store then publish,
outbox while the database is down), the publisher of rows written elsewhere
(API state changes), escalation, and the inspection/maintenance sweep.

Restarts: the checkpoint
------------------------
Messages are acknowledged to the broker as they arrive, so a killed process
loses what it held unjudged, and the broker keeps (in the persistent session)
only what arrived while no process was connected. The database, written by
ingest on its own, holds every message with the wall time ingest received it
(``received_at`` of ``elevator_status``, ``elevator_events``, ``fillings``).
The checkpoint ties the two together:

- Every ``checkpoint_interval_s`` the engine puts a mark, stamped with the
  wall time, at the tail of its inbox. When the engine reaches the mark,
  every message received before the stamp has been judged; it then queues a
  ``Checkpoint`` op behind the alert changes that judging made, and the
  writer stores it in ``alerts_checkpoints`` (one row per partition) only
  after storing them (through the outbox, in order, while the database is
  down). So the row never claims more than the database holds.
- On start, ``recover`` reads the open alerts, then the samples and the
  terminal events from ``recovery_window_s`` before the checkpoint up to
  now. Those ingest received at or before the checkpoint, less
  ``checkpoint_margin_s`` (ingest and alerts receive a message at slightly
  different moments), only rebuild the per-car state, as the previous
  process had it: a fault waiting out its debounce, an alarm press
  remembered, a trap the terminal reported. Later ones are what nobody
  judged: they are judged as a late backlog (``ElevatorRules.replay``, each
  car's events among its samples in device-time order), so an open alert
  they end is closed (with ``held_s``), an episode that began and ended in
  them is recorded resolved with ``live`` false, and one still going on is
  raised live by the clock (a fault once its debounce is over).
- Fillings received after the checkpoint are judged as they arrive, less
  every alert already stored for its condition (``<kind>:<filling_id>``):
  one resolved by a dispatcher is not open, and raise_alert would open a
  second. A scale sample held unjudged is not read back: the filling's next
  sample over the limit raises the overfill, or at the latest its record
  (``_overfill_stored`` says whether one was raised before).
- Re-judging is idempotent, which is what makes the margin (and a process
  killed before its changes were stored) harmless: a recovered open alert is
  not raised again, a late record has a deterministic id
  (``late_alert_id``), the store records nothing when an alert of the same
  condition already covers the episode (one the previous process raised
  live and closed), and a replayed fault or trapped report that a resolved
  alert covers (``started_at`` to its end) raises nothing. Messages the
  broker redelivers from the session after the restart are the same
  messages: the rules drop a sample whose ``ts`` the car already holds, and
  an event or filling recovery judged (``ElevatorRules.replayed``,
  ``_replayed_fillings``).
- No checkpoint (the first start of a partition): samples and events only
  rebuild state and no filling is judged, as nothing says what was judged.
  An outage longer than ``recovery_max_backlog_s`` is judged for its last
  part only.

Partitions: a worker judges the devices whose id hashes (crc32) to it;
partition 0 also runs the fleet-wide work (sweeps, escalation, publishing
rows the API wrote). Each worker publishes the rows it wrote itself
(``alert_events.publisher``).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import psycopg
from prometheus_client import Counter, start_http_server
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from alerts.elevators import (
    NOT_FAULTS,
    ElevatorRules,
    Episodes,
    StoredEvent,
    fault_key,
    trapped_key,
)
from alerts.fillings import filling_drafts, overfill_draft
from alerts.ops import Checkpoint, Op, Raise
from alerts.registry import DB_ERRORS, RegistryCache, RegistryUnavailable
from alerts.sweeps import sweep
from alerts.writer import Writer
from semon import mqtt
from semon.clock import Clock, SystemClock
from semon.domain.decode import Decoded, Rejection, decode, device_topics, parse_topic
from semon.domain.wire import ElevatorEvent, Filling, StatusSample
from semon.settings import Settings
from semon.store import alerts as store
from semon.store.alerts import AlertDraft
from semon.store.pool import open_pool

log = logging.getLogger(__name__)

MESSAGES = Counter("semon_alerts_messages_total", "Device messages judged", ["kind"])
# labels() per message was 6% of the engine at 8,000 messages/s: look them up once.
_JUDGED = {k: MESSAGES.labels(k) for k in ("status", "event", "filling", "scale")}
REJECTED = Counter(
    "semon_alerts_rejected_total", "Device messages the alerts process could not decode", ["reason"]
)
UNJUDGED = Counter(
    "semon_alerts_unjudged_total",
    "Device messages not judged: the database was down and the cache had no record",
    ["reason"],
)
ELEVATOR_KINDS = ("trapped_passenger", "elevator_fault", "terminal_offline", "alarm_test_missed")

_RECENT_SAMPLES = """
SELECT elevator_id, ts, floor, speed, direction, door, door_zone, occupied, load_kg, mode, alarm,
       power, trips, door_cycles, run_s, received_at
FROM elevator_status WHERE ts > %s AND ts <= %s ORDER BY elevator_id, ts
"""
_LAST_ALARM_TESTS = """
SELECT elevator_id, max(ts) FROM elevator_events
WHERE code = 'alarm_test' AND ts > %s GROUP BY elevator_id
"""
_OVERFILL_EXISTS = "SELECT 1 FROM alerts WHERE condition_key = %s LIMIT 1"
_RECENT_EVENTS = """
SELECT elevator_id, ts, code, gov_code, detail, data, received_at
FROM elevator_events WHERE ts > %s AND ts <= %s ORDER BY elevator_id, ts, code
"""
_EPISODES = """
SELECT condition_key, started_at, coalesce(ended_at, resolved_at) FROM alerts
WHERE condition_key = ANY(%s) AND state = 'resolved' AND coalesce(ended_at, resolved_at) >= %s
"""
_UNJUDGED_FILLINGS = """
SELECT station_id, filling_id, cylinder_id, gas, operator_id, started_at, ended_at, result,
       net_kg, tare_kg, pressure_mpa, temperature_c, precheck, postcheck
FROM fillings WHERE received_at > %s AND result = 'filled' ORDER BY received_at
"""
_ALERTED = "SELECT DISTINCT condition_key FROM alerts WHERE condition_key = ANY(%s)"


@dataclass(slots=True)
class Mark:
    """Put at the tail of the inbox: reaching it, the engine has judged every
    message received before ``at`` (wall time, as ingest stamps received_at)."""

    at: datetime


class AlertService:
    """The alerts process; ``run()`` below is the entry point."""

    def __init__(
        self,
        settings: Settings,
        pool: AsyncConnectionPool[AsyncConnection],
        client: mqtt.Client,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.cfg = settings.alerts
        self.clock = clock
        self.pool = pool
        self.client = client
        self.inbox: asyncio.Queue[tuple[str, bytes] | Mark] = asyncio.Queue()
        self.rules = ElevatorRules(self.cfg)
        self.registry = RegistryCache(
            pool,
            refresh_s=self.cfg.registry_refresh_s,
            timeout_s=self.cfg.registry_timeout_s,
            cylinders_max=self.cfg.cylinder_cache_max,
        )
        self.writer = Writer(settings, pool, client, clock, self.registry)
        self.handled = 0  # messages judged (tests wait on it)
        self._fill_max: dict[str, float | None] = {}
        self._overfilled: set[str] = set()
        # Fillings recovery judged from the database (their messages may come
        # again from the broker's session): one outage's worth at most.
        self._replayed_fillings: set[str] = set()
        self._last_sweep: datetime | None = None
        self._sweeping = False
        self._last_tick = float("-inf")

    # -- input -------------------------------------------------------------

    def emit(self, ops: list[Op]) -> None:
        for op in ops:
            self.writer.queue.put_nowait(op)

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
        elif got.kind == "event" and got.event is not None:
            self.emit(self.rules.on_event(got.equipment_id, got.event, now=now, mono=mono))
        elif got.kind == "scale":
            await self._scale(got)
        elif got.kind == "filling":
            await self._filling(got)

    async def _scale(self, got: Decoded) -> None:
        s = got.scale
        assert s is not None
        if s.filling_id in self._overfilled or s.filling_id in self._replayed_fillings:
            return  # raised already, or the filling is over (its record judged on start)
        if s.filling_id not in self._fill_max:
            try:
                cyl = await self.registry.cylinder(s.cylinder_id)
            except RegistryUnavailable:
                # the next sample asks again (the cache cannot learn it meanwhile)
                UNJUDGED.labels("scale_cylinder_not_cached").inc()
                log.debug("scale sample of %s not judged: cylinder not cached", s.filling_id)
                return
            self._fill_max[s.filling_id] = float(cyl["max_fill_kg"]) if cyl else None
        limit = self._fill_max[s.filling_id]
        if limit is not None and s.net_kg > limit:
            self._overfilled.add(s.filling_id)
            station = await self.registry.station(got.equipment_id)
            self.emit([Raise(overfill_draft(got.equipment_id, s, limit, station))])

    async def _filling(self, got: Decoded) -> None:
        f = got.filling
        assert f is not None
        if f.filling_id in self._replayed_fillings:
            return  # judged on start from `fillings`: the broker's copy
        drafts = await self._judge_filling(got.equipment_id, f)
        if drafts is not None:
            self.emit([Raise(d) for d in drafts])  # stored from the outbox if the database is down

    async def _judge_filling(self, station_id: str, f: Filling) -> list[AlertDraft] | None:
        """The record's alerts; None when it cannot be judged."""
        fid = f.filling_id
        try:
            # Fresh from the database; while it is down, as last cached.
            cyl = await self.registry.cylinder(f.cylinder_id)
        except RegistryUnavailable:
            # Nothing to judge against; ingest keeps the record.
            UNJUDGED.labels("filling_cylinder_not_cached").inc()
            log.error(
                "filling %s not judged: database unreachable and cylinder %s never cached",
                fid,
                f.cylinder_id,
            )
            return None
        from_cache = self.registry.down
        raised = fid in self._overfilled or await self._overfill_stored(fid)
        station = await self.registry.station(station_id)
        drafts = filling_drafts(station_id, f, cyl, station, overfill_raised=raised)
        for d in drafts:
            if from_cache:  # say so: the registry may have changed since
                d.details["registry_source"] = "cache (database unreachable)"
        self._fill_max.pop(fid, None)
        self._overfilled.discard(fid)
        return drafts

    async def _overfill_stored(self, fid: str) -> bool:
        """An overfill alert of this filling raised before a restart (memory
        knows the ones raised since). While the database is down: memory only."""
        if self.registry.down:
            return False
        try:
            async with self.pool.connection(timeout=self.cfg.registry_timeout_s) as conn:
                cur = await conn.execute(_OVERFILL_EXISTS, (f"overfill:{fid}",))
                return await cur.fetchone() is not None
        except DB_ERRORS as exc:
            self.registry.failed(exc)
            return False

    # -- recovery ----------------------------------------------------------

    async def recover(self) -> None:
        """Rebuild per-car state from the database and judge, as a late backlog,
        the samples, events and fillings no process judged (received after the
        checkpoint; see the module docstring). Ops it makes wait in the
        writer's queue."""
        now = self.clock.now()
        ops: list[Op] = []
        async with self.pool.connection() as conn:
            self._recover_open(await store.open_alerts(conn))
            checkpoint = await store.load_checkpoint(
                conn,
                topic_root=self.settings.mqtt.topic_root,
                partitions=self.cfg.partitions,
                partition=self.cfg.partition,
            )
            judged = self._judged_before(checkpoint, now)
            since = min(now, judged or now) - timedelta(seconds=self.cfg.recovery_window_s)
            until = now + timedelta(seconds=self.settings.ingest.future_tolerance_s)
            events = await self._stored_events(conn, since, until, judged)
            n_events = sum(e.fresh for evs in events.values() for e in evs)
            episodes = await self._episodes(conn, events, since)
            cars, backlog = await self._replay_cars(
                conn, (since, until), judged, events, episodes, ops
            )
            await self._recover_alarm_tests(conn, now)
            fillings = await self._unjudged_fillings(conn, judged)
            await conn.commit()
        ops += await self._judge_stored_fillings(fillings)
        self.emit(ops)
        log.info(
            "recovered %d open alerts, %d elevators; judged %d samples, %d events and %d"
            " fillings no process had judged (checkpoint %s): %d alert changes",
            len(self.rules.open),
            cars,
            backlog,
            n_events,
            len(fillings),
            checkpoint,
            len(ops),
        )

    def _recover_open(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            elevator = row["kind"] in ELEVATOR_KINDS
            if not self.mine(row["equipment_id"] if elevator else (row["station_id"] or "")):
                continue
            if elevator:
                self.rules.open[row["condition_key"]] = row["started_at"]
            elif row["kind"] == "overfill":
                self._overfilled.add(row["condition_key"].split(":", 1)[1])

    def _judged_before(self, checkpoint: datetime | None, now: datetime) -> datetime | None:
        """Messages received at or before this were judged by a previous process;
        None: nothing says so (no checkpoint yet)."""
        if checkpoint is None:
            return None
        judged = checkpoint - timedelta(seconds=self.cfg.checkpoint_margin_s)
        oldest = now - timedelta(seconds=self.cfg.recovery_max_backlog_s)
        if judged < oldest:
            log.warning(
                "checkpoint %s is older than %.0f s: only the last part of the outage is judged",
                checkpoint,
                self.cfg.recovery_max_backlog_s,
            )
            return oldest
        return judged

    async def _stored_events(
        self, conn: AsyncConnection, since: datetime, until: datetime, judged: datetime | None
    ) -> dict[str, list[StoredEvent]]:
        """This partition's events of the window, by car, in ts order. Events
        are few next to samples: read at once."""
        out: dict[str, list[StoredEvent]] = {}
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(_RECENT_EVENTS, (since, until))
            for r in await cur.fetchall():
                eid = r.pop("elevator_id")
                if not self.mine(eid):
                    continue
                received = r.pop("received_at")
                fresh = judged is not None and received > judged
                # validated again: times come back in UTC, as decode gives them
                # (late_alert_id hashes their text)
                out.setdefault(eid, []).append(StoredEvent(ElevatorEvent.model_validate(r), fresh))
        return out

    @staticmethod
    async def _episodes(
        conn: AsyncConnection, events: dict[str, list[StoredEvent]], since: datetime
    ) -> dict[str, list[tuple[datetime, datetime]]]:
        """Resolved alerts of the faults and trapped reports of the window's
        events, so a replay does not raise again what was raised or recorded
        and is over (a dispatcher may have resolved it while the fault stood,
        or the terminal says nothing more after a rescue)."""
        keys = set()
        for eid, evs in events.items():
            for e in evs:
                if e.ev.code == "trapped":
                    keys.add(trapped_key(eid))
                elif e.ev.code not in NOT_FAULTS:
                    keys.add(fault_key(eid, e.ev.code))
        if not keys:
            return {}
        cur = await conn.execute(_EPISODES, (list(keys), since))
        out: dict[str, list[tuple[datetime, datetime]]] = {}
        for key, started, ended in await cur.fetchall():
            out.setdefault(key, []).append((started, ended))
        return out

    async def _replay_cars(
        self,
        conn: AsyncConnection,
        window: tuple[datetime, datetime],
        judged: datetime | None,
        events: dict[str, list[StoredEvent]],
        episodes: Episodes,
        ops: list[Op],
    ) -> tuple[int, int]:
        """Every car with samples or events in the window; returns how many
        cars, and how many samples no process had judged."""
        cars = backlog = 0
        # Streamed a car at a time (a server-side cursor): an hour of a
        # city's samples never sits in memory at once.
        async with conn.cursor(name="semon_alerts_recover", row_factory=dict_row) as cur:
            cur.itersize = 10_000
            await cur.execute(_RECENT_SAMPLES, window)
            rows: list[dict[str, Any]] = []
            eid, keep = "", False
            async for r in cur:
                if r["elevator_id"] != eid:
                    if rows:
                        backlog += self._recover_car(eid, rows, judged, events, episodes, ops)
                        cars += 1
                    eid, rows = r["elevator_id"], []
                    keep = self.mine(eid)
                if keep:
                    rows.append(r)
            if rows:
                backlog += self._recover_car(eid, rows, judged, events, episodes, ops)
                cars += 1
        for eid in list(events):  # cars with events and no sample in the window
            self._recover_car(eid, [], judged, events, episodes, ops)
            cars += 1
        return cars, backlog

    def _recover_car(
        self,
        eid: str,
        rows: list[dict[str, Any]],
        judged: datetime | None,
        events: dict[str, list[StoredEvent]],
        episodes: Episodes,
        ops: list[Op],
    ) -> int:
        """One car's samples (ts order) and events: state from those judged
        before, the rest judged now. Returns how many samples were not judged
        before."""
        car = self.rules.car(eid)
        judged_until: datetime | None = None
        fresh = 0
        samples = []
        for r in rows:
            received = r.pop("received_at")
            del r["elevator_id"]
            s = cast(StatusSample, r)  # the columns are the sample's keys, in order
            samples.append(s)
            if judged is None or received <= judged:
                judged_until = s["ts"]  # rows come in ts order
            else:
                fresh += 1
        car.samples = samples
        # replay() judges (emits for) the samples after judged_until only, as
        # settle() does for a late upload; None: all of them were never judged.
        car.judged_until = judged_until
        ops += self.rules.replay(car, events.pop(eid, ()), episodes)
        self.rules.arm(car)
        return fresh

    async def _recover_alarm_tests(self, conn: AsyncConnection, now: datetime) -> None:
        cur = await conn.execute(_LAST_ALARM_TESTS, (now - timedelta(days=7),))
        for eid, ts in await cur.fetchall():
            if self.mine(eid):
                car = self.rules.car(eid)
                if car.last_alarm_test is None or ts > car.last_alarm_test:
                    car.last_alarm_test = ts

    async def _unjudged_fillings(
        self, conn: AsyncConnection, judged: datetime | None
    ) -> list[tuple[str, Filling]]:
        """(station, record) of this partition's fillings received after the
        checkpoint; none without one (nothing says what was judged)."""
        if judged is None:
            return []
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(_UNJUDGED_FILLINGS, (judged,))
            rows = await cur.fetchall()
        out = []
        for r in rows:
            station_id = r.pop("station_id")
            if self.mine(station_id):
                out.append((station_id, Filling.model_validate(r)))
        return out

    async def _judge_stored_fillings(self, fillings: list[tuple[str, Filling]]) -> list[Op]:
        """Judge them as they arrived, less every alert already stored for its
        condition (open, or resolved by a dispatcher since: raise_alert would
        open a second one): a filling judged before the kill, in the margin,
        raises nothing twice, one killed between two of its alerts the rest."""
        drafts: list[AlertDraft] = []
        for station_id, f in fillings:
            got = await self._judge_filling(station_id, f)
            if got is not None:  # else its redelivered copy, if any, gets another chance
                drafts += got
                self._replayed_fillings.add(f.filling_id)
        if not drafts:
            return []
        async with self.pool.connection() as conn:
            cur = await conn.execute(_ALERTED, ([d.condition_key for d in drafts],))
            known = {str(r[0]) for r in await cur.fetchall()}
            await conn.commit()
        return [Raise(d) for d in drafts if d.condition_key not in known]

    # -- loops -------------------------------------------------------------

    async def engine(self) -> None:
        # Per-car state is many long-lived small objects: freeze what recovery
        # built so collections do not walk it again and again. (Raising the
        # thresholds made rarer but longer pauses: worse for the p99.)
        gc.freeze()
        tick = self.cfg.tick_interval_s
        next_tick = next_mark = next_freeze = time.monotonic()
        while True:
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
                self.emit([Checkpoint(item.at)])  # behind the ops judged before it
            elif item is not None:
                topic, payload = item
                try:
                    await self.handle(topic, payload)
                except Exception:  # one bad message never stops the stream
                    log.exception("message on %s not judged", topic[:200])
                self.handled += 1
                if self.handled % 256 == 0:
                    await asyncio.sleep(0)  # let the writer and MQTT run under a flood
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
        due = (
            self._last_sweep is None
            or (now - self._last_sweep).total_seconds() >= self.cfg.sweep_interval_s
        )
        # Not while the last sweep's alerts are still being written: a sweep
        # slower to write than its interval would grow the bulk queue forever.
        if due and not self._sweeping and self.writer.db_ok and not self.writer.bulk:
            self._last_sweep = now
            self._sweeping = True
            task = asyncio.get_running_loop().create_task(self.sweep(now))
            task.add_done_callback(lambda _t: setattr(self, "_sweeping", False))

    async def sweep(self, now: datetime) -> None:
        try:
            if self.cfg.partition == 0:  # fleet-wide: one partition runs it
                async with self.pool.connection(timeout=10) as conn:
                    ops = await sweep(conn, self.cfg, now)
                    await conn.commit()
                # Behind any judged change: thousands at once on a first start.
                self.writer.put_bulk(ops)
            await self.registry.maybe_refresh()
            await self.sync_open()
        except (psycopg.Error, TimeoutError, OSError) as exc:
            log.warning("sweep failed: %s", exc)

    async def sync_open(self) -> None:
        """Forget conditions someone resolved by hand (the API), so a new
        episode raises a new alert. Skipped while writes are queued."""
        if self.writer.outbox or not self.writer.queue.empty():
            return
        async with self.pool.connection(timeout=5) as conn:
            cur = await conn.execute(
                "SELECT condition_key, started_at, equipment_id FROM alerts"
                " WHERE state <> 'resolved' AND kind = ANY(%s)",
                (list(ELEVATOR_KINDS),),
            )
            rows = await cur.fetchall()
            await conn.commit()
        if self.writer.outbox or not self.writer.queue.empty():
            return
        self.rules.open = {str(k): v for k, v, eid in rows if self.mine(eid)}

    async def periodic(self) -> None:
        last_escalation = 0.0
        while True:
            await asyncio.sleep(self.cfg.publish_poll_s)
            if self.cfg.partition != 0:
                await self.writer.publish_pending(own_only=True)
                continue
            await self.writer.publish_pending()
            if time.monotonic() - last_escalation >= min(1.0, self.cfg.escalate_after_s):
                last_escalation = time.monotonic()
                await self.writer.escalate_due()


async def run(
    settings: Settings, *, ready: asyncio.Event | None = None, clock: Clock | None = None
) -> None:
    """Run until cancelled."""
    clock = clock or SystemClock()
    cfg = settings.alerts
    if cfg.metrics_port:
        start_http_server(cfg.metrics_port)
    # No check per checkout: every user here already treats a failed query as
    # the database being away (the writer's outbox, the registry cache), and
    # the check's round trip sat on every page's path.
    async with open_pool(
        settings.database_url,
        min_size=2,
        max_size=4,
        name="semon-alerts",
        timeout=30,
        check=False,
    ) as pool:
        holder: dict[str, AlertService] = {}
        early: list[tuple[str, bytes]] = []

        def on_message(topic: str, payload: bytes, qos: int, props: dict[str, Any]) -> int:
            # Inline in gmqtt's reader (no task per message), acknowledged at
            # once: recovery from the database (the checkpoint), not
            # redelivery, is what restores what a crash loses.
            svc = holder.get("svc")
            if svc is None:
                early.append((topic, payload))
            else:
                svc.inbox.put_nowait((topic, payload))
            return 0

        async with mqtt.connect(
            settings.mqtt_url,
            cfg.client_id,
            on_message_deferred=on_message,
            clean_start=False,
            session_expiry_s=settings.mqtt.session_expiry_s,
            keepalive_s=settings.mqtt.keepalive_s,
            reconnect_min_s=settings.mqtt.reconnect_min_s,
            reconnect_max_s=settings.mqtt.reconnect_max_s,
        ) as client:
            svc = AlertService(settings, pool, client, clock)
            for item in early:
                svc.inbox.put_nowait(item)
            holder["svc"] = svc
            await svc.registry.refresh()
            await svc.recover()
            await client.subscribe(*[(t, 1) for t in device_topics(settings.mqtt.topic_root)])
            await serve(svc, ready)


async def serve(svc: AlertService, ready: asyncio.Event | None) -> None:
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(svc.engine(), name="alerts-engine")
            tg.create_task(svc.writer.run(), name="alerts-writer")
            tg.create_task(svc.periodic(), name="alerts-periodic")
            if ready is not None:
                ready.set()
    finally:
        # Flush what is queued (bounded: shutdown must not hang on a dead database).
        async def drain() -> None:
            while not svc.writer.queue.empty() and svc.writer.db_ok:
                await svc.writer.apply(svc.writer.queue.get_nowait())
            await svc.writer.publish_pending()

        try:
            await asyncio.wait_for(drain(), timeout=5)
        except (TimeoutError, *DB_ERRORS) as exc:
            log.warning("alerts shutdown could not flush everything: %s", exc)
        await svc.registry.close()
