"""The car model in simulated time: physics, counters, traffic, and injected incidents."""

from __future__ import annotations

import dataclasses
import itertools
import random
from datetime import UTC, datetime
from typing import Any

from semon.domain.wire import STATUS_BATCH, STATUS_SAMPLE, ElevatorEvent
from simulators.city import ElevatorSpec
from simulators.device import Outgoing
from simulators.elevator import ElevatorModel
from simulators.incidents import FAULT_CODES, Incident
from simulators.timefmt import local_hour

# Local midnight (UTC+8) of a simulated day.
START = datetime(2026, 11, 22, 16, 0, tzinfo=UTC).timestamp()
SPEC = ElevatorSpec(
    elevator_id="E1",
    lowest_floor=-2,
    highest_floor=18,
    rated_speed=1.75,
    rated_load_kg=1000,
    peak_calls_per_hour=40.0,
    has_presence_sensor=True,
)


def play(
    model: ElevatorModel, seconds: float, *, step: float = 60.0, batch: bool = False
) -> list[Outgoing]:
    out: list[Outgoing] = []
    t = model.t
    end = t + seconds
    while t < end:
        t = min(end, t + step)
        out += model.step(t, batch=batch)
    return out


def samples_of(out: list[Outgoing]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for o in out:
        if o.topic.endswith("/status"):
            found += o.payload.get("samples", [o.payload])
    return found


def events_of(out: list[Outgoing]) -> list[dict[str, Any]]:
    return [o.payload for o in out if o.topic.endswith("/event")]


def test_a_day_of_traffic_keeps_the_invariants() -> None:
    model = ElevatorModel(SPEC, start=START, rng=random.Random(1))
    out = play(model, 86400)
    samples = samples_of(out)
    for s in samples:
        STATUS_SAMPLE.validate_python(s)
    for e in events_of(out):
        ElevatorEvent.model_validate(e)
    ts = [s["ts"] for s in samples]
    assert ts == sorted(ts) and len(set(ts)) == len(ts)
    for key in ("trips", "door_cycles", "run_s"):
        values = [s[key] for s in samples]
        assert all(b >= a for a, b in itertools.pairwise(values)), key
    assert samples[-1]["trips"] > samples[0]["trips"] + 100
    for s in samples:
        if s["door"] != "closed":
            assert s["door_zone"] and s["direction"] == "stopped" and s["speed"] == 0.0
        if s["speed"] > 0:
            assert s["direction"] in ("up", "down")
        assert SPEC.lowest_floor <= s["floor"] <= SPEC.highest_floor
        if not s["occupied"]:
            assert s["load_kg"] == 0.0
    # Every second while moving or a door moves, within 60 s at rest.
    for a, b in itertools.pairwise(samples):
        gap = (b["ts"] - a["ts"]) / 1000
        if a["speed"] > 0 or a["door"] in ("opening", "closing"):
            assert gap <= 1.01
        assert gap <= 60.01
    # Peaks and quiet nights: more trips at 08:00 than at 03:00 local.
    by_hour: dict[int, int] = {}
    prev = samples[0]["trips"]
    for s in samples:
        hour = int(local_hour(s["ts"] / 1000))
        by_hour[hour] = by_hour.get(hour, 0) + s["trips"] - prev
        prev = s["trips"]
    assert by_hour.get(8, 0) > 5 * by_hour.get(3, 0) + 10
    # Periodic alarm-line test.
    assert [e["code"] for e in events_of(out)].count("alarm_test") == 1
    # A car that moves reaches its rated speed on a long run and accelerates gradually.
    speeds = [s["speed"] for s in samples]
    assert max(speeds) == SPEC.rated_speed
    assert any(0 < v < SPEC.rated_speed for v in speeds)


def test_batches_hold_the_same_samples() -> None:
    plain = samples_of(play(ElevatorModel(SPEC, start=START, rng=random.Random(2)), 7200))
    out = play(ElevatorModel(SPEC, start=START, rng=random.Random(2)), 7200, step=600, batch=True)
    for o in out:
        if "samples" in o.payload:
            STATUS_BATCH.validate_python(o.payload)
    assert samples_of(out) == plain
    assert max(len(o.payload.get("samples", [])) for o in out) > 10


def test_trapped_between_floors_leaves_the_evidence() -> None:
    model = ElevatorModel(SPEC, start=START + 10 * 3600, rng=random.Random(3))
    play(model, 600)
    incident = Incident(kind="trapped", equipment_id="E1", at=model.t + 30, duration_s=420)
    model.inject(incident)
    out = play(model, 1800)
    assert model.finished == [incident]
    assert incident.started is not None and incident.ended is not None
    # Stopped for the asked time, then a slow creep to the landing and the doors.
    assert 420 <= incident.ended - incident.started <= 440
    samples = samples_of(out)
    stop_end = (incident.started + 420) * 1000
    during = [s for s in samples if incident.started * 1000 <= s["ts"] < stop_end]
    assert len(during) >= 10
    for s in during:
        assert (s["speed"], s["direction"], s["door"], s["door_zone"], s["occupied"]) == (
            0.0,
            "stopped",
            "closed",
            False,
            True,
        )
    assert max(b["ts"] - a["ts"] for a, b in itertools.pairwise(during)) <= 30_000
    # Rescue: doors open in the door zone, then the car empties.
    after = [s for s in samples if s["ts"] >= stop_end]
    opened = next(s for s in after if s["door"] in ("opening", "open"))
    assert opened["door_zone"] and opened["speed"] == 0.0
    assert any(not s["occupied"] for s in after)
    truth = incident.truth()
    assert truth["kind"] == "trapped_passenger" and truth["equipment_id"] == "E1"


def test_fault_codes_and_gov_codes() -> None:
    model = ElevatorModel(SPEC, start=START + 12 * 3600, rng=random.Random(4))
    for i, code in enumerate(FAULT_CODES * 4):
        model.inject(
            Incident(
                kind="fault",
                equipment_id="E1",
                at=model.t + 900 * (i + 1),
                duration_s=120,
                code=code,
            )
        )
    out = play(model, 900 * (len(FAULT_CODES) * 4 + 2))
    events = [e for e in events_of(out) if e["code"] in FAULT_CODES]
    assert {e["code"] for e in events} == set(FAULT_CODES)
    with_gov = [e for e in events if "gov_code" in e]
    assert 0 < len(with_gov) < len(events)
    assert len(model.finished) == len(FAULT_CODES) * 4


def test_power_loss_runs_on_battery_then_restores() -> None:
    model = ElevatorModel(SPEC, start=START + 14 * 3600, rng=random.Random(5))
    incident = Incident(kind="power_loss", equipment_id="E1", at=model.t + 60, duration_s=600)
    model.inject(incident)
    out = play(model, 1200)
    codes = [e["code"] for e in events_of(out)]
    assert codes.index("power_loss") < codes.index("power_restored")
    battery = [s for s in samples_of(out) if s["power"] == "battery"]
    assert battery and all(s["speed"] == 0.0 for s in battery)


def test_maintenance_mode_stops_the_car_with_a_technician_inside() -> None:
    model = ElevatorModel(SPEC, start=START + 11 * 3600, rng=random.Random(6))
    incident = Incident(kind="maintenance", equipment_id="E1", at=model.t + 10, duration_s=1800)
    model.inject(incident)
    out = play(model, 2400)
    work = [s for s in samples_of(out) if s["mode"] == "maintenance"]
    assert work and all(s["speed"] <= 0.3 for s in work)
    assert any(not s["door_zone"] and s["occupied"] and s["door"] == "closed" for s in work)
    assert incident.truth()["kind"] == "none"


def test_silent_and_buffered_terminals() -> None:
    silent = ElevatorModel(SPEC, start=START + 9 * 3600, rng=random.Random(7))
    play(silent, 300)
    quiet = Incident(kind="silent", equipment_id="E1", at=silent.t + 10, duration_s=900)
    silent.inject(quiet)
    out = play(silent, 1800)
    assert quiet.started is not None and quiet.ended is not None
    assert not [o for o in out if quiet.started <= o.t < quiet.ended]
    assert silent.finished == [quiet]

    buffered = ElevatorModel(SPEC, start=START + 9 * 3600, rng=random.Random(8))
    play(buffered, 300)
    hour = Incident(kind="buffered", equipment_id="E1", at=buffered.t + 10, duration_s=3600)
    buffered.inject(hour)
    out = play(buffered, 3600 + 600, step=30)
    assert hour.started is not None and hour.ended is not None
    uploads = [
        o
        for o in out
        if "samples" in o.payload and o.payload["samples"][0]["ts"] < hour.ended * 1000 - 60_000
    ]
    assert uploads, "the backlog is uploaded when the link comes back"
    held = [s for o in uploads for s in o.payload["samples"]]
    span = (held[-1]["ts"] - held[0]["ts"]) / 1000
    assert span > 3000 and all(len(o.payload["samples"]) <= 1000 for o in uploads)
    # Uploaded after the window, in time order, nothing published during it.
    live = [
        o
        for o in out
        if o not in uploads and hour.started <= o.t < hour.ended and o.topic.endswith("/status")
    ]
    assert not live


def test_an_incident_asked_for_now_is_played_before_a_call_due_meanwhile() -> None:
    """The demo steps each car to the wall clock once a tick and injects its
    first trapped passenger "at once": a call that fell due since the last
    tick must not go first (on a busy car a 33-floor trip put the demo's page
    100 s after start, not the README's 35 s)."""
    busy = dataclasses.replace(SPEC, peak_calls_per_hour=600.0)
    late = []
    for seed in range(40):
        rng = random.Random(seed)
        model = ElevatorModel(busy, start=START + 8 * 3600, rng=rng)
        now = model.t
        for _ in range(rng.randint(30, 300)):  # the demo's ticks, a second apart
            now += 1.0
            model.step(now)
        while not model.idle:  # the demo picks a car at rest
            now += 1.0
            model.step(now)
        at = now + rng.random()  # injected before the car is stepped to it
        incident = Incident(kind="trapped", equipment_id="E1", at=at, duration_s=60)
        model.inject(incident)
        while not model.finished:
            now += 1.0
            model.step(now)
        assert incident.started is not None
        # boarding (3-6 s) and the hop to midway between two landings
        if incident.started - at > 15.0:
            late.append((seed, round(incident.started - at)))
    assert late == []
