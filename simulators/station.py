"""A filling station, driven by a clock like the elevator model.

Each attempt: the operator scans the cylinder's tag, runs the pre-fill
inspection, fills while the scale reports about every 0.5 s, re-weighs and
checks for leaks, and the station sends one filling record when it ends.
Stations open 07:00-19:00 local time; attempts arrive as a Poisson process.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any

from simulators.city import GASES, CylinderSpec, StationSpec
from simulators.device import DeviceModel, Emission, Outgoing
from simulators.incidents import Incident
from simulators.timefmt import epoch_ms, local_hour, rfc3339

OPEN_HOURS = (7.0, 19.0)
# Filling rates, kg/s: an LPG scale carousel fills a 15 kg cylinder in about a
# minute; compressed gases fill through a manifold more slowly by mass.
FILL_RATE_KG_S = {"lpg": 0.25, "co2": 0.2}
DEFAULT_FILL_RATE_KG_S = 0.05
# Fill to this share of the rated mass in an ordinary fill.
TARGET_SHARE = (0.93, 0.99)
PRECHECK_ITEMS = ("valve thread damaged", "corrosion", "dent", "marking unreadable")


class StationModel(DeviceModel[StationSpec]):
    def __init__(
        self,
        spec: StationSpec,
        *,
        cylinders: list[CylinderSpec],
        start: float,
        rng: random.Random,
        scale_interval_s: float = 0.5,
        fills_scale: float = 1.0,
        open_hours: tuple[float, float] = OPEN_HOURS,
    ) -> None:
        super().__init__(spec, spec.station_id, start=start, rng=rng)
        self.scale_interval_s = scale_interval_s
        self.fills_scale = fills_scale
        self.open_hours = open_hours
        self.own = [c for c in cylinders if c.owner_station_id == self.id]
        self.good = [c for c in self.own if c.category == "good"]
        self.by_category: dict[str, list[CylinderSpec]] = {}
        for c in self.own:
            self.by_category.setdefault(c.category, []).append(c)
        self.foreign = [
            c
            for c in cylinders
            if c.owner_station_id != self.id and c.category == "good" and c.gas in spec.gases
        ]
        self._seq = 0

    def inject(self, incident: Incident) -> None:
        """The next filling at or after `incident.at` carries `incident`."""
        self._queue(incident)

    def step(self, until: float) -> list[Outgoing]:
        return [
            Outgoing(f"stations/{self.id}/{em.kind}", em.payload, em.t)
            for em in self._due(until)
            if em.kind != "idle"
        ]

    # -- life -------------------------------------------------------------------------------

    def _rate_per_s(self, t: float) -> float:
        hour = local_hour(t)
        if not self.open_hours[0] <= hour < self.open_hours[1]:
            return 0.0
        return self.spec.fills_per_hour * self.fills_scale / 3600.0

    def _next_fill(self, after: float) -> float:
        peak = self.spec.fills_per_hour * self.fills_scale / 3600.0
        if peak <= 0:
            return math.inf
        t = after
        for _ in range(100_000):
            t += self.rng.expovariate(peak)
            if self.rng.random() * peak <= self._rate_per_s(t):
                return t
        return math.inf

    def _run(self) -> Iterator[Emission]:
        next_fill = self._next_fill(self.t)
        while True:
            t_inj = max(self.pending[0].at, self.t) if self.pending else math.inf
            if t_inj == math.inf and next_fill == math.inf:
                # Nothing will happen: mark the time passing so step() can stop.
                self.t += 3600.0
                yield Emission(self.t, "idle", {})
                next_fill = self._next_fill(self.t)
                continue
            if t_inj <= next_fill:
                self.t = t_inj
                incident = self.pending.pop(0)
                yield from self._attempt(incident)
                self.finished.append(incident)
            else:
                self.t = max(self.t, next_fill)
                yield from self._attempt(None)
            next_fill = self._next_fill(self.t)

    # -- one attempt ------------------------------------------------------------------------

    def _choose(self, incident: Incident | None) -> tuple[str, str, float, float] | None:
        """(cylinder tag, gas filled, rated mass, tare) for this attempt."""
        kind = incident.kind if incident else None
        pick: CylinderSpec | None = None
        if kind in (None, "overfill", "precheck_failed_filled", "no_postcheck", "wrong_gas"):
            pick = self.rng.choice(self.good) if self.good else None
        elif kind == "overdue_filled":
            pick = self._one_of("overdue")
        elif kind == "scrapped_filled":
            pick = self._one_of("scrapped")
        elif kind == "past_life_filled":
            pick = self._one_of("past_life")
        elif kind == "foreign":
            pick = self.rng.choice(self.foreign) if self.foreign else None
        elif kind == "correct_refusal":
            bad = [
                c
                for cat in ("overdue", "scrapped", "past_life")
                for c in self.by_category.get(cat, [])
            ]
            pick = self.rng.choice(bad) if bad else None
        if kind == "unregistered":
            gas = self.rng.choice(self.spec.gases)
            spec = GASES[gas]
            return f"UNREG{self.rng.randint(10**8, 10**9 - 1)}", gas, spec["fill"][0], spec["tare"]
        if pick is None:
            return None
        gas = pick.gas
        if kind == "wrong_gas":
            others = [g for g in self.spec.gases if g != pick.gas]
            # An LPG station with no other gas: dimethyl ether, the classic adulterant.
            gas = self.rng.choice(others) if others else "dme"
        return pick.cylinder_id, gas, pick.max_fill_kg, pick.tare_kg

    def _one_of(self, category: str) -> CylinderSpec | None:
        found = self.by_category.get(category)
        return self.rng.choice(found) if found else None

    def _attempt(self, incident: Incident | None) -> Iterator[Emission]:
        kind = incident.kind if incident else None
        chosen = self._choose(incident)
        if chosen is None:
            # No cylinder fits this incident at this station: an ordinary fill instead.
            if incident is not None:
                incident.extra["skipped"] = "no suitable cylinder"
            kind, incident = None, None
            chosen = self._choose(None)
            if chosen is None:
                self.t += 60.0
                return
        cylinder_id, gas, rated, tare = chosen
        self._seq += 1
        filling_id = f"{self.id}-{int(self.t)}-{self._seq:05d}"
        operator = self.rng.choice(self.spec.operators)
        started = self.t
        if incident is not None:
            incident.equipment_id = cylinder_id
            incident.station_id = self.id
            incident.started = started
            incident.extra["filling_id"] = filling_id
        # Scan, then the pre-fill inspection.
        self.t += self.rng.uniform(15, 40)
        precheck: dict[str, Any] = {"passed": True, "failed_items": []}
        if kind in ("precheck_failed_filled", "correct_refusal"):
            precheck = {"passed": False, "failed_items": [self.rng.choice(PRECHECK_ITEMS)]}
        record: dict[str, Any] = {
            "filling_id": filling_id,
            "cylinder_id": cylinder_id,
            "gas": gas,
            "operator_id": operator,
            "started_at": rfc3339(started),
            "tare_kg": tare,
            "precheck": precheck,
        }
        if kind == "correct_refusal":
            self.t += self.rng.uniform(5, 20)
            record.update(
                {"ended_at": rfc3339(self.t), "result": "refused", "net_kg": 0.0, "postcheck": None}
            )
            if incident is not None:
                incident.ended = self.t
            yield Emission(self.t, "filling", record)
            return
        share = self.rng.uniform(*TARGET_SHARE)
        if kind == "overfill":
            share = self.rng.uniform(1.06, 1.15)
        target = rated * share
        rate = FILL_RATE_KG_S.get(gas, DEFAULT_FILL_RATE_KG_S) * self.rng.uniform(0.85, 1.15)
        duration = target / rate
        nominal_mpa = GASES.get(gas, {}).get("mpa")
        fill_start = self.t
        net = 0.0
        while net < target:
            self.t = min(self.t + self.scale_interval_s, fill_start + duration)
            done = self.t >= fill_start + duration
            net = target if done else min(target, rate * (self.t - fill_start))
            sample: dict[str, Any] = {
                "ts": epoch_ms(self.t),
                "filling_id": filling_id,
                "cylinder_id": cylinder_id,
                "net_kg": round(net, 3),
            }
            if nominal_mpa:
                sample["pressure_mpa"] = round(nominal_mpa * net / rated, 3)
            yield Emission(self.t, "scale", sample)
        # Re-weigh and leak test.
        self.t += self.rng.uniform(10, 30)
        postcheck: dict[str, Any] | None = {"passed": True, "failed_items": []}
        if kind == "no_postcheck":
            postcheck = None
        record.update(
            {
                "ended_at": rfc3339(self.t),
                "result": "filled",
                "net_kg": round(target, 3),
                "pressure_mpa": round(nominal_mpa * share, 3) if nominal_mpa else None,
                "temperature_c": round(self.rng.uniform(15, 32), 1),
                "postcheck": postcheck,
            }
        )
        if incident is not None:
            incident.ended = self.t
        yield Emission(self.t, "filling", record)
