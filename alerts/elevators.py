"""Elevator rules on device time: trapped passengers, faults, offline terminals,
missed alarm-line tests.

Per-elevator state lives here, in memory. Samples that arrive fresh and in
order are judged at once (the low-latency path). Samples that are late (older
than ``backlog_after_s``) or out of order wait in a sorted buffer until the
terminal's upload goes quiet, then the buffer is re-judged as a whole: an
episode that began and ended inside it is recorded resolved and not paged,
one still going on is raised live. Re-judging the whole sorted buffer is what
makes a duplicated, shuffled replay give the same alerts.

On start, ``replay`` is settle() for recovery: the buffer rebuilt from the
database with the car's stored events put back in device-time order among
the samples (alerts/service.py, recover).
"""

from __future__ import annotations

import bisect
import heapq
import math
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from alerts.ops import Close, Op, Raise, Record
from semon.domain.alerts import AlertDraft, late_alert_id
from semon.domain.gov_codes import gov_code_for
from semon.domain.wire import STATUS_SAMPLE, ElevatorEvent, StatusSample
from semon.settings import AlertSettings

MOVING_SPEED = 0.05  # m/s: below this a car is standing (sensor noise at rest)
TECHNICIAN_MODES = ("inspection", "maintenance")
# Codes that are not faults of their own.
NOT_FAULTS = frozenset({"alarm_button", "alarm_test", "power_restored", "trapped"})


_by_ts = operator.itemgetter("ts")


def trapped_key(eid: str) -> str:
    return f"trapped_passenger:{eid}"


_FAULT_PREFIX = "elevator_fault:"


def fault_key(eid: str, code: str) -> str:
    return f"{_FAULT_PREFIX}{eid}:{code}"


def offline_key(eid: str) -> str:
    return f"terminal_offline:{eid}"


def alarm_test_key(eid: str) -> str:
    return f"alarm_test_missed:{eid}"


def _iso(t: datetime) -> str:
    return t.isoformat()


def _fault_end_why(code: str) -> str:
    return "running normally" if code != "power_loss" else "mains power back"


class StoredEvent(NamedTuple):
    """An event read back from ``elevator_events`` on start. ``fresh``: ingest
    received it after the checkpoint, so no process judged it."""

    ev: ElevatorEvent
    fresh: bool


# condition_key -> (started_at, ended) of resolved alerts: episodes of a fault
# or of a reported trap already raised or recorded, which a replayed event
# must not raise again.
Episodes = Mapping[str, list[tuple[datetime, datetime]]]


def _covered(spans: list[tuple[datetime, datetime]] | None, ts: datetime) -> bool:
    return spans is not None and any(start <= ts <= end for start, end in spans)


def trapped_due(car: Elevator) -> datetime:
    """When the car's standing episode meets its threshold (device time)."""
    assert car.ep_start is not None
    return car.ep_start + timedelta(seconds=car.ep_threshold)


class OpenAlerts(dict[str, datetime]):
    """condition_key -> started_at of the alerts known open, with each car's
    open fault codes indexed: every sample asks for them, and scanning every
    open alert in the city per sample grew with the number open."""

    def __init__(self, items: Mapping[str, datetime] | None = None) -> None:
        super().__init__()
        self.faults: dict[str, set[str]] = {}
        for key, value in (items or {}).items():
            self[key] = value

    def __setitem__(self, key: str, value: datetime) -> None:
        super().__setitem__(key, value)
        if key.startswith(_FAULT_PREFIX):
            eid, _, code = key[len(_FAULT_PREFIX) :].rpartition(":")
            self.faults.setdefault(eid, set()).add(code)

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._unindex(key)

    def pop(self, key: str, *default: Any) -> Any:
        value = super().pop(key, *default)
        self._unindex(key)
        return value

    def _unindex(self, key: str) -> None:
        if key.startswith(_FAULT_PREFIX):
            eid, _, code = key[len(_FAULT_PREFIX) :].rpartition(":")
            codes = self.faults.get(eid)
            if codes is not None:
                codes.discard(code)
                if not codes:
                    del self.faults[eid]


