"""A synthetic city from a seed: the registry files and what the models need.

Everything is drawn from one `random.Random(seed)` in a fixed order and dated
relative to a reference day, so the same seed and day give byte-identical
files. Dates are kept off the edges the rules look at (the due date itself,
the 30-day "due soon" line, the end of design life): a record is clearly
overdue or clearly not, so ground truth computed from the city is never a
matter of a day either way.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from simulators.registry_dates import add_months, add_years

# Import order: referenced records first (inspections and maintenance must
# name known equipment).
KIND_ORDER = (
    "firms",
    "stations",
    "rescue_orgs",
    "elevators",
    "cylinders",
    "inspections",
    "maintenance",
)

DISTRICTS = (
    ("Yuexiu", 23.129, 113.267),
    ("Haizhu", 23.083, 113.317),
    ("Tianhe", 23.125, 113.361),
    ("Baiyun", 23.158, 113.273),
    ("Huangpu", 23.106, 113.459),
    ("Panyu", 22.937, 113.384),
    ("Huadu", 23.404, 113.220),
    ("Nansha", 22.801, 113.525),
)
STREETS = (
    "Zhongshan Rd",
    "Huanshi Rd",
    "Jiefang Rd",
    "Dongfeng Rd",
    "Xingang Rd",
    "Tianhe Rd",
    "Guangzhou Ave",
    "Binjiang Rd",
    "Huangpu Ave",
    "Baiyun Ave",
)

FIRM_NAMES = ("Guangda", "Yuntong", "Hengxin", "Jiahe", "Anlift", "Tongda")
# Firms graded A-D in about the proportions one city published (Anshan 2025:
# 10 A, 30 B, 14 C, 2 D).
CREDIT_WEIGHTS = (("A", 10), ("B", 30), ("C", 14), ("D", 2))

# Inspection interval in years (DOMAIN.md: LPG 4, inert 5, others 3), design
# life in years, fill mass range in kg and tare in kg.
GASES: dict[str, dict[str, Any]] = {
    "lpg": {"interval": 4, "life": 8, "fill": (14.5, 14.5), "tare": 15.5, "mpa": None},
    "oxygen": {"interval": 3, "life": 30, "fill": (6.0, 6.0), "tare": 52.0, "mpa": 15.0},
    "nitrogen": {"interval": 5, "life": 30, "fill": (5.3, 5.3), "tare": 52.0, "mpa": 15.0},
    "argon": {"interval": 5, "life": 30, "fill": (9.5, 9.5), "tare": 52.0, "mpa": 15.0},
    "co2": {"interval": 3, "life": 30, "fill": (25.0, 25.0), "tare": 50.0, "mpa": 6.0},
    "acetylene": {"interval": 3, "life": 30, "fill": (7.0, 7.0), "tare": 60.0, "mpa": 1.5},
}
INDUSTRIAL = ("oxygen", "nitrogen", "argon", "co2", "acetylene")

# Shares of cylinders per condition. Overdue ~6%, past design life ~3%,
# scrapped ~4%, suspended ~1%; each station gets at least MIN_PER_CATEGORY of
# the first three so that every injected filling incident has a cylinder.
CYLINDER_SHARES = (("overdue", 0.06), ("past_life", 0.03), ("scrapped", 0.04), ("suspended", 0.01))
MIN_PER_CATEGORY = 2
# Share of in-service elevators whose periodic inspection is overdue.
ELEVATOR_OVERDUE_SHARE = 0.07
# Share of elevators whose firm is clearly late with maintenance (no visit for
# more than 95 days: overdue under any interval the score can give).
MAINTENANCE_LATE_SHARE = 0.05
# Days kept clear around each rule's edge (see the module docstring).
EDGE_MARGIN_DAYS = 3


@dataclass(frozen=True)
class ElevatorSpec:
    """What the car model needs beyond the registry record."""

    elevator_id: str
    lowest_floor: int
    highest_floor: int
    rated_speed: float
    rated_load_kg: int
    # Calls per hour at the busiest hour: bigger buildings, busier cars.
    peak_calls_per_hour: float
    has_presence_sensor: bool


@dataclass(frozen=True)
class CylinderSpec:
    cylinder_id: str
    gas: str
    owner_station_id: str
    max_fill_kg: float
    tare_kg: float
    # good, overdue, past_life, scrapped, suspended (see CYLINDER_SHARES).
    category: str


@dataclass(frozen=True)
class StationSpec:
    station_id: str
    gases: tuple[str, ...]
    operators: tuple[str, ...]
    fills_per_hour: float


@dataclass
class City:
    seed: int
    reference_day: date
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    elevators: list[ElevatorSpec] = field(default_factory=list)
    cylinders: list[CylinderSpec] = field(default_factory=list)
    stations: list[StationSpec] = field(default_factory=list)

    def in_service_elevators(self) -> list[ElevatorSpec]:
        live = {r["elevator_id"] for r in self.records["elevators"] if r["status"] == "in_service"}
        return [e for e in self.elevators if e.elevator_id in live]


def _weighted(rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def _due_offset(rng: random.Random, overdue: bool) -> int:
    """Days from the reference day to the next due date, off the rule edges."""
    if overdue:
        return -rng.randint(EDGE_MARGIN_DAYS, 200)
    while True:
        days = rng.randint(EDGE_MARGIN_DAYS, 360)
        if abs(days - 30) > EDGE_MARGIN_DAYS:
            return days


def generate_city(
    seed: int,
    *,
    elevators: int,
    stations: int,
    reference_day: date,
    cylinders_per_station: int = 60,
) -> City:
    """The city for `seed`, dated around `reference_day` (the simulation's first day)."""
    rng = random.Random(seed)  # noqa: S311 - simulation, not crypto
    city = City(seed=seed, reference_day=reference_day)
    today = reference_day

    n_districts = min(len(DISTRICTS), max(2, elevators // 40 + 1))
    districts = DISTRICTS[:n_districts]

    firms: list[dict[str, Any]] = []
    for i in range(max(3, elevators // 40)):
        firms.append(
            {
                "firm_id": f"F{i + 1:03d}",
                "name": f"{rng.choice(FIRM_NAMES)} Elevator Service {i + 1}",
                "credit_grade": _weighted(rng, CREDIT_WEIGHTS),
                "tech_level": rng.choices([1, 2, 3, 4, 5], weights=[1, 3, 5, 3, 1])[0],
                "phone": f"020-{rng.randint(80000000, 89999999)}",
            }
        )

    # Use units: an owner or property company managing a few buildings.
    use_units = []
    for i in range(max(3, elevators // 6)):
        level = rng.choices([1, 2, 3, 4, 5], weights=[1, 2, 4, 3, 1])[0]
        use_units.append((f"UU{i + 1:04d}", level, rng.choice(firms)["firm_id"]))

    elevator_rows: list[dict[str, Any]] = []
    inspections: list[dict[str, Any]] = []
    maintenance: list[dict[str, Any]] = []
    index = 0
    while index < elevators:
        # A building: one district, one use unit, 1-4 cars of the same height.
        name, lat0, lon0 = rng.choice(districts)
        unit_id, unit_level, firm_id = rng.choice(use_units)
        kind = rng.choices(["low", "mid", "high", "tower"], weights=[2, 5, 4, 1])[0]
        floors = {
            "low": rng.randint(2, 6),
            "mid": rng.randint(7, 18),
            "high": rng.randint(19, 33),
            "tower": rng.randint(34, 60),
        }[kind]
        speed = {
            "low": 1.0,
            "mid": rng.choice((1.5, 1.75)),
            "high": rng.choice((2.0, 2.5)),
            "tower": rng.choice((3.0, 4.0)),
        }[kind]
        basements = 0 if kind == "low" else rng.randint(0, 3)
        street = rng.choice(STREETS)
        address = f"{rng.randint(1, 999)} {street}, {name}"
        lat = round(lat0 + rng.uniform(-0.03, 0.03), 6)
        lon = round(lon0 + rng.uniform(-0.03, 0.03), 6)
        # Installed over 30 years, more of them recent (the building boom).
        installed = today - timedelta(days=int(30 * 365 * (1 - rng.random() ** 0.6)) + 30)
        cars = min(elevators - index, rng.randint(1, 4 if kind != "low" else 1))
        for _ in range(cars):
            index += 1
            elevator_id = f"E{index:05d}"
            roll = rng.random()
            status = "in_service" if roll > 0.02 else ("suspended" if roll > 0.005 else "retired")
            overdue = rng.random() < ELEVATOR_OVERDUE_SHARE
            due = today + timedelta(days=_due_offset(rng, overdue))
            last = add_months(due, -12)
            car_installed = installed
            if last < car_installed:
                car_installed = last - timedelta(days=rng.randint(5, 200))
            elevator_rows.append(
                {
                    "elevator_id": elevator_id,
                    "address": address,
                    "district": name,
                    "lat": lat,
                    "lon": lon,
                    "use_unit": unit_id,
                    "use_unit_level": unit_level,
                    "firm_id": firm_id,
                    "installed_on": car_installed.isoformat(),
                    "floors": floors + basements,
                    "rated_speed": speed,
                    "last_inspected_on": last.isoformat(),
                    "inspection_interval_months": 12,
                    "status": status,
                    "contact_phone": f"020-{rng.randint(30000000, 39999999)}",
                    "rescue_code": rescue_code(seed, index),
                }
            )
            inspections.append(
                {
                    "equipment_type": "elevator",
                    "equipment_id": elevator_id,
                    "inspected_on": last.isoformat(),
                    "result": "pass" if rng.random() > 0.1 else "conditional",
                    "inspector": f"SEI-{rng.randint(100, 999)}",
                }
            )
            late = rng.random() < MAINTENANCE_LATE_SHARE
            done = today - timedelta(days=rng.randint(96, 200) if late else rng.randint(1, 12))
            maintenance.append(
                {
                    "elevator_id": elevator_id,
                    "done_on": done.isoformat(),
                    "kind": "routine",
                    "firm_id": firm_id,
                }
            )
            city.elevators.append(
                ElevatorSpec(
                    elevator_id=elevator_id,
                    lowest_floor=-basements,
                    highest_floor=floors,
                    rated_speed=speed,
                    rated_load_kg=rng.choice((630, 800, 1000, 1050)) if kind != "low" else 450,
                    peak_calls_per_hour={"low": 8.0, "mid": 25.0, "high": 45.0, "tower": 70.0}[kind]
                    * rng.uniform(0.6, 1.3),
                    has_presence_sensor=rng.random() > 0.05,
                )
            )

    station_rows: list[dict[str, Any]] = []
    cylinder_rows: list[dict[str, Any]] = []
    serial = 0
    for s in range(stations):
        station_id = f"ST{s + 1:02d}"
        name, _lat, _lon = districts[s % len(districts)]
        lpg = s % 3 != 2  # two LPG stations for every industrial-gas one
        # Industrial stations all fill oxygen and nitrogen (so cylinders can
        # stray between them), plus one more gas of their own.
        gases = ("lpg",) if lpg else ("oxygen", "nitrogen", rng.choice(INDUSTRIAL[2:]))
        station_rows.append(
            {
                "station_id": station_id,
                "name": f"{name} {'LPG' if lpg else 'Industrial Gas'} Filling Station {s + 1}",
                "district": name,
                "license_no": f"TS42{rng.randint(10000, 99999)}-{2018 + rng.randint(0, 6)}",
                "address": f"{rng.randint(1, 999)} {rng.choice(STREETS)}, {name}",
            }
        )
        city.stations.append(
            StationSpec(
                station_id=station_id,
                gases=gases,
                operators=tuple(f"OP{s + 1:02d}{k}" for k in range(1, 4)),
                fills_per_hour=rng.uniform(8.0, 20.0) if lpg else rng.uniform(3.0, 8.0),
            )
        )
        categories = []
        for category, share in CYLINDER_SHARES:
            wanted = max(
                MIN_PER_CATEGORY if category != "suspended" else 0,
                round(share * cylinders_per_station),
            )
            categories += [category] * wanted
        categories += ["good"] * max(cylinders_per_station - len(categories), 10)
        rng.shuffle(categories)
        for k, category in enumerate(categories):
            serial += 1
            gas = gases[k % len(gases)]
            spec = GASES[gas]
            interval, life = spec["interval"], spec["life"]
            if category == "past_life":
                made = add_years(today, -life) - timedelta(days=rng.randint(EDGE_MARGIN_DAYS, 900))
            else:
                # Well inside design life for the whole simulated span.
                made = today - timedelta(days=rng.randint(30, int((life - 0.5) * 365)))
            if category == "overdue":
                due = today + timedelta(days=_due_offset(rng, True))
            else:
                due = today + timedelta(days=_due_offset(rng, False))
                due = min(due, add_years(today, interval) - timedelta(days=EDGE_MARGIN_DAYS))
            last = add_years(due, -interval)
            if last <= made:
                # Every cylinder here has been inspected at least once since it
                # was made, so its due date is the one drawn above.
                made = last - timedelta(days=rng.randint(30, 365))
            last_inspected = last.isoformat()
            cylinder_id = f"CY{s + 1:02d}{k + 1:05d}"
            cylinder_rows.append(
                {
                    "cylinder_id": cylinder_id,
                    "serial_no": f"{gas[:2].upper()}{made.year}{serial:07d}",
                    "gas": gas,
                    "manufactured_on": made.isoformat(),
                    "max_fill_kg": spec["fill"][0],
                    "design_life_years": life,
                    "inspection_interval_years": interval,
                    "last_inspected_on": last_inspected,
                    "owner_station_id": station_id,
                    "status": {"scrapped": "scrapped", "suspended": "suspended"}.get(
                        category, "in_service"
                    ),
                }
            )
            # A scrapped cylinder failed the inspection after its last pass
            # (the registry's date): a fail renews no base date, so it lies
            # after the date the due date is counted from.
            inspections.append(
                {
                    "equipment_type": "cylinder",
                    "equipment_id": cylinder_id,
                    "inspected_on": (last + timedelta(days=1)).isoformat()
                    if category == "scrapped"
                    else last_inspected,
                    "result": "fail" if category == "scrapped" else "pass",
                    "inspector": f"CIS-{rng.randint(100, 999)}",
                }
            )
            city.cylinders.append(
                CylinderSpec(
                    cylinder_id=cylinder_id,
                    gas=gas,
                    owner_station_id=station_id,
                    max_fill_kg=spec["fill"][0],
                    tare_kg=spec["tare"],
                    category=category,
                )
            )

    # Tier 2 of a rescue: one rescue organisation per district (no draws from
    # rng, so the rest of the city stays what it was for a seed).
    rescue_orgs = [
        {
            "org_id": f"RO-{name}",
            "name": f"{name} Emergency Rescue Station",
            "district": name,
            "phone": f"020-96333{i:03d}",
        }
        for i, (name, _lat, _lon) in enumerate(districts)
    ]

    city.records = {
        "firms": firms,
        "stations": station_rows,
        "rescue_orgs": rescue_orgs,
        "elevators": elevator_rows,
        "cylinders": cylinder_rows,
        "inspections": inspections,
        "maintenance": maintenance,
    }
    return city


def rescue_code(seed: int, index: int) -> str:
    """The 6-digit code posted in car ``index``: a bijection of the index
    (7919 is prime to 900000), so no two cars of a city share one."""
    return str(100000 + (index * 7919 + seed * 13) % 900000)


def write_city(city: City, directory: Path) -> dict[str, Path]:
    """One JSON file per kind (`firms.json`, ...); returns them in import order."""
    directory.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for kind in KIND_ORDER:
        path = directory / f"{kind}.json"
        records = [{k: v for k, v in r.items() if v is not None} for r in city.records[kind]]
        path.write_text(json.dumps(records, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        paths[kind] = path
    return paths
