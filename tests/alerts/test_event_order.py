"""Events come on their own MQTT session, so they can be judged ahead of (or
behind) the samples around them: the rules still count samples in device-time
order against the episode or fault the event opened."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from alerts.elevators import ElevatorRules
from alerts.ops import Close, Raise, Record
from semon.domain.wire import STATUS_SAMPLE, ElevatorEvent, StatusSample
from semon.settings import AlertSettings

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def s(sec: float, **kw: Any) -> StatusSample:
    base: dict[str, Any] = {
        "ts": T0 + timedelta(seconds=sec),
        "floor": 3,
        "speed": 0.0,
        "direction": "stopped",
        "door": "closed",
        "door_zone": True,
        "occupied": False,
    }
    base.update(kw)
    return STATUS_SAMPLE.validate_python(base)


def ev(sec: float, code: str) -> ElevatorEvent:
    return ElevatorEvent(ts=T0 + timedelta(seconds=sec), code=code)  # type: ignore[arg-type]


def test_samples_older_than_a_paged_trap_do_not_release_it() -> None:
    rules = ElevatorRules(AlertSettings())
    now = T0 + timedelta(seconds=12)
    ops = rules.on_event("E1", ev(10, "trapped"), now=now, mono=0.0)
    assert [type(o) for o in ops] == [Raise]
    # queued before the event: doors open at a landing, nobody inside
    older = (s(2, door="open"), s(4, door="open"), s(9, door="closed"))
    assert rules.on_samples("E1", older, now=now, mono=0.1) == []
    assert "trapped_passenger:E1" in rules.open
    # after the event: released
    [close] = rules.on_samples("E1", (s(15, door="open"),), now=now, mono=0.2)
    assert isinstance(close, Close) and close.ended_at == T0 + timedelta(seconds=15)


def test_a_fault_event_judged_after_the_samples_that_ended_it_is_only_recorded() -> None:
    rules = ElevatorRules(AlertSettings())
    now = T0 + timedelta(seconds=4)
    running = {"speed": 1.0, "direction": "up", "door_zone": False}
    assert rules.on_samples("E2", (s(3, **running),), now=now, mono=0.0) == []
    [rec] = rules.on_event("E2", ev(0, "door_fails_to_open"), now=now, mono=0.1)
    assert isinstance(rec, Record) and rec.draft.details["duration_s"] == 3.0
    assert not rules.cars["E2"].pending_faults
    # a fault the samples did not end stays in its debounce
    assert rules.on_event("E2", ev(3.5, "overspeed"), now=now, mono=0.2) == []
    assert "overspeed" in rules.cars["E2"].pending_faults