@dataclass
class Elevator:
    eid: str
    samples: list[StatusSample] = field(default_factory=list)  # sorted by ts, a window
    judged_until: datetime | None = None
    last_rx: float = float("-inf")  # monotonic time the newest message arrived
    dirty: bool = False
    ep_start: datetime | None = None
    ep_threshold: float = 0.0
    ep_why: str = ""
    # When the threshold in force began to apply (a car standing occupied at a
    # landing that is then found between floors meets the lower one from then).
    ep_thr_since: datetime | None = None
    released_at: datetime | None = None
    alarm_at: datetime | None = None
    pending_faults: dict[str, ElevatorEvent] = field(default_factory=dict)
    last_alarm_test: datetime | None = None
    # The trapped deadline this car has in ElevatorRules.deadlines, if any.
    due: datetime | None = None
    # Its condition keys, made once: _step looks them up for every sample.
    tkey: str = field(init=False)
    okey: str = field(init=False)

    def __post_init__(self) -> None:
        self.tkey = trapped_key(self.eid)
        self.okey = offline_key(self.eid)

    @property
    def last_ts(self) -> datetime | None:
        return self.samples[-1]["ts"] if self.samples else None


class ElevatorRules:
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

    # -- condition ---------------------------------------------------------

    def _condition(self, car: Elevator, s: StatusSample) -> tuple[float, str] | None:
        """The trapped threshold that applies to this sample, or None."""
        cfg = self.cfg
        if s["mode"] in TECHNICIAN_MODES:
            return None  # a technician is in the car or on the roof
        if s["direction"] != "stopped" and s["speed"] >= MOVING_SPEED:
            return None
        alarm_recent = (
            car.alarm_at is not None
            and abs((s["ts"] - car.alarm_at).total_seconds()) <= cfg.alarm_memory_s
        )
        people = s["occupied"] is True or (s["occupied"] is None and (s["alarm"] or alarm_recent))
        if not s["door_zone"]:
            if people:
                return cfg.trapped_off_landing_s, "stopped outside the door zone with people inside"
            if s["power"] == "battery" and s["occupied"] is not False:
                return cfg.trapped_on_battery_s, "on battery power, stopped outside the door zone"
            return None
        if s["door"] == "closed" and people:
            return (
                cfg.trapped_at_landing_s,
                "stopped at a landing with doors shut and people inside",
            )
        return None

    def _draft_trapped(
        self,
        car: Elevator,
        started: datetime,
        last: StatusSample | None,
        *,
        live: bool = True,
        ended: datetime | None = None,
        why: str | None = None,
    ) -> AlertDraft:
        details: dict[str, Any] = {
            "reason": why or car.ep_why,
            "threshold_s": car.ep_threshold,
        }
        if car.ep_start is not None:
            met = car.ep_start + timedelta(seconds=car.ep_threshold)
            if car.ep_thr_since is not None and car.ep_thr_since > met:
                met = car.ep_thr_since
            details["condition_met_at"] = _iso(met)
        if last is not None:
            details["last_sample"] = STATUS_SAMPLE.dump_python(last, mode="json")
        floor = f" near floor {last['floor']}" if last is not None else ""
        return AlertDraft(
            condition_key=trapped_key(car.eid),
            kind="trapped_passenger",
            equipment_type="elevator",
            equipment_id=car.eid,
            started_at=started,
            summary=f"Passengers trapped in elevator {car.eid}{floor}: {details['reason']}",
            details=details,
            live=live,
            ended_at=ended,
        )

    # -- samples -----------------------------------------------------------

    def on_samples(
        self, eid: str, samples: tuple[StatusSample, ...], *, now: datetime, mono: float
    ) -> list[Op]:
        car = self.car(eid)
        car.last_rx = mono
        ops: list[Op] = []
        backlog = timedelta(seconds=self.cfg.backlog_after_s)
        for s in sorted(samples, key=_by_ts):
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
                ops += self._step(car, s, emit=True, live=True)
                car.judged_until = s["ts"]
            else:
                car.dirty = True
        if not car.dirty:  # a late upload is kept whole until it is judged
            self.trim(car)
        self.arm(car)
        return ops

    def arm(self, car: Elevator) -> None:
        if car.dirty or car.pending_faults:
            self.armed.add(car.eid)
        else:
            self.armed.discard(car.eid)
        # A dirty car is armed (looked at every tick) until its backlog settles.
        if car.ep_start is not None and not car.dirty and trapped_key(car.eid) not in self.open:
            due = trapped_due(car)
            # A later deadline waits for the earlier entry to come due (it is
            # then found not due and pushed again): one entry per car.
            if car.due is None or due < car.due:
                car.due = due
                heapq.heappush(self.deadlines, (due, car.eid))

    def trim(self, car: Elevator) -> None:
        if len(car.samples) > self.cfg.sample_window:
            del car.samples[: len(car.samples) - self.cfg.sample_window]

    def _step(self, car: Elevator, s: StatusSample, *, emit: bool, live: bool) -> list[Op]:
        ops: list[Op] = []
        key = car.tkey
        cond = self._condition(car, s)
        if cond is not None:
            thr, why = cond
            if car.ep_start is None:
                car.ep_start, car.ep_threshold, car.ep_why = s["ts"], thr, why
                car.ep_thr_since = s["ts"]
            elif thr < car.ep_threshold:
                car.ep_threshold, car.ep_why, car.ep_thr_since = thr, why, s["ts"]
            held = (s["ts"] - car.ep_start).total_seconds()
            if emit and live and key not in self.open and held >= car.ep_threshold:
                ops.append(self._raise(self._draft_trapped(car, car.ep_start, s)))
        else:
            if car.ep_start is not None and key not in self.open:
                held = (s["ts"] - car.ep_start).total_seconds()
                if emit and held >= car.ep_threshold:
                    d = self._draft_trapped(car, car.ep_start, s, live=False, ended=s["ts"])
                    d.details["held_s"] = held
                    d.alert_id = late_alert_id(key, car.ep_start)
                    ops.append(Record(d, "self_released"))
            car.ep_start = None
        if key in self.open:
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
                    car.ep_start = None
        # faults that normal running or mains power end
        faults = self.open.faults.get(car.eid, ())
        for code in [*car.pending_faults, *sorted(faults)] if car.pending_faults or faults else ():
            if self._ends_fault(code, s):
                ops += self._end_fault(car, code, s["ts"], _fault_end_why(code), emit=emit)
        ok = car.okey
        if emit and ok in self.open and s["ts"] >= self.open[ok]:
            ops.append(Close(ok, "other", ended_at=s["ts"], details={"back_at": _iso(s["ts"])}))
            self.open.pop(ok, None)
        return ops

    @staticmethod
    def _ends_fault(code: str, s: StatusSample) -> bool:
        if code == "power_loss":
            return s["power"] == "mains"
        return s["mode"] == "normal" and s["direction"] != "stopped" and s["speed"] >= MOVING_SPEED

    def _raise(self, d: AlertDraft) -> Raise:
        self.open[d.condition_key] = d.started_at
        return Raise(d)

    def settle(self, car: Elevator, *, emit: bool = True) -> list[Op]:
        """Re-judge the whole buffer after a late or out-of-order upload went quiet."""
        before = car.judged_until
        car.ep_start = None
        car.released_at = None
        ops: list[Op] = []
        for s in car.samples:
            fresh = before is None or s["ts"] > before
            ops += self._step(car, s, emit=emit and fresh, live=False)
        car.judged_until = car.last_ts
        car.dirty = False
        self.trim(car)
        return ops

    # -- recovery ----------------------------------------------------------

    def replay(self, car: Elevator, events: Sequence[StoredEvent], episodes: Episodes) -> list[Op]:
        """settle() on start, with the car's stored events (ts order) judged
        among its samples in device-time order, a sample first at equal times.
        A sample emits when after judged_until, as in settle(); an event when
        fresh. What is still going on at the end (a fault in debounce, a
        reported trap) is raised by the clock, as after settle()."""
        before = car.judged_until
        car.ep_start = None
        car.released_at = None
        ops: list[Op] = []
        unjudged: set[str] = set()  # pending faults that fresh events began
        i, last = 0, None
        for s in car.samples:
            while i < len(events) and events[i].ev.ts < s["ts"]:
                ops += self._replay_event(car, events[i], last, unjudged, episodes)
                i += 1
            fresh = before is None or s["ts"] > before
            if not fresh and unjudged:
                ops += self._end_unjudged(car, s, unjudged)
            ops += self._step(car, s, emit=fresh, live=False)
            last = s
        for e in events[i:]:
            ops += self._replay_event(car, e, last, unjudged, episodes)
        car.judged_until = car.last_ts
        car.dirty = False
        self.trim(car)
        return ops

    def _replay_event(
        self,
        car: Elevator,
        stored: StoredEvent,
        last: StatusSample | None,
        unjudged: set[str],
        episodes: Episodes,
    ) -> list[Op]:
        """One stored event, as on_event judges it, except that nothing is
        raised here: the clock raises what the rest of the backlog leaves
        going on (a trap reported and then released is recorded, not paged)."""
        ev, fresh = stored
        if fresh:
            self.replayed.add((car.eid, ev.ts, ev.code))
        code = ev.code
        if code == "alarm_button":
            self._alarm_pressed(car, ev, last)
        elif code == "alarm_test":
            return self._alarm_tested(car, ev, emit=fresh)
        elif code == "trapped":
            k = trapped_key(car.eid)
            # covered: paged and over (a rescue the dispatcher closed) before the restart
            if k not in self.open and not _covered(episodes.get(k), ev.ts):
                self._trapped_reported(car, ev)
        elif code == "power_restored":
            emit = fresh or "power_loss" in unjudged
            return self._end_fault(car, "power_loss", ev.ts, "power_restored event", emit=emit)
        else:
            return self._replay_fault(car, ev, fresh, unjudged, episodes)
        return []

    def _replay_fault(
        self,
        car: Elevator,
        ev: ElevatorEvent,
        fresh: bool,
        unjudged: set[str],
        episodes: Episodes,
    ) -> list[Op]:
        k = fault_key(car.eid, ev.code)
        if k in self.open:
            # A repeat updates the open alert (on_event); one before it began is old news.
            return [Raise(self._fault_draft(car, ev))] if fresh and ev.ts >= self.open[k] else []
        if _covered(episodes.get(k), ev.ts):
            return []  # raised (or recorded) before the restart and over since
        pending = car.pending_faults.get(ev.code)
        if pending is None or ev.ts < pending.ts:
            car.pending_faults[ev.code] = ev
            if fresh:
                unjudged.add(ev.code)
            else:
                unjudged.discard(ev.code)
        return []

    def _end_unjudged(self, car: Elevator, s: StatusSample, unjudged: set[str]) -> list[Op]:
        """A sample judged before ends faults that events nobody judged began
        (they came late): recorded now, or never."""
        ops: list[Op] = []
        for code in sorted(unjudged):
            if code in car.pending_faults and self._ends_fault(code, s):
                ops += self._end_fault(car, code, s["ts"], _fault_end_why(code), emit=True)
        unjudged.intersection_update(car.pending_faults)
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
        live = now - ev.ts <= timedelta(seconds=self.cfg.backlog_after_s)
        ops: list[Op] = []
        code = ev.code
        if code == "alarm_button":
            self._alarm_pressed(car, ev, car.samples[-1] if car.samples else None)
        elif code == "alarm_test":
            ops += self._alarm_tested(car, ev, emit=True)
        elif code == "trapped":
            k = trapped_key(eid)
            if k not in self.open:
                started = self._trapped_reported(car, ev)
                if live and not car.dirty:
                    last = car.samples[-1] if car.samples else None
                    d = self._draft_trapped(car, started, last)
                    d.details["event"] = ev.model_dump(mode="json")
                    ops.append(self._raise(d))
        elif code == "power_restored":
            ops += self._end_fault(car, "power_loss", ev.ts, "power_restored event", emit=True)
        else:
            k = fault_key(eid, code)
            if k in self.open:
                ops.append(Raise(self._fault_draft(car, ev)))  # a repeat: updates the open alert
            elif code not in car.pending_faults or ev.ts < car.pending_faults[code].ts:
                car.pending_faults[code] = ev
        self.arm(car)
        return ops

    def _alarm_pressed(self, car: Elevator, ev: ElevatorEvent, last: StatusSample | None) -> None:
        """Remember the press (someone is inside, where no sensor says so); a car
        standing now meets its threshold from the press on."""
        car.alarm_at = ev.ts if car.alarm_at is None else max(car.alarm_at, ev.ts)
        cond = self._condition(car, last) if last is not None and car.ep_start is None else None
        if last is not None and cond is not None:
            car.ep_start = car.ep_thr_since = max(last["ts"], ev.ts)
            car.ep_threshold, car.ep_why = cond

    def _alarm_tested(self, car: Elevator, ev: ElevatorEvent, *, emit: bool) -> list[Op]:
        if car.last_alarm_test is None or ev.ts > car.last_alarm_test:
            car.last_alarm_test = ev.ts
        k = alarm_test_key(car.eid)
        if k not in self.open:
            return []
        self.open.pop(k)
        return (
            [Close(k, "other", ended_at=ev.ts, details={"alarm_test_at": _iso(ev.ts)})]
            if emit
            else []
        )

    @staticmethod
    def _trapped_reported(car: Elevator, ev: ElevatorEvent) -> datetime:
        """The terminal's own detection: an episode due at once (threshold 0).
        Returns when it began."""
        if car.ep_start is None or ev.ts < car.ep_start:
            car.ep_start = ev.ts
        car.ep_threshold, car.ep_why = 0.0, "the terminal reports a trapped passenger"
        car.ep_thr_since = ev.ts
        return car.ep_start

    def _fault_draft(self, car: Elevator, ev: ElevatorEvent, *, live: bool = True) -> AlertDraft:
        gov = gov_code_for(ev.code, ev.gov_code)
        return AlertDraft(
            condition_key=fault_key(car.eid, ev.code),
            kind="elevator_fault",
            equipment_type="elevator",
            equipment_id=car.eid,
            started_at=ev.ts,
            summary=f"Elevator {car.eid} fault: {ev.code.replace('_', ' ')}"
            + (f" ({ev.detail})" if ev.detail else ""),
            details={
                "code": ev.code,
                "gov_code": gov,
                "detail": ev.detail,
                "data": ev.data,
                "last_event_at": _iso(ev.ts),
            },
            live=live,
        )

    def _end_fault(
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
            d = self._fault_draft(car, ev, live=False)
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
        k = trapped_key(car.eid)
        if car.ep_start is not None and k not in self.open and now >= trapped_due(car):
            last = car.samples[-1] if car.samples else None
            ops.append(self._raise(self._draft_trapped(car, car.ep_start, last)))
        for code, ev in list(car.pending_faults.items()):
            if (now - ev.ts).total_seconds() >= cfg.fault_debounce_s and (
                quiet or now - ev.ts <= timedelta(seconds=cfg.backlog_after_s)
            ):
                del car.pending_faults[code]
                ops.append(self._raise(self._fault_draft(car, ev)))
        if not full:
            return ops
        last_ts = car.last_ts
        ok = offline_key(car.eid)
        if last_ts is not None and ok not in self.open and now - last_ts > offline_after:
            ops.append(
                self._raise(
                    AlertDraft(
                        condition_key=ok,
                        kind="terminal_offline",
                        equipment_type="elevator",
                        equipment_id=car.eid,
                        started_at=last_ts,
                        summary=f"Terminal of elevator {car.eid} silent since "
                        f"{last_ts:%Y-%m-%d %H:%M:%S}Z: dispatch cannot see it",
                        details={
                            "last_sample_at": _iso(last_ts),
                            "blind_elevators": [car.eid],
                            "expected_interval_s": cfg.expected_interval_s,
                            "silent_after_s": offline_after.total_seconds(),
                        },
                    )
                )
            )
        at = car.last_alarm_test
        ak = alarm_test_key(car.eid)
        gap = timedelta(seconds=cfg.alarm_test_max_gap_s)
        if at is not None and ak not in self.open and now - at > gap:
            ops.append(
                self._raise(
                    AlertDraft(
                        condition_key=ak,
                        kind="alarm_test_missed",
                        equipment_type="elevator",
                        equipment_id=car.eid,
                        started_at=at + gap,
                        summary=f"Alarm line of elevator {car.eid} not tested since "
                        f"{at:%Y-%m-%d %H:%M}Z",
                        details={
                            "last_alarm_test_at": _iso(at),
                            "max_gap_s": cfg.alarm_test_max_gap_s,
                        },
                    )
                )
            )
        return ops
