"""The whole city in motion: every car and station model, incidents at rates,
and the ground truth of what was injected."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from simulators.city import City
from simulators.device import Outgoing
from simulators.elevator import ElevatorModel
from simulators.incidents import (
    ELEVATOR_INCIDENTS,
    STATION_INCIDENTS,
    GroundTruth,
    Incident,
    IncidentRates,
    draw_elevator_incident,
)
from simulators.station import OPEN_HOURS, StationModel
from simulators.timefmt import local_hour


@dataclass
class WorldOptions:
    moving_interval_s: float = 1.0
    rest_interval_s: tuple[float, float] = (30.0, 60.0)
    traffic_scale: float = 1.0
    scale_interval_s: float = 0.5
    fills_scale: float = 1.0
    station_hours: tuple[float, float] = OPEN_HOURS
    # None: inject nothing by itself (tests inject on demand).
    rates: IncidentRates | None = field(default_factory=IncidentRates)
    # At most one rate-drawn incident per piece of equipment, so that every
    # incident is its own condition on the platform (useful for scoring).
    one_incident_per_equipment: bool = False


class World:
    def __init__(
        self, city: City, *, start: float, seed: int, options: WorldOptions, truth: GroundTruth
    ) -> None:
        self.city = city
        self.options = options
        self.truth = truth
        self.t = start
        self.rng = random.Random(f"world-{seed}")  # noqa: S311 - simulation, not crypto
        self.elevators: dict[str, ElevatorModel] = {}
        for spec in city.in_service_elevators():
            self.elevators[spec.elevator_id] = ElevatorModel(
                spec,
                start=start,
                rng=random.Random(f"{seed}-{spec.elevator_id}"),  # noqa: S311
                moving_interval_s=options.moving_interval_s,
                rest_interval_s=options.rest_interval_s,
                traffic_scale=options.traffic_scale,
            )
        self.stations: dict[str, StationModel] = {}
        for st in city.stations:
            self.stations[st.station_id] = StationModel(
                st,
                cylinders=city.cylinders,
                start=start,
                rng=random.Random(f"{seed}-{st.station_id}"),  # noqa: S311
                scale_interval_s=options.scale_interval_s,
                fills_scale=options.fills_scale,
                open_hours=options.station_hours,
            )
        self._used: set[str] = set()
        self._firm_of = {r["elevator_id"]: r.get("firm_id") for r in city.records["elevators"]}
        # Maintenance visits the firms will report (the demo imports them).
        self.visits: list[dict[str, Any]] = []
        self._next_elevator_incident = self._draw_next(start, self._elevator_rate())
        self._next_station_incident = self._draw_next(start, self._station_rate())

    # -- injection ------------------------------------------------------------------------------

    def inject(self, incident: Incident) -> None:
        if incident.kind in ELEVATOR_INCIDENTS:
            self.elevators[incident.equipment_id].inject(incident)
        elif incident.kind in STATION_INCIDENTS:
            station = incident.station_id or incident.equipment_id
            incident.station_id = station
            self.stations[station].inject(incident)
        else:
            raise ValueError(f"unknown incident kind {incident.kind!r}")

    def _elevator_rate(self) -> float:
        rates = self.options.rates
        if rates is None or not self.elevators:
            return 0.0
        return sum(rates.per_elevator_day.values()) * len(self.elevators) / 86400.0

    def _station_rate(self) -> float:
        rates = self.options.rates
        if rates is None or not self.stations:
            return 0.0
        fills_per_s = sum(s.spec.fills_per_hour * s.fills_scale for s in self.stations.values())
        return sum(rates.per_filling.values()) * fills_per_s / 3600.0

    def _draw_next(self, after: float, rate: float) -> float:
        return after + self.rng.expovariate(rate) if rate > 0 else math.inf

    def _schedule(self, until: float) -> None:
        rates = self.options.rates
        if rates is None:
            return
        while self._next_elevator_incident <= until:
            at = self._next_elevator_incident
            self._next_elevator_incident = self._draw_next(at, self._elevator_rate())
            kinds = list(rates.per_elevator_day)
            kind = self.rng.choices(kinds, weights=[rates.per_elevator_day[k] for k in kinds])[0]
            candidates = [
                e
                for e in self.elevators.values()
                if e.id not in self._used or not self.options.one_incident_per_equipment
            ]
            if kind in ("trapped", "trapped_at_landing"):
                candidates = [e for e in candidates if e.spec.has_presence_sensor]
            if not candidates:
                continue
            car = self.rng.choice(candidates)
            self._used.add(car.id)
            self.inject(draw_elevator_incident(self.rng, kind, car.id, at))
        while self._next_station_incident <= until:
            at = self._next_station_incident
            self._next_station_incident = self._draw_next(at, self._station_rate())
            lo, hi = self.options.station_hours
            if not lo <= local_hour(at) < hi - 0.5:
                continue  # incidents happen on real fills, in opening hours
            kinds = list(rates.per_filling)
            kind = self.rng.choices(kinds, weights=[rates.per_filling[k] for k in kinds])[0]
            station = self.rng.choice(list(self.stations))
            self.inject(Incident(kind=kind, equipment_id=station, station_id=station, at=at))

    # -- time -----------------------------------------------------------------------------------

    def step(self, until: float, *, batch: bool = False) -> list[Outgoing]:
        """Everything every device sends up to `until`, in device-time order."""
        self._schedule(until)
        out: list[Outgoing] = []
        for car in self.elevators.values():
            out.extend(car.step(until, batch=batch))
            if car.finished:
                for incident in car.finished:
                    self._finish(incident)
                car.finished.clear()
        for station in self.stations.values():
            out.extend(station.step(until))
            if station.finished:
                for incident in station.finished:
                    self._finish(incident)
                station.finished.clear()
        self.t = until
        out.sort(key=lambda o: o.t)
        return out

    def _finish(self, incident: Incident) -> None:
        if incident.extra.get("skipped"):
            return
        self.truth.add(incident)
        if incident.kind == "maintenance" and incident.ended is not None:
            firm = self._firm_of.get(incident.equipment_id)
            if firm:
                day = datetime.fromtimestamp(incident.ended, UTC).date().isoformat()
                self.visits.append(
                    {
                        "elevator_id": incident.equipment_id,
                        "done_on": day,
                        "kind": "routine",
                        "firm_id": firm,
                    }
                )
