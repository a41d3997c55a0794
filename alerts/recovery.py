"""Recovery on start: the open alerts and the checkpoint read back, each
car's state rebuilt from the samples and terminal events ingest stored, and
what no process judged (received after the checkpoint) judged now as a late
backlog, fillings included. Why this is enough after a ``kill -9``: README,
"Alerts: rules on device time"."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, cast

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from alerts.engine import Engine
from alerts.keys import event_key, filling_of
from alerts.ops import Op, Raise
from alerts.replay import Episodes, StoredEvent, replay
from alerts.terminal_clock import observe_clock
from semon.domain.alerts import ELEVATOR_KINDS, AlertDraft
from semon.domain.wire import ElevatorEvent, Filling, StatusSample
from semon.store.alert_checkpoints import load_checkpoint

log = logging.getLogger(__name__)

_OPEN_ALERTS = "SELECT * FROM alerts WHERE state <> 'resolved'"
_RECENT_SAMPLES = """
SELECT elevator_id, ts, floor, speed, direction, door, door_zone, occupied, load_kg, mode, alarm,
       power, trips, door_cycles, run_s, received_at
FROM elevator_status WHERE ts > %s AND ts <= %s ORDER BY elevator_id, ts
"""
_LAST_ALARM_TESTS = """
SELECT elevator_id, max(ts) FROM elevator_events
WHERE code = 'alarm_test' AND ts > %s GROUP BY elevator_id
"""
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


class Recovery:
    """One start's recovery of an engine's state; ``run`` returns the ops it
    judged (for the writer's queue)."""

    def __init__(self, engine: Engine, pool: AsyncConnectionPool[AsyncConnection]) -> None:
        self.settings = engine.settings
        self.cfg = engine.cfg
        self.clock = engine.clock
        self.rules = engine.rules
        self.fillings = engine.fillings
        self.mine = engine.mine
        self.pool = pool

    async def run(self) -> list[Op]:
        """Rebuild per-car state from the database and judge, as a late backlog,
        the samples, events and fillings no process judged (received after the
        checkpoint). Returns the alert changes that judging made."""
        now = self.clock.now()
        ops: list[Op] = []
        async with self.pool.connection() as conn:
            async with conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(_OPEN_ALERTS)
                self._recover_open(await cur.fetchall())
            checkpoint = await load_checkpoint(
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
        return ops

    def _recover_open(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            elevator = row["kind"] in ELEVATOR_KINDS
            if not self.mine(row["equipment_id"] if elevator else (row["station_id"] or "")):
                continue
            if elevator:
                self.rules.open[row["condition_key"]] = row["started_at"]
            elif row["kind"] == "overfill":
                self.fillings.overfilled.add(filling_of(row["condition_key"]))

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
        keys = {k for eid, evs in events.items() for e in evs if (k := event_key(eid, e.ev.code))}
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
        arrivals = []
        for r in rows:
            received = r.pop("received_at")
            del r["elevator_id"]
            s = cast(StatusSample, r)  # the columns are the sample's keys, in order
            samples.append(s)
            arrivals.append((s["ts"], received))
            if judged is None or received <= judged:
                judged_until = s["ts"]  # rows come in ts order
            else:
                fresh += 1
        car.samples = samples
        # The terminal's clock as its last samples arrived (ingest's receive
        # times): a slow or fast clock is known from the first message on.
        for ts, received in arrivals[-4 * max(1, self.cfg.skew_samples) :]:
            observe_clock(self.cfg, car, ts, received)
        # replay() judges (emits for) the samples after judged_until only, as
        # settle() does for a late upload; None: all of them were never judged.
        car.judged_until = judged_until
        ops += replay(self.rules, car, events.pop(eid, ()), episodes)
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
            got = await self.fillings.judge(station_id, f)
            if got is not None:  # else its redelivered copy, if any, gets another chance
                drafts += got
                self.fillings.replayed.add(f.filling_id)
        if not drafts:
            return []
        async with self.pool.connection() as conn:
            cur = await conn.execute(_ALERTED, ([d.condition_key for d in drafts],))
            known = {str(r[0]) for r in await cur.fetchall()}
            await conn.commit()
        return [Raise(d) for d in drafts if d.condition_key not in known]
