"""The elevator rules on device time: trapped passengers, faults, offline
terminals, missed alarm-line tests, judged live as samples and terminal
events arrive and by the clock.

Fresh in-order samples are judged at once; late or out-of-order ones wait
until the upload goes quiet and the car's buffer is judged again as a whole
(``settle``). Why, and how recovery replays a car: README, "Alerts: rules on
device time".

Each terminal's clock offset is learned from its own messages (its recent
delays, trusted once they agree: alerts/terminal_clock.py) and every rule of it
reads the platform clock on the terminal's (README, "Wrong clocks, future
dates and replay storms").
"""

from __future__ import annotations

import bisect
import heapq
import math
import operator
from collections.abc import Mapping
from datetime import datetime, timedelta

from alerts.drafts import (
    alarm_test_draft,
    fault_draft,
    offline_draft,
    trapped_draft,
)
from alerts.elevator_conditions import (
    ends_fault,
    fault_end_why,
    trapped_condition,
    trapped_reported,
)
from alerts.elevator_state import Elevator, device_now, trapped_due
from alerts.keys import OpenAlerts, alarm_test_key, fault_key
from alerts.metrics import DEFERRED
from alerts.ops import Close, Op, Raise, Record
from alerts.terminal_clock import observe_clock
from semon.domain.alerts import AlertDraft, late_alert_id
from semon.domain.wire import ElevatorEvent, StatusSample
from semon.settings import AlertSettings

_by_ts = operator.itemgetter("ts")


