"""Trapped passengers: raised on device time, not raised for technicians or
short stops, closed when the doors open at a landing and the car empties."""

from __future__ import annotations

from datetime import timedelta

import psycopg

from semon.settings import Settings
from tests.alerts.helpers import (
    STUCK,
    alerts_for,
    alerts_process,
    console,
    device,
    events_for,
    sample,
    start_clock,
    tune,
    uid,
    wait_db,
)


async def test_raised_after_threshold_and_self_released(
    settings: Settings, database_url: str
) -> None:
    tune(settings)
    clock = start_clock()
    t0 = clock.now()
    eid = uid("el")
    async with console(settings) as con, device(settings) as dev, alerts_process(settings, clock):
        dev.status(eid, sample(t0, **STUCK))
        dev.status(eid, sample(t0 + timedelta(seconds=10), **STUCK))
        clock.set(t0 + timedelta(seconds=19))
        # a neighbour raised by the same tick proves the clock reached the rules
        probe = uid("el")
        dev.event(probe, t0 + timedelta(seconds=19), "trapped")
        await con.wait(lambda m: m["equipment_id"] == probe)
        assert [m for m in con.messages if m["equipment_id"] == eid] == []
        clock.set(t0 + timedelta(seconds=20.5))
        [opened] = await con.wait(lambda m: m["equipment_id"] == eid and m["state"] == "open")
        assert opened["kind"] == "trapped_passenger" and opened["severity"] == "critical"
        assert opened["_topic"] == f"{settings.mqtt.topic_root}/alerts/trapped_passenger/{eid}"
        assert opened["started_at"].startswith(t0.strftime("%Y-%m-%dT%H:%M:%S"))
        # doors open at a landing, then the car empties
        dev.status(eid, sample(t0 + timedelta(seconds=30), door="open", occupied=True))
        dev.status(eid, sample(t0 + timedelta(seconds=35), door="open", occupied=False))
        [closed] = await con.wait(lambda m: m["equipment_id"] == eid and m["state"] == "resolved")
        assert closed["alert_id"] == opened["alert_id"]
        assert closed["resolution"] == "self_released"
        assert closed["details"]["held_s"] == 30.0
    [row] = await alerts_for(database_url, eid)
    assert row["state"] == "resolved" and row["live"]
    assert [e["action"] for e in await events_for(database_url, row["alert_id"])] == [
        "raise",
        "resolve",
    ]


async def test_not_raised_for_traffic_technicians_and_short_stops(
    settings: Settings, database_url: str
) -> None:
    tune(settings)
    clock = start_clock()
    t0 = clock.now()
    busy, tech, short, nosensor, probe = (uid(p) for p in ("busy", "tech", "short", "nos", "probe"))
    async with console(settings) as con, device(settings) as dev, alerts_process(settings, clock):
        for i in range(6):  # a busy car: moves, stops at landings, opens its doors
            t = t0 + timedelta(seconds=10 * i)
            moving = i % 2 == 0
            dev.status(
                busy,
                sample(
                    t,
                    occupied=True,
                    speed=1.0 if moving else 0.0,
                    direction="up" if moving else "stopped",
                    door="closed" if moving else "open",
                    door_zone=not moving,
                ),
            )
        dev.status(
            tech,
            sample(t0, mode="maintenance", **STUCK),
            sample(t0 + timedelta(seconds=50), mode="maintenance", **STUCK),
        )
        dev.status(
            short,
            sample(t0, **STUCK),
            sample(
                t0 + timedelta(seconds=12),
                speed=1.0,
                direction="down",
                door_zone=False,
                occupied=True,
            ),
            sample(t0 + timedelta(seconds=15), door="open", occupied=True),
        )
        # no sensor, no alarm pressed: nobody known to be inside
        dev.status(nosensor, sample(t0, door_zone=False, occupied=None))
        dev.status(probe, sample(t0 + timedelta(seconds=30), **STUCK))
        clock.set(t0 + timedelta(seconds=55))
        await con.wait(lambda m: m["equipment_id"] == probe)
    for eid in (busy, tech, short, nosensor):
        assert await alerts_for(database_url, eid) == [], eid


