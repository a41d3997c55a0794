"""A small city made for one test: two districts, each with a firm, a
station, an elevator and a cylinder, telemetry, fillings and alerts.

Everything is keyed by the test's unique prefix, so "own" and "foreign"
objects are known exactly even though the database is shared.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
from psycopg.types.json import Jsonb

from semon.domain.alerts import AlertDraft
from semon.i18n import msg
from semon.store.alerts import raise_alert

T0 = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


@dataclass
class Side:
    district: str
    firm: str
    station: str
    elevator: str
    cylinder: str
    alerts: list[str] = field(default_factory=list)


@dataclass
class World:
    uid: str
    a: Side
    b: Side


def side(uid: str, tag: str) -> Side:
    return Side(
        district=f"{uid}-d{tag}",
        firm=f"{uid}-F{tag}",
        station=f"{uid}-S{tag}",
        elevator=f"{uid}-E{tag}",
        cylinder=f"{uid}-C{tag}",
    )


def _post(api_url: str, path: str, headers: dict[str, str], body: Any) -> None:
    r = httpx.post(f"{api_url}{path}", json=body, headers=headers, timeout=60)
    assert r.status_code == 200, r.text


def build_world(api_url: str, admin: dict[str, str], dsn: str, uid: str) -> World:
    world = World(uid, side(uid, "A"), side(uid, "B"))
    for s in (world.a, world.b):
        _post(
            api_url,
            "/registry/firms",
            admin,
            [{"firm_id": s.firm, "name": f"firm {s.firm}", "credit_grade": "B", "tech_level": 3}],
        )
        _post(
            api_url,
            "/registry/stations",
            admin,
            [{"station_id": s.station, "name": "st", "district": s.district}],
        )
        _post(
            api_url,
            "/registry/elevators",
            admin,
            [
                {
                    "elevator_id": s.elevator,
                    "address": "1 Main St",
                    "district": s.district,
                    "use_unit": "unit",
                    "firm_id": s.firm,
                    "installed_on": "2015-01-01",
                    "floors": 12,
                    "lat": 23.1,
                    "lon": 113.2,
                }
            ],
        )
        _post(
            api_url,
            "/registry/cylinders",
            admin,
            [
                {
                    "cylinder_id": s.cylinder,
                    "gas": "lpg",
                    "manufactured_on": "2020-01-01",
                    "max_fill_kg": 14.5,
                    "design_life_years": 15,
                    "inspection_interval_years": 4,
                    "owner_station_id": s.station,
                }
            ],
        )
        _post(
            api_url,
            "/inspections",
            admin,
            [
                {
                    "equipment_type": "cylinder",
                    "equipment_id": s.cylinder,
                    "inspected_on": "2024-06-01",
                    "result": "pass",
                    "inspector": "insp-1",
                }
            ],
        )
    with psycopg.connect(dsn, autocommit=True) as conn:
        for s in (world.a, world.b):
            _telemetry(conn, s)
    asyncio.run(_alerts(dsn, world))
    return world


def _telemetry(conn: psycopg.Connection[Any], s: Side) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO elevator_status (elevator_id, ts, floor, speed, direction, door,"
            " door_zone, occupied, load_kg, mode, alarm, power, trips, door_cycles, run_s,"
            " received_at) VALUES (%s, %s, %s, %s, 'up', 'closed', false, true, 80, 'normal',"
            " false, 'mains', %s, %s, %s, now())",
            [
                (s.elevator, T0 + timedelta(seconds=10 * i), i % 12, 1.0, i, 2 * i, 5 * i)
                for i in range(120)
            ],
        )
        cur.execute(
            "INSERT INTO elevator_events (elevator_id, ts, code, gov_code, received_at)"
            " VALUES (%s, %s, 'alarm_button', 21, now())",
            (s.elevator, T0 + timedelta(minutes=5)),
        )
        cur.executemany(
            "INSERT INTO fillings (filling_id, station_id, cylinder_id, gas, operator_id,"
            " started_at, ended_at, result, net_kg, precheck, postcheck, received_at)"
            " VALUES (%s, %s, %s, 'lpg', 'op-1', %s, %s, 'filled', 14.0, %s, %s, now())",
            [
                (
                    f"{s.cylinder}-f{i}",
                    s.station,
                    s.cylinder,
                    T0 + timedelta(days=i),
                    T0 + timedelta(days=i, minutes=3),
                    Jsonb({"passed": True, "failed_items": []}),
                    Jsonb({"passed": True, "failed_items": []}) if i % 2 else None,
                )
                for i in range(5)
            ],
        )


async def _alerts(dsn: str, world: World) -> None:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        for s in (world.a, world.b):
            for draft in (
                AlertDraft(
                    condition_key=f"trapped:{s.elevator}:{world.uid}",
                    kind="trapped_passenger",
                    equipment_type="elevator",
                    equipment_id=s.elevator,
                    started_at=T0 + timedelta(minutes=5),
                    summary=msg(
                        "alert.trapped_passenger.summary.reported", elevator_id=s.elevator, floor=3
                    ),
                    district=s.district,
                    firm_id=s.firm,
                    use_unit="unit",
                    location={"address": "1 Main St", "district": s.district},
                ),
                AlertDraft(
                    condition_key=f"postcheck:{s.cylinder}:{world.uid}",
                    kind="postcheck_missing",
                    equipment_type="cylinder",
                    equipment_id=s.cylinder,
                    started_at=T0,
                    summary=msg(
                        "alert.postcheck_missing.summary",
                        station_id=s.station,
                        cylinder_id=s.cylinder,
                    ),
                    district=s.district,
                    station_id=s.station,
                ),
            ):
                raised, _ = await raise_alert(conn, draft, now=T0 + timedelta(minutes=6))
                s.alerts.append(raised.alert_id)
            await conn.commit()