class ElevatorRules:
    """Every car's state, the alerts known open, and the rules judging them."""

    def __init__(self, cfg: AlertSettings) -> None:
        self.cfg = cfg
        self.cars: dict[str, Elevator] = {}
        # condition_key -> started_at of alerts known open (recovered, raised)
        self._open = OpenAlerts()
        # Cars a fast tick must look at every time (a fault in debounce, a
        # backlog to settle: both rare) ...
        self.armed: set[str] = set()
        # ... and, in a heap, when each standing car's trapped threshold falls
        # due (device time): thousands of cars stand with people inside at any
        # moment, and looking at each of them 20 times a second cost more than
        # judging the samples.
        self.deadlines: list[tuple[datetime, str]] = []
        # Cars standing with someone inside, or with a trapped alert open: their
        # samples are judged ahead of the queued telemetry too (alerts/service.py).
        self.watched: set[str] = set()
        # Status messages per car still waiting in the inbox (the MQTT handler
        # counts them in, the engine out). A standing car's timer that falls
        # due while its own newer samples wait there is not judged until they
        # are: they may show it released (an overloaded engine seconds behind
        # the fleet would otherwise page every car that stood a moment).
        self.queued: dict[str, int] = {}
        # Cars due, waiting for their queued samples: until when (monotonic)
        self.deferred: dict[str, float] = {}
        # The fleet-wide checks (offline, alarm tests) walk the cars a slice
        # per fast tick instead of all at once: no pause of tens of ms.
        self._scan: list[str] = []
        self._scan_at = 0
        # (elevator_id, ts, code) of the events recovery judged that no process
        # had: the broker's session redelivers some of them after the restart.
        self.replayed: set[tuple[str, datetime, str]] = set()

    @property
    def open(self) -> OpenAlerts:
        return self._open

    @open.setter
    def open(self, alerts: Mapping[str, datetime]) -> None:
        self._open = OpenAlerts(alerts)

    def car(self, eid: str) -> Elevator:
        c = self.cars.get(eid)
        if c is None:
            c = self.cars[eid] = Elevator(eid)
        return c

    # -- samples -----------------------------------------------------------

    def on_samples(
        self, eid: str, samples: tuple[StatusSample, ...], *, now: datetime, mono: float
    ) -> list[Op]:
        car = self.car(eid)
        car.last_rx = mono
        ops: list[Op] = []
        backlog = timedelta(seconds=self.cfg.backlog_after_s)
        ordered = sorted(samples, key=_by_ts)
        car.heard_at = now
        if ordered:
            observe_clock(self.cfg, car, ordered[-1]["ts"], now)
        now = device_now(car, now)  # what is fresh is judged on the terminal's clock
        for s in ordered:
            if not car.samples or s["ts"] > car.samples[-1]["ts"]:
                i = len(car.samples)  # the common case: in order, no search
            else:
                i = bisect.bisect_left([x["ts"] for x in car.samples], s["ts"])
            if i < len(car.samples) and car.samples[i]["ts"] == s["ts"]:
                continue  # a redelivered duplicate
            in_order = i == len(car.samples) and (
                car.judged_until is None or s["ts"] > car.judged_until
            )
            car.samples.insert(i, s)
            fresh = now - s["ts"] <= backlog
            if in_order and car.dirty and fresh and i == len(car.samples) - 1:
                # Live data again after a late or out-of-order stretch: judge that
                # stretch now rather than wait for a quiet gap that a terminal
                # sending every second never leaves (detection would stall).
                ops += self.settle(car)
            elif in_order and not car.dirty and fresh:
                ops += self.step(car, s, emit=True, live=True)
                car.judged_until = s["ts"]
            else:
                car.dirty = True
        if not car.dirty:  # a late upload is kept whole until it is judged
            self.trim(car)
        self.arm(car)
        return ops

    def arm(self, car: Elevator) -> None:
        if car.episode_start is not None or car.trapped_key in self.open:
            self.watched.add(car.eid)
        else:
            self.watched.discard(car.eid)
        if car.dirty or car.pending_faults:
            self.armed.add(car.eid)
        else:
            self.armed.discard(car.eid)
        # A dirty car is armed (looked at every tick) until its backlog settles.
        if car.episode_start is not None and not car.dirty and car.trapped_key not in self.open:
            due = trapped_due(car)
            if car.clock_offset_s:  # the heap is on platform time
                due += timedelta(seconds=car.clock_offset_s)
            # A later deadline waits for the earlier entry to come due (it is
            # then found not due and pushed again): one entry per car.
            if car.due is None or due < car.due:
                car.due = due
                heapq.heappush(self.deadlines, (due, car.eid))

    def dequeued(self, eid: str) -> None:
        """One of the car's status messages left the inbox to be judged."""
        n = self.queued.get(eid, 0) - 1
        if n > 0:
            self.queued[eid] = n
            return
        self.queued.pop(eid, None)
        if self.deferred.pop(eid, None) is not None:
            car = self.cars.get(eid)
            if car is not None:
                self.arm(car)

    def held(self, eid: str, mono: float) -> bool:
        """The car's own newer samples wait in the inbox, and its deferral
        has not run out: its trapped timer waits for them."""
        return eid in self.queued and mono < self.deferred.get(eid, math.inf)

    def trim(self, car: Elevator) -> None:
        if len(car.samples) > self.cfg.sample_window:
            del car.samples[: len(car.samples) - self.cfg.sample_window]

    def step(self, car: Elevator, s: StatusSample, *, emit: bool, live: bool) -> list[Op]:
        ops: list[Op] = []
        key = car.trapped_key
        started = self.open.get(key)
        if started is not None and s["ts"] < started:
            # Older than the open trapped alert (a terminal event is judged
            # ahead of the samples queued before it): it neither ends nor
            # restarts that episode; faults and offline still count it.
            return self._step_rest(car, s, emit=emit)
        cond = trapped_condition(self.cfg, car, s)
        if cond is not None:
            thr, why = cond
            if car.episode_start is None:
                car.episode_start, car.episode_threshold_s, car.episode_reason = s["ts"], thr, why
                car.threshold_since = s["ts"]
            elif thr < car.episode_threshold_s:
                car.episode_threshold_s, car.episode_reason, car.threshold_since = thr, why, s["ts"]
            held = (s["ts"] - car.episode_start).total_seconds()
            if emit and live and key not in self.open and held >= car.episode_threshold_s:
                ops.append(self._raise(trapped_draft(car, car.episode_start, s)))
        else:
            if car.episode_start is not None and key not in self.open:
                held = (s["ts"] - car.episode_start).total_seconds()
                if emit and held >= car.episode_threshold_s:
                    d = trapped_draft(car, car.episode_start, s, live=False, ended=s["ts"])
                    d.details["held_s"] = held
                    d.alert_id = late_alert_id(key, car.episode_start)
                    ops.append(Record(d, "self_released"))
            car.episode_start = None
        # Only what happens after the alert began releases it: a replay on
        # start judges the window's earlier samples (ordinary door openings
        # before the trap) with the alert already known open.
        if key in self.open and s["ts"] >= self.open[key]:
            if s["door"] in ("open", "opening") and s["door_zone"]:
                car.released_at = car.released_at or s["ts"]
            if car.released_at is not None and s["occupied"] is not True and emit:
                started = self.open[key]
                held = max(0.0, (car.released_at - started).total_seconds())
                ops.append(
                    Close(
                        key,
                        "self_released",
                        ended_at=car.released_at,
                        details={"held_s": held},
                        resolution_if_on_site="rescued",
                    )
                )
                self.open.pop(key, None)
                car.released_at = None
                if cond is None:
                    car.episode_start = None
        return ops + self._step_rest(car, s, emit=emit)

    def _step_rest(self, car: Elevator, s: StatusSample, *, emit: bool) -> list[Op]:
        ops: list[Op] = []
        # faults that normal running or mains power end
        faults = self.open.faults.get(car.eid, ())
        for code in [*car.pending_faults, *sorted(faults)] if car.pending_faults or faults else ():
            if ends_fault(code, s):
                ops += self.end_fault(car, code, s["ts"], fault_end_why(code), emit=emit)
        offline = car.offline_key
        if emit and offline in self.open and s["ts"] >= self.open[offline]:
            back = {"back_at": s["ts"].isoformat()}
            ops.append(Close(offline, "other", ended_at=s["ts"], details=back))
            self.open.pop(offline, None)
        return ops

    def _raise(self, d: AlertDraft) -> Raise:
        self.open[d.condition_key] = d.started_at
        return Raise(d)

    def settle(self, car: Elevator, *, emit: bool = True) -> list[Op]:
        """Re-judge the whole buffer after a late or out-of-order upload went quiet."""
        before = car.judged_until
        car.episode_start = None
        car.released_at = None
        ops: list[Op] = []
        for s in car.samples:
            fresh = before is None or s["ts"] > before
            ops += self.step(car, s, emit=emit and fresh, live=False)
        car.judged_until = car.last_ts
        car.dirty = False
        self.trim(car)
        return ops

    # -- events ------------------------------------------------------------

    def on_event(self, eid: str, ev: ElevatorEvent, *, now: datetime, mono: float) -> list[Op]:
        if self.replayed and (eid, ev.ts, ev.code) in self.replayed:
            # Judged on start from elevator_events: the broker's copy of it
            # (a fault recovery found over would be pending again).
            self.replayed.discard((eid, ev.ts, ev.code))
            return []
        car = self.car(eid)
        car.last_rx = mono
        car.heard_at = now
        observe_clock(self.cfg, car, ev.ts, now)
        live = device_now(car, now) - ev.ts <= timedelta(seconds=self.cfg.backlog_after_s)
        ops: list[Op] = []
        code = ev.code
        if code == "alarm_button":
            self.alarm_pressed(car, ev, car.last_sample)
        elif code == "alarm_test":
            ops += self.alarm_tested(car, ev, emit=True)
        elif code == "trapped":
            if car.trapped_key not in self.open:
                started = trapped_reported(car, ev)
                if live and not car.dirty:
                    d = trapped_draft(car, started, car.last_sample)
                    d.details["event"] = ev.model_dump(mode="json")
                    ops.append(self._raise(d))
        elif code == "power_restored":
            ops += self.end_fault(car, "power_loss", ev.ts, "power_restored event", emit=True)
        else:
            k = fault_key(eid, code)
            if k in self.open:
                ops.append(Raise(fault_draft(car.eid, ev)))  # a repeat: updates the open alert
            elif code not in car.pending_faults or ev.ts < car.pending_faults[code].ts:
                car.pending_faults[code] = ev
                ops += self.ended_already(car, code, ev.ts)
        self.arm(car)
        return ops

    def ended_already(self, car: Elevator, code: str, since: datetime) -> list[Op]:
        """A fault event judged after samples newer than it (events come on
        their own session, ahead of or behind the samples): the first of those
        samples that ends the fault ends it, as in device-time order."""
        if car.judged_until is None or since > car.judged_until:
            return []
        for s in car.samples:
            if since <= s["ts"] <= car.judged_until and ends_fault(code, s):
                return self.end_fault(car, code, s["ts"], fault_end_why(code), emit=True)
        return []

    def alarm_pressed(self, car: Elevator, ev: ElevatorEvent, last: StatusSample | None) -> None:
        """Remember the press (someone is inside, where no sensor says so); a car
        standing now meets its threshold from the press on."""
        car.alarm_at = ev.ts if car.alarm_at is None else max(car.alarm_at, ev.ts)
        cond = (
            trapped_condition(self.cfg, car, last)
            if last is not None and car.episode_start is None
            else None
        )
        if last is not None and cond is not None:
            car.episode_start = car.threshold_since = max(last["ts"], ev.ts)
            car.episode_threshold_s, car.episode_reason = cond

    def alarm_tested(self, car: Elevator, ev: ElevatorEvent, *, emit: bool) -> list[Op]:
        if car.last_alarm_test is None or ev.ts > car.last_alarm_test:
            car.last_alarm_test = ev.ts
        k = alarm_test_key(car.eid)
        if k not in self.open:
            return []
        self.open.pop(k)
        return (
            [Close(k, "other", ended_at=ev.ts, details={"alarm_test_at": ev.ts.isoformat()})]
            if emit
            else []
        )

    def end_fault(
        self, car: Elevator, code: str, at: datetime, why: str, *, emit: bool
    ) -> list[Op]:
        k = fault_key(car.eid, code)
        if k in self.open and at >= self.open[k]:
            self.open.pop(k)
            return [Close(k, "other", ended_at=at, details={"cleared_by": why})] if emit else []
        ev = car.pending_faults.get(code)
        if ev is not None and at >= ev.ts:
            del car.pending_faults[code]
            # Over before it was paged: debounced (short) or found in a backlog.
            d = fault_draft(car.eid, ev, live=False)
            d.ended_at = at
            d.details["duration_s"] = (at - ev.ts).total_seconds()
            d.details["cleared_by"] = why
            d.alert_id = late_alert_id(k, ev.ts)
            return [Record(d, "other")] if emit else []
        return []

    # -- the clock ---------------------------------------------------------

    def tick(self, now: datetime, mono: float, *, share: float = 1.0) -> list[Op]:
        """Clock rules: the armed cars and the standing cars now due, plus
        ``share`` of the fleet (at least one car) for the fleet-wide checks, so
        the whole fleet is covered every 1/share ticks; 1.0 is all of it now."""
        cfg = self.cfg
        ops: list[Op] = []
        offline_after = timedelta(seconds=cfg.expected_interval_s * cfg.offline_factor)
        cars = {e: self.cars[e] for e in self.armed}
        while self.deadlines and self.deadlines[0][0] <= now:
            due, eid = heapq.heappop(self.deadlines)
            car = self.cars.get(eid)
            if car is not None and car.due == due:
                car.due = None
                if eid in self.queued:
                    if eid not in self.deferred:
                        self.deferred[eid] = mono + cfg.trapped_defer_max_s
                        DEFERRED.inc()
                    wait = self.deferred[eid] - mono
                    if wait > 0:
                        # judged when its samples are (dequeued), or at the cap
                        car.due = now + timedelta(seconds=wait)
                        heapq.heappush(self.deadlines, (car.due, eid))
                        continue
                cars[eid] = car
        for car in cars.values():
            ops += self._tick_car(car, now, mono, full=False, offline_after=offline_after)
            self.arm(car)
        if not self._scan or self._scan_at >= len(self._scan):
            self._scan, self._scan_at = list(self.cars), 0
        n = max(1, math.ceil(len(self._scan) * share))
        for eid in self._scan[self._scan_at : self._scan_at + n]:
            car = self.cars.get(eid)
            if car is not None:
                ops += self._tick_car(car, now, mono, full=True, offline_after=offline_after)
                self.arm(car)
        self._scan_at += n
        return ops

    def _tick_car(
        self, car: Elevator, now: datetime, mono: float, *, full: bool, offline_after: timedelta
    ) -> list[Op]:
        cfg = self.cfg
        ops: list[Op] = []
        quiet = mono - car.last_rx >= cfg.backlog_quiet_s
        if car.dirty and quiet:
            ops += self.settle(car)
        if car.dirty:
            return ops
        heard = now - car.heard_at if car.heard_at is not None else None
        now = device_now(car, now)  # every rule below compares device times
        if (
            car.episode_start is not None
            and car.trapped_key not in self.open
            and now >= trapped_due(car)
            and not self.held(car.eid, mono)
        ):
            ops.append(self._raise(trapped_draft(car, car.episode_start, car.last_sample)))
        for code, ev in list(car.pending_faults.items()):
            if (now - ev.ts).total_seconds() >= cfg.fault_debounce_s and (
                quiet or now - ev.ts <= timedelta(seconds=cfg.backlog_after_s)
            ):
                del car.pending_faults[code]
                ops.append(self._raise(fault_draft(car.eid, ev)))
        if not full:
            return ops
        last_ts = car.last_ts
        if (
            last_ts is not None
            and car.offline_key not in self.open
            and now - last_ts > offline_after
            # A terminal whose clock is not known yet (its first messages) and
            # that was heard from lately is not silent, whatever its samples'
            # times say (one 290 s slow looked silent on first contact).
            and (car.clock_known or heard is None or heard > offline_after or not cfg.skew_samples)
        ):
            d = offline_draft(
                car.eid,
                last_ts,
                expected_interval_s=cfg.expected_interval_s,
                silent_after=offline_after,
            )
            ops.append(self._raise(d))
        at = car.last_alarm_test
        gap = timedelta(seconds=cfg.alarm_test_max_gap_s)
        if at is not None and alarm_test_key(car.eid) not in self.open and now - at > gap:
            ops.append(
                self._raise(alarm_test_draft(car.eid, at, max_gap_s=cfg.alarm_test_max_gap_s))
            )
        return ops
