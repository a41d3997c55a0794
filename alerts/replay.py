"""The recovery replay of one car: ``settle()`` on start, with the car's stored
terminal events judged among its samples in device-time order (README,
"Alerts: rules on device time")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import NamedTuple

from alerts.drafts import fault_draft
from alerts.elevator_conditions import ends_fault, fault_end_why, trapped_reported
from alerts.elevator_state import Elevator
from alerts.elevators import ElevatorRules
from alerts.keys import fault_key
from alerts.ops import Op, Raise
from semon.domain.wire import ElevatorEvent, StatusSample


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


def replay(
    rules: ElevatorRules, car: Elevator, events: Sequence[StoredEvent], episodes: Episodes
) -> list[Op]:
    """settle() on start, with the car's stored events (ts order) judged
    among its samples in device-time order, a sample first at equal times.
    A sample emits when after judged_until, as in settle(); an event when
    fresh. What is still going on at the end (a fault in debounce, a
    reported trap) is raised by the clock, as after settle()."""
    before = car.judged_until
    car.episode_start = None
    car.released_at = None
    ops: list[Op] = []
    unjudged: set[str] = set()  # pending faults that fresh events began
    i, last = 0, None
    for s in car.samples:
        while i < len(events) and events[i].ev.ts < s["ts"]:
            ops += _replay_event(rules, car, events[i], last, unjudged, episodes)
            i += 1
        fresh = before is None or s["ts"] > before
        if not fresh and unjudged:
            ops += _end_unjudged(rules, car, s, unjudged)
        ops += rules.step(car, s, emit=fresh, live=False)
        last = s
    for e in events[i:]:
        ops += _replay_event(rules, car, e, last, unjudged, episodes)
    car.judged_until = car.last_ts
    car.dirty = False
    rules.trim(car)
    return ops


def _replay_event(
    rules: ElevatorRules,
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
        rules.replayed.add((car.eid, ev.ts, ev.code))
    code = ev.code
    if code == "alarm_button":
        rules.alarm_pressed(car, ev, last)
    elif code == "alarm_test":
        return rules.alarm_tested(car, ev, emit=fresh)
    elif code == "trapped":
        k = car.trapped_key
        # covered: paged and over (a rescue the dispatcher closed) before the restart
        if k not in rules.open and not _covered(episodes.get(k), ev.ts):
            trapped_reported(car, ev)
    elif code == "power_restored":
        emit = fresh or "power_loss" in unjudged
        return rules.end_fault(car, "power_loss", ev.ts, "power_restored event", emit=emit)
    else:
        return _replay_fault(rules, car, ev, fresh, unjudged, episodes)
    return []


def _replay_fault(
    rules: ElevatorRules,
    car: Elevator,
    ev: ElevatorEvent,
    fresh: bool,
    unjudged: set[str],
    episodes: Episodes,
) -> list[Op]:
    k = fault_key(car.eid, ev.code)
    if k in rules.open:
        # A repeat updates the open alert (on_event); one before it began is old news.
        return [Raise(fault_draft(car.eid, ev))] if fresh and ev.ts >= rules.open[k] else []
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


def _end_unjudged(
    rules: ElevatorRules, car: Elevator, s: StatusSample, unjudged: set[str]
) -> list[Op]:
    """A sample judged before ends faults that events nobody judged began
    (they came late): recorded now, or never."""
    ops: list[Op] = []
    for code in sorted(unjudged):
        if code in car.pending_faults and ends_fault(code, s):
            ops += rules.end_fault(car, code, s["ts"], fault_end_why(code), emit=True)
    unjudged.intersection_update(car.pending_faults)
    return ops