async def test_alarm_button_battery_and_terminal_event(
    settings: Settings, database_url: str
) -> None:
    tune(settings)
    clock = start_clock()
    t0 = clock.now()
    alarm, battery, terminal = uid("alarm"), uid("batt"), uid("term")
    async with console(settings) as con, device(settings) as dev, alerts_process(settings, clock):
        dev.status(alarm, sample(t0, door_zone=False, occupied=None))
        dev.event(alarm, t0 + timedelta(seconds=2), "alarm_button")
        dev.status(battery, sample(t0, door_zone=False, occupied=None, power="battery"))
        dev.event(terminal, t0, "trapped", gov_code=8)
        await con.wait(lambda m: m["equipment_id"] == terminal)
        clock.set(t0 + timedelta(seconds=6))
        await con.wait(lambda m: m["equipment_id"] == battery)
        assert not [m for m in con.messages if m["equipment_id"] == alarm]
        clock.set(t0 + timedelta(seconds=23))
        await con.wait(lambda m: m["equipment_id"] == alarm)
    for eid in (alarm, battery, terminal):
        [row] = await alerts_for(database_url, eid)
        assert row["kind"] == "trapped_passenger" and row["state"] == "open"


async def test_late_backlog_episode_recorded_not_paged(
    settings: Settings, database_url: str
) -> None:
    tune(settings)
    clock = start_clock()
    t0 = clock.now()
    eid, probe = uid("late"), uid("probe")
    async with console(settings) as con, device(settings) as dev, alerts_process(settings, clock):
        clock.set(t0 + timedelta(seconds=150))
        dev.status(
            eid,
            *[sample(t0 + timedelta(seconds=s), **STUCK) for s in (0, 10, 20, 30)],
            sample(t0 + timedelta(seconds=40), door="open", occupied=False),
        )
        rows = await wait_db(database_url, eid, lambda r: len(r) == 1)
        dev.event(probe, t0 + timedelta(seconds=150), "trapped")
        await con.wait(lambda m: m["equipment_id"] == probe)
        assert not [m for m in con.messages if m["equipment_id"] == eid]
    [row] = rows
    assert row["state"] == "resolved" and not row["live"]
    assert row["details"]["held_s"] == 40.0


async def test_alert_carries_registry_context(settings: Settings, database_url: str) -> None:
    tune(settings)
    clock = start_clock()
    eid, firm = uid("el"), uid("firm")
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await conn.execute(
            "INSERT INTO firms (firm_id, name, credit_grade, tech_level, phone)"
            " VALUES (%s, 'Lift Care', 'B', 3, '+86 20 1234 5678')",
            (firm,),
        )
        await conn.execute(
            "INSERT INTO elevators (elevator_id, address, district, lat, lon, use_unit, firm_id,"
            " installed_on) VALUES (%s, '8 Harbour Rd', 'tianhe', 23.1, 113.3, 'uu-9', %s,"
            " '2015-01-01')",
            (eid, firm),
        )
    async with console(settings) as con, device(settings) as dev, alerts_process(settings, clock):
        dev.event(eid, clock.now(), "trapped")
        [msg] = await con.wait(
            lambda m: m["equipment_id"] == eid and m["kind"] == "trapped_passenger"
        )
    assert msg["location"] == {
        "address": "8 Harbour Rd",
        "district": "tianhe",
        "lat": 23.1,
        "lon": 113.3,
    }
    assert msg["firm_id"] == firm and msg["use_unit"] == "uu-9"
    assert msg["details"]["firm"] == {
        "firm_id": firm,
        "name": "Lift Care",
        "phone": "+86 20 1234 5678",
    }
    [row] = [r for r in await alerts_for(database_url, eid) if r["kind"] == "trapped_passenger"]
    assert (row["district"], row["firm_id"], row["use_unit"]) == ("tianhe", firm, "uu-9")
