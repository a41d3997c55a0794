"""An elevator car and its IoT terminal, driven by a clock.

The car lives as a generator of device-time emissions (status samples and
events) in time order; `step(until)` pulls everything up to `until`. The same
model therefore plays a whole day in a fraction of a second (a test hands it
simulated times) or in real time (the demo hands it the wall clock).

The car's physics and what its terminal sends are in
simulators/elevator_car.py; here, its life: traffic
follows the local hour (morning and evening peaks, quiet nights) as a Poisson
process of landing calls.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any

from simulators.city import ElevatorSpec
from simulators.device import Emission, Outgoing
from simulators.elevator_car import DOOR_MOVE_S, ElevatorCar
from simulators.incidents import Incident
from simulators.timefmt import local_hour

# Share of the peak call rate at each local hour (0-23).
HOURLY_SHARE = (
    0.02,
    0.01,
    0.01,
    0.01,
    0.02,
    0.05,
    0.2,
    0.8,
    1.0,
    0.6,
    0.35,
    0.35,
    0.5,
    0.5,
    0.35,
    0.35,
    0.4,
    0.8,
    0.9,
    0.5,
    0.4,
    0.3,
    0.15,
    0.05,
)
MAX_BATCH = 1000
# Emission kind marking "idle until then" (never sent).
WAIT = "wait"
# The terminal's own trapped detection fires this long after the car stops
# (20 s in shipped firmware, DOMAIN.md).
TERMINAL_TRAPPED_S = 20.0
# An injected incident this close after the next thing the car would do goes
# first: the player steps cars once a second, so "now" is up to a second late.
ON_DEMAND_S = 1.0


class ElevatorModel(ElevatorCar):
    """The car in service: its traffic, its link to the platform and the
    incidents a test or the demo injects."""

    def __init__(
        self,
        spec: ElevatorSpec,
        *,
        start: float,
        rng: random.Random,
        moving_interval_s: float = 1.0,
        rest_interval_s: tuple[float, float] = (30.0, 60.0),
        traffic_scale: float = 1.0,
        alarm_test_every_s: float = 86400.0,
    ) -> None:
        super().__init__(spec, start=start, rng=rng, moving_interval_s=moving_interval_s)
        self.rest_interval_s = rest_interval_s
        self.traffic_scale = traffic_scale
        self.alarm_test_every_s = alarm_test_every_s
        self.next_alarm_test = start + rng.uniform(0, alarm_test_every_s)
        self._woken = False
        # Link windows: (start, end, "drop" | "buffer").
        self._link: list[tuple[float, float, str, Incident]] = []
        self._buffer: list[Emission] = []

    # -- public -------------------------------------------------------------------------

    def inject(self, incident: Incident) -> None:
        """Play `incident` at its time (or as soon as the car can, if that is past)."""
        if incident.kind in ("silent", "buffered"):
            start = max(incident.at, self.t)
            incident.started = start
            incident.ended = start + incident.duration_s
            mode = "drop" if incident.kind == "silent" else "buffer"
            self._link.append((start, incident.ended, mode, incident))
            return
        self._queue(incident)
        if (
            self._peek is not None
            and self._peek.kind == WAIT
            and incident.at < self._peek.t + ON_DEMAND_S
        ):
            # The car is idling towards a later moment (or one just before the
            # incident's, which then waits): wake it for this incident.
            self._peek = None
            self._woken = True

    @property
    def idle(self) -> bool:
        """At rest between trips (as far as the player has stepped it)."""
        return self._peek is not None and self._peek.kind == WAIT

    def step(self, until: float, *, batch: bool = False) -> list[Outgoing]:
        """Everything the terminal sends with device time <= `until`, in order.

        With `batch`, consecutive samples go out as one `{"samples": [...]}`
        message (a terminal that buffers between uploads).
        """
        out: list[Outgoing] = []
        samples: list[dict[str, Any]] = []

        def flush_samples() -> None:
            for i in range(0, len(samples), MAX_BATCH):
                chunk = samples[i : i + MAX_BATCH]
                out.append(
                    Outgoing(
                        f"elevators/{self.id}/status", {"samples": chunk}, chunk[-1]["ts"] / 1000
                    )
                )
            samples.clear()

        for em in self._due(until):
            if em.kind == WAIT:
                continue
            for em_out in self._route(em):
                if em_out.kind == "status" and batch:
                    samples.append(em_out.payload)
                    continue
                flush_samples()
                out.append(self._message(em_out))
        flush_samples()
        self._close_link_windows(until, out)
        return out

    # -- the link ---------------------------------------------------------------------------

    def _message(self, em: Emission) -> Outgoing:
        topic = "status" if em.kind == "status" else "event"
        return Outgoing(f"elevators/{self.id}/{topic}", em.payload, em.t)

    def _route(self, em: Emission) -> list[Emission]:
        for start, end, mode, _incident in self._link:
            if start <= em.t < end:
                if mode == "buffer":
                    self._buffer.append(em)
                return []
        return [em]

    def _close_link_windows(self, until: float, out: list[Outgoing]) -> None:
        """At the end of a buffering window the terminal uploads its backlog."""
        still: list[tuple[float, float, str, Incident]] = []
        for window in self._link:
            start, end, mode, incident = window
            if end > until:
                still.append(window)
                continue
            self.finished.append(incident)
            if mode != "buffer":
                continue
            held = [e for e in self._buffer if start <= e.t < end]
            self._buffer = [e for e in self._buffer if not start <= e.t < end]
            samples = [e.payload for e in held if e.kind == "status"]
            for i in range(0, len(samples), MAX_BATCH):
                chunk = samples[i : i + MAX_BATCH]
                out.append(
                    Outgoing(
                        f"elevators/{self.id}/status", {"samples": chunk}, chunk[-1]["ts"] / 1000
                    )
                )
            out.extend(self._message(e) for e in held if e.kind == "event")
        self._link = still

    # -- the car's life ----------------------------------------------------------------------

    def _call_rate_per_s(self, t: float) -> float:
        share = HOURLY_SHARE[int(local_hour(t)) % 24]
        return self.spec.peak_calls_per_hour * self.traffic_scale * share / 3600.0

    def _next_call(self, after: float) -> float:
        """Poisson arrivals with an hourly rate, by thinning against the peak rate."""
        peak = self.spec.peak_calls_per_hour * self.traffic_scale / 3600.0
        if peak <= 0:
            return math.inf
        t = after
        while True:
            t += self.rng.expovariate(peak)
            if self.rng.random() * peak <= self._call_rate_per_s(t):
                return t

    def _rest_gap(self) -> float:
        return self.rng.uniform(*self.rest_interval_s)

    def _run(self) -> Iterator[Emission]:
        yield self._sample()
        next_rest = self.t + self._rest_gap()
        next_call = self._next_call(self.t)
        while True:
            t_inj = max(self.pending[0].at, self.t) if self.pending else math.inf
            t_next = min(next_rest, next_call, t_inj, self.next_alarm_test)
            if t_inj - t_next <= ON_DEMAND_S:
                # Asked for now: what fell due since the player's last step
                # (a call, a rest sample) waits; the demo's trap must not wait
                # for a 33-floor trip that began a moment before it.
                t_next = t_inj
            # Idle until t_next, unless an incident asked for on demand comes first.
            yield Emission(t_next, WAIT, {})
            if self._woken:
                self._woken = False
                continue
            self.t = max(self.t, t_next)
            if t_next == t_inj:
                incident = self.pending.pop(0)
                incident.started = self.t
                yield from self._play(incident)
                incident.ended = incident.ended or self.t
                self.finished.append(incident)
                next_rest = self.t + self._rest_gap()
                next_call = self._next_call(self.t)
            elif t_next == self.next_alarm_test:
                yield self._event("alarm_test", data={"result": "ok"})
                self.next_alarm_test += self.alarm_test_every_s
            elif t_next == next_call:
                yield from self._serve_call()
                next_rest = self.t + self._rest_gap()
                next_call = self._next_call(self.t)
            else:
                yield self._sample()
                next_rest = self.t + self._rest_gap()

    def _pick_floors(self) -> tuple[int, int]:
        lo, hi = self.spec.lowest_floor, self.spec.highest_floor
        hour = local_hour(self.t)
        lobby = max(lo, min(1, hi))
        others = [f for f in range(lo, hi + 1) if f != lobby] or [lobby]
        if 7 <= hour < 10:  # up from the lobby
            return lobby, self.rng.choice(others)
        if 17 <= hour < 20:  # down to the lobby
            return self.rng.choice(others), lobby
        src = self.rng.randint(lo, hi)
        dst = self.rng.choice([f for f in range(lo, hi + 1) if f != src] or [src])
        return src, dst

    def _serve_call(self, *, stop_midway: bool = False) -> Iterator[Emission]:
        src, dst = self._pick_floors()
        if src != self.floor:
            yield from self._travel(self._landing_m(src))
        passengers = self.rng.choices([1, 2, 3, 4, 6], weights=[10, 5, 2, 1, 1])[0]
        yield from self._doors(self.rng.uniform(3, 7), board=passengers, alight=False)
        if dst == src:
            dst = src + 1 if src < self.spec.highest_floor else src - 1
        yield from self._travel(self._landing_m(dst))
        yield from self._doors(self.rng.uniform(3, 7), board=0, alight=True)

    # -- incidents -------------------------------------------------------------------------

    def _play(self, incident: Incident) -> Iterator[Emission]:
        kind = incident.kind
        if kind in ("trapped", "trapped_at_landing"):
            yield from self._trapped(incident, between_floors=kind == "trapped")
        elif kind == "fault":
            code = incident.code or "door_fails_to_close"
            yield self._event(code, detail=f"simulated {code}")
            yield from self._idle_for(incident.duration_s)
            incident.ended = self.t
        elif kind == "power_loss":
            yield self._event("power_loss", detail="mains lost, terminal on battery")
            self.power = "battery"
            yield from self._idle_for(incident.duration_s)
            self.power = "mains"
            incident.ended = self.t
            yield self._event("power_restored")
            yield self._sample()
        elif kind == "alarm_button":
            yield from self._alarm_press(incident)
        elif kind == "maintenance":
            yield from self._maintenance(incident)
        else:
            raise ValueError(f"not an elevator incident: {kind}")

    def _idle_for(self, seconds: float) -> Iterator[Emission]:
        end = self.t + seconds
        while self.t < end:
            yield self._sample()
            self.t = min(end, self.t + self._rest_gap())

    def _trapped(self, incident: Incident, *, between_floors: bool) -> Iterator[Emission]:
        lo, hi = self.spec.lowest_floor, self.spec.highest_floor
        passengers = self.rng.randint(1, 3)
        yield from self._doors(self.rng.uniform(3, 6), board=passengers, alight=False)
        if between_floors:
            # The car leaves and stops between this landing and the next one.
            nxt = self.floor + 1 if self.floor < hi else self.floor - 1
            if nxt < lo:
                nxt = self.floor
            midway = (self._landing_m(self.floor) + self._landing_m(nxt)) / 2
            yield from self._travel(midway)
        else:
            # Doors fail to open at the landing after a short hop.
            nxt = self.floor + 1 if self.floor < hi else self.floor - 1
            yield from self._travel(self._landing_m(nxt))
        incident.started = self.t
        incident.extra["floor"] = self.floor
        end = self.t + incident.duration_s
        sent_event = False
        gap = (10.0, 30.0)
        while self.t < end:
            if not sent_event and self.t >= incident.started + TERMINAL_TRAPPED_S:
                sent_event = True
                if self.rng.random() < 0.7:
                    yield self._event(
                        "trapped",
                        detail="passenger trapped",
                        data={"between_floors": between_floors},
                    )
            yield self._sample()
            step = self.rng.uniform(*gap)
            if not sent_event:
                step = min(step, incident.started + TERMINAL_TRAPPED_S - self.t)
            self.t = min(end, self.t + max(step, 0.5))
        # Rescue: the technician brings the car level with a landing, opens the doors.
        if not self.door_zone:
            yield from self._travel(self._landing_m(self._floor_at(self.pos_m)), speed_cap=0.3)
        self.door = "opening"
        yield self._sample()
        self.t += DOOR_MOVE_S
        self.door = "open"
        incident.ended = self.t
        yield self._sample()
        self.t += self.rng.uniform(5, 15)
        self.occupied = False
        self.load_kg = 0.0
        yield self._sample()
        self.door = "closing"
        self.t += DOOR_MOVE_S
        yield self._sample()
        self.door = "closed"
        self.door_cycles += 1
        self.t += DOOR_MOVE_S
        yield self._sample()

    def _alarm_press(self, incident: Incident) -> Iterator[Emission]:
        """A passenger holds the alarm button for a few seconds on an ordinary ride."""
        src = self.floor
        others = [f for f in range(self.spec.lowest_floor, self.spec.highest_floor + 1) if f != src]
        dst = self.rng.choice(others) if others else src
        yield from self._doors(self.rng.uniform(3, 6), board=1, alight=False)
        self.alarm = True
        incident.started = self.t
        yield self._event("alarm_button", detail="alarm button pressed")
        yield from self._hold(incident.duration_s, 1.0)
        self.alarm = False
        incident.ended = self.t
        yield self._sample()
        if dst != src:
            yield from self._travel(self._landing_m(dst))
        yield from self._doors(self.rng.uniform(3, 7), board=0, alight=True)

    def _maintenance(self, incident: Incident) -> Iterator[Emission]:
        """A technician works in the car (inspection speed moves, car stopped
        between floors with the doors shut): nothing should page anyone."""
        self.mode = "maintenance"
        yield from self._doors(4.0, board=1, alight=False)
        end = self.t + incident.duration_s
        while self.t < end - 120:
            target = self.pos_m + self.rng.choice((-1.0, 1.0)) * self.rng.uniform(0.5, 2.0)
            top = self._landing_m(self.spec.highest_floor)
            target = min(max(target, 0.0), top)
            yield from self._travel(target, speed_cap=0.3)
            yield from self._idle_for(self.rng.uniform(60, 300))
        yield from self._travel(self._landing_m(self._floor_at(self.pos_m)), speed_cap=0.3)
        yield from self._doors(4.0, board=0, alight=True)
        self.mode = "normal"
        incident.ended = self.t
        yield self._sample()
