"""An elevator car's physics and its terminal's messages: trapezoidal speed
profiles with the car's rated speed and 0.9 m/s^2, 3.2 m between floors,
doors 2 s to open and to close; each state a status sample, each incident an
event (simulators/elevator.py plays the car's life on top of this).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any

from semon.domain.gov_codes import GOV_CODES
from simulators.city import ElevatorSpec
from simulators.device import DeviceModel, Emission
from simulators.timefmt import epoch_ms, rfc3339

FLOOR_HEIGHT_M = 3.2
ACCEL = 0.9
DOOR_MOVE_S = 2.0
# Within this distance of a landing the car is in the door (levelling) zone.
DOOR_ZONE_M = 0.15
PASSENGER_KG = 70.0
# Share of events sent without a gov_code (the platform fills it in).
NO_GOV_CODE_SHARE = 0.3


class ElevatorCar(DeviceModel[ElevatorSpec]):
    def __init__(
        self, spec: ElevatorSpec, *, start: float, rng: random.Random, moving_interval_s: float
    ) -> None:
        super().__init__(spec, spec.elevator_id, start=start, rng=rng)
        self.moving_interval_s = moving_interval_s
        self.floor = rng.randint(min(1, spec.highest_floor), spec.highest_floor)
        self.pos_m = self._landing_m(self.floor)
        self.occupied = False
        self.load_kg = 0.0
        self.door = "closed"
        self.door_zone = True
        self.mode = "normal"
        self.power = "mains"
        self.alarm = False
        self.speed = 0.0
        self.direction = "stopped"
        self.trips = rng.randint(10_000, 2_000_000)
        self.door_cycles = self.trips * 2 + rng.randint(0, 1000)
        self.run_s = self.trips * 12.0
        self._last_sample_t = -math.inf

    # -- emissions -------------------------------------------------------------------------

    def _sample(self) -> Emission:
        # Samples are keyed by (elevator, ts): two at the same millisecond would
        # be stored as one, so a state change never shares its predecessor's time.
        if self.t < self._last_sample_t + 0.002:
            self.t = self._last_sample_t + 0.002
        self._last_sample_t = self.t
        occupied: bool | None = self.occupied if self.spec.has_presence_sensor else None
        return Emission(
            self.t,
            "status",
            {
                "ts": epoch_ms(self.t),
                "floor": self.floor,
                "speed": round(self.speed, 2),
                "direction": self.direction,
                "door": self.door,
                "door_zone": self.door_zone,
                "occupied": occupied,
                "load_kg": round(self.load_kg, 1),
                "mode": self.mode,
                "alarm": self.alarm,
                "power": self.power,
                "trips": self.trips,
                "door_cycles": self.door_cycles,
                "run_s": int(self.run_s),
            },
        )

    def _event(
        self, code: str, detail: str | None = None, data: dict[str, Any] | None = None
    ) -> Emission:
        payload: dict[str, Any] = {"ts": rfc3339(self.t), "code": code}
        gov = GOV_CODES.get(code)
        if gov is not None and self.rng.random() >= NO_GOV_CODE_SHARE:
            payload["gov_code"] = gov
        if detail:
            payload["detail"] = detail
        if data:
            payload["data"] = data
        return Emission(self.t, "event", payload)

    def _landing_m(self, floor: int) -> float:
        return (floor - self.spec.lowest_floor) * FLOOR_HEIGHT_M

    def _floor_at(self, pos_m: float) -> int:
        return self.spec.lowest_floor + round(pos_m / FLOOR_HEIGHT_M)

    def _hold(self, seconds: float, interval: float) -> Iterator[Emission]:
        """Sample the current state now, then every `interval`, for `seconds`."""
        end = self.t + seconds
        yield self._sample()
        while self.t + interval < end - 1e-6:
            self.t += interval
            yield self._sample()
        self.t = end

    def _doors(self, dwell_s: float, board: int, alight: bool) -> Iterator[Emission]:
        """Open, let people out and in, close: one door cycle in the door zone."""
        step = self.moving_interval_s
        self.door = "opening"
        yield from self._hold(DOOR_MOVE_S, step)
        self.door = "open"
        if alight:
            self.occupied = False
            self.load_kg = 0.0
        if board:
            self.occupied = True
            self.load_kg += board * PASSENGER_KG * self.rng.uniform(0.8, 1.25)
        yield from self._hold(dwell_s, step)
        self.door = "closing"
        yield from self._hold(DOOR_MOVE_S, step)
        self.door = "closed"
        self.door_cycles += 1
        yield self._sample()

    def _travel(self, target_m: float, *, speed_cap: float | None = None) -> Iterator[Emission]:
        """Move the car to `target_m` along a trapezoidal profile, sampling as it goes."""
        distance = abs(target_m - self.pos_m)
        if distance < 1e-6:
            return
        sign = 1.0 if target_m > self.pos_m else -1.0
        vmax = speed_cap or self.spec.rated_speed
        if distance < vmax * vmax / ACCEL:
            t_acc = math.sqrt(distance / ACCEL)
            t_cruise = 0.0
            vmax = ACCEL * t_acc
        else:
            t_acc = vmax / ACCEL
            t_cruise = (distance - vmax * t_acc) / vmax
        total = 2 * t_acc + t_cruise
        origin, t0 = self.pos_m, self.t
        self.direction = "up" if sign > 0 else "down"
        self.trips += 1
        k = 1
        while True:
            dt = min(k * self.moving_interval_s, total)
            if dt < t_acc:
                s, v = 0.5 * ACCEL * dt * dt, ACCEL * dt
            elif dt < t_acc + t_cruise:
                s, v = 0.5 * ACCEL * t_acc * t_acc + vmax * (dt - t_acc), vmax
            else:
                rem = max(total - dt, 0.0)
                s, v = distance - 0.5 * ACCEL * rem * rem, ACCEL * rem
            self.t = t0 + dt
            self.pos_m = origin + sign * s
            self.floor = self._floor_at(self.pos_m)
            nearest = self._landing_m(self.floor)
            self.door_zone = abs(self.pos_m - nearest) < DOOR_ZONE_M
            self.run_s += min(self.moving_interval_s, dt - (k - 1) * self.moving_interval_s)
            if dt >= total:
                break
            self.speed = v
            yield self._sample()
            k += 1
        self.pos_m = target_m
        self.speed = 0.0
        self.direction = "stopped"
        self.floor = self._floor_at(self.pos_m)
        self.door_zone = abs(self.pos_m - self._landing_m(self.floor)) < DOOR_ZONE_M
        yield self._sample()
