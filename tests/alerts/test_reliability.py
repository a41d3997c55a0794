"""Restart, database outage and duplicated + shuffled replay."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from semon.settings import Settings
from tests.alerts.helpers import (
    STUCK,
    add_cylinder,
    alerts_for,
    alerts_process,
    console,
    device,
    events_for,
    fill,
    metric,
    private_postgres,
    sample,
    start_clock,
    tune,
    uid,
    wait_db,
    years_ago,
)

_STORE = """
INSERT INTO elevator_status (elevator_id, ts, floor, speed, direction, door, door_zone, occupied,
    mode, alarm, power, received_at)
VALUES (%s, %s, 3, 0, 'stopped', 'closed', false, true, 'normal', false, 'mains', now())
"""


async def test_restart_keeps_detection_and_opens_no_duplicate(
    settings: Settings, database_url: str
) -> None:
    """A car standing 40 s (threshold 60 s here) when the process stops is raised
    on time by the next process; an alert open before the stop stays the one."""
    tune(settings)
    settings.alerts.trapped_off_landing_s = 60
    clock = start_clock()
    t0 = clock.now()
    standing, opened = uid("stand"), uid("open")
    async with console(settings) as con, device(settings) as dev:
        async with alerts_process(settings, clock):
            async with await psycopg.AsyncConnection.connect(database_url) as conn:
                for s in range(0, 41, 10):  # what ingest stores
                    await conn.execute(_STORE, (standing, t0 + timedelta(seconds=s)))
            for s in range(0, 41, 10):
                dev.status(standing, sample(t0 + timedelta(seconds=s), **STUCK))
            dev.event(opened, t0, "trapped")
            await con.wait(lambda m: m["equipment_id"] == opened)
            clock.set(t0 + timedelta(seconds=40))
        # down: the terminal's next sample waits in the broker session
        dev.status(standing, sample(t0 + timedelta(seconds=50), **STUCK))
        dev.event(opened, t0 + timedelta(seconds=45), "trapped")
        async with alerts_process(settings, clock):
            clock.set(t0 + timedelta(seconds=59))
            probe = uid("probe")
            dev.event(probe, clock.now(), "trapped")
            await con.wait(lambda m: m["equipment_id"] == probe)
            assert not [m for m in con.messages if m["equipment_id"] == standing]
            clock.set(t0 + timedelta(seconds=60.2))
            [raised] = await con.wait(lambda m: m["equipment_id"] == standing)
            assert raised["started_at"].startswith(t0.strftime("%Y-%m-%dT%H:%M:%S"))
    assert len(await alerts_for(database_url, opened)) == 1
    assert len(await alerts_for(database_url, standing)) == 1


async def test_database_down_trapped_still_paged_then_stored(settings: Settings) -> None:
    tune(settings)
    clock = start_clock()
    eid, fault = uid("el"), uid("flt")
    async with private_postgres() as (pg, dsn):
        settings.database_url = dsn
        async with (
            console(settings) as con,
            device(settings) as dev,
            alerts_process(settings, clock),
        ):
            await asyncio.to_thread(pg.stop)
            dev.event(eid, clock.now(), "trapped")
            dev.event(fault, clock.now(), "overspeed")
            [paged] = await con.wait(lambda m: m["equipment_id"] == eid)
            assert paged["state"] == "open"
            clock.advance(6)  # the fault is past its debounce, waits for the database
            await asyncio.to_thread(pg.start)
            [row] = await wait_db(dsn, eid, lambda r: len(r) == 1, timeout=20)
            assert row["alert_id"] == paged["alert_id"]
            [ev] = await events_for(dsn, row["alert_id"])
            assert ev["published_at"] is not None  # paged once, from memory
            await con.wait(lambda m: m["equipment_id"] == fault, timeout=20)
            await wait_db(dsn, fault, lambda r: len(r) == 1)
        assert len([m for m in con.messages if m["equipment_id"] == eid]) == 1


async def test_slow_store_does_not_hold_a_page(settings: Settings, database_url: str) -> None:
    """A database that answers, but late (here another session holds a lock
    that blocks inserts into alerts), does not hold a trapped-passenger page
    past page_store_wait_s: it goes out from memory, the row follows with the
    same id once the lock is gone, marked published, and nobody is paged twice."""
    tune(settings)
    clock = start_clock()
    eid = uid("slow")
    before = metric("semon_alerts_paged_before_stored_total")
    async with console(settings) as con, device(settings) as dev, alerts_process(settings, clock):
        async with await psycopg.AsyncConnection.connect(database_url) as blocker:
            await blocker.execute("LOCK TABLE alerts IN SHARE ROW EXCLUSIVE MODE")
            dev.event(eid, clock.now(), "trapped")
            [paged] = await con.wait(lambda m: m["equipment_id"] == eid)
            assert await alerts_for(database_url, eid) == []  # paged before stored
            assert metric("semon_alerts_paged_before_stored_total") == before + 1
            await blocker.rollback()
        [row] = await wait_db(database_url, eid, lambda r: len(r) == 1)
        assert row["alert_id"] == paged["alert_id"]
        assert row["raised_at"].isoformat().replace("+00:00", "Z") == paged["raised_at"]
        for _ in range(100):  # marked published by the next poll (0.1 s here)
            [ev] = await events_for(database_url, row["alert_id"])
            if ev["published_at"] is not None:
                break
            await asyncio.sleep(0.05)
        assert ev["published_at"] is not None
        # the poll after the marking: anything it would publish is out by now
        await asyncio.sleep(3 * settings.alerts.publish_poll_s)
    assert [m["event"] for m in con.messages if m["equipment_id"] == eid] == ["raise"]


async def test_sweep_flood_does_not_hold_a_page(
    settings: Settings, fresh_database_url: str
) -> None:
    """A city's first start finds thousands of elevators overdue: the sweep's
    raises wait behind a trapped passenger raised meanwhile, not before it."""
    tune(settings)
    settings.database_url = fresh_database_url
    clock = start_clock()
    n = 2000
    async with await psycopg.AsyncConnection.connect(fresh_database_url) as conn:
        async with conn.cursor().copy(
            "COPY elevators (elevator_id, address, district, use_unit, installed_on) FROM STDIN"
        ) as copy:
            for i in range(n):
                await copy.write_row((f"flood-{i:05d}", "1 Main St", "east", "uu", years_ago(3)))
        await conn.commit()
    eid = uid("trap")
    async with console(settings) as con, device(settings) as dev, alerts_process(settings, clock):
        await con.wait(lambda m: m["kind"] == "inspection_overdue")  # the flood is going out
        dev.event(eid, clock.now(), "trapped")
        await con.wait(lambda m: m["equipment_id"] == eid)
        flood = sum(1 for m in con.messages if m["kind"] == "inspection_overdue")
        assert flood < n / 2, f"the page waited for {flood} of {n} sweep alerts"
        # and the flood is all written after it
        await con.wait(lambda m: m["kind"] == "inspection_overdue", count=n, timeout=120)


@pytest.mark.slow
async def test_database_down_filling_judged_from_the_cache_then_stored(
    settings: Settings,
) -> None:
    """With the database down, a filling of a cylinder the process has read
    before is judged against its cached record; the alert waits in the outbox
    and is stored, then published, when the database is back. A cylinder never
    read is not judged, and is counted."""
    tune(settings)
    clock = start_clock()
    t0 = clock.now()
    st, seen, unseen = uid("st"), uid("cyl"), uid("cyl")
    unjudged = "semon_alerts_unjudged_total"
    async with private_postgres() as (pg, dsn):
        settings.database_url = dsn
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            await conn.execute(
                "INSERT INTO stations (station_id, name, district) VALUES (%s, 'Gas', 'north')",
                (st,),
            )
        for cid in (seen, unseen):  # both overdue for their periodic inspection
            await add_cylinder(dsn, cid, st, made=years_ago(6), inspected=years_ago(5))
        async with (
            console(settings) as con,
            device(settings) as dev,
            alerts_process(settings, clock),
        ):
            dev.filling(st, fill(uid("f"), seen, t0))  # read from the database: now cached
            await con.wait(lambda m: m["kind"] == "filling_overdue_cylinder")
            await asyncio.to_thread(pg.stop)
            before = metric(unjudged, reason="filling_cylinder_not_cached")
            late = uid("f")
            dev.filling(st, fill(late, seen, t0 + timedelta(seconds=30)))
            dev.filling(st, fill(uid("f"), unseen, t0 + timedelta(seconds=30)))
            # judged in order: the second one counted means the first one was judged
            for _ in range(400):
                if metric(unjudged, reason="filling_cylinder_not_cached") > before:
                    break
                await asyncio.sleep(0.05)
            assert metric(unjudged, reason="filling_cylinder_not_cached") == before + 1
            assert metric("semon_alerts_outbox_ops") >= 1  # the alert waits for the database
            assert not [m for m in con.messages if _filling_id(m) == late]
            await asyncio.to_thread(pg.start)
            [m] = await con.wait(lambda m: _filling_id(m) == late, timeout=20)
            assert m["kind"] == "filling_overdue_cylinder" and m["state"] == "open"
            assert m["details"]["registry_source"] == "cache (database unreachable)"
            assert m["location"]["district"] == "north"
            rows = await wait_db(dsn, seen, lambda r: len(_of_fillings(r)) == 2)
            assert {r["kind"] for r in _of_fillings(rows)} == {"filling_overdue_cylinder"}
        assert _of_fillings(await alerts_for(dsn, unseen)) == []


def _filling_id(message: dict[str, Any]) -> Any:
    return (message["details"].get("filling") or {}).get("filling_id")


def _of_fillings(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if not r["kind"].startswith("inspection_")]  # not the sweep's


def _story(t0: Any) -> list[dict[str, Any]]:
    """Trapped 0-40 s and released, a fault that running ended, all 2 minutes late."""
    out = [sample(t0 + timedelta(seconds=s), **STUCK) for s in (0, 10, 20, 30)]
    out.append(sample(t0 + timedelta(seconds=40), door="open", occupied=True))
    out.append(sample(t0 + timedelta(seconds=45), door="open", occupied=False))
    out.append(sample(t0 + timedelta(seconds=60), speed=1.0, direction="up", door_zone=False))
    return out


async def test_duplicated_shuffled_replay_gives_the_same_alerts(
    settings: Settings, database_url: str
) -> None:
    tune(settings)
    clock = start_clock()
    t0 = clock.now()
    ordered, shuffled = uid("ord"), uid("shuf")
    clock.set(t0 + timedelta(seconds=150))
    async with console(settings) as con, device(settings) as dev, alerts_process(settings, clock):
        story = _story(t0)
        dev.status(ordered, *story)
        dev.event(ordered, t0 + timedelta(seconds=50), "door_lock_fault")
        msgs: list[tuple[str, Any]] = [("s", s) for s in story * 2]
        msgs += [("e", t0 + timedelta(seconds=50))] * 2
        random.Random(7).shuffle(msgs)
        for kind, m in msgs:
            if kind == "s":
                dev.status(shuffled, m)
            else:
                dev.event(shuffled, m, "door_lock_fault")
        await wait_db(database_url, ordered, lambda r: len(r) == 2)
        await wait_db(database_url, shuffled, lambda r: len(r) == 2)
        probe = uid("probe")
        dev.event(probe, clock.now(), "trapped")
        await con.wait(lambda m: m["equipment_id"] == probe)

    def shape(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted(
            (
                r["kind"],
                r["state"],
                r["live"],
                r["started_at"],
                r["ended_at"],
                r["details"].get("held_s"),
                r["details"].get("code"),
            )
            for r in rows
        )

    a = shape(await alerts_for(database_url, ordered))
    b = shape(await alerts_for(database_url, shuffled))
    assert a == b
    assert [x[:3] for x in a] == [
        ("elevator_fault", "resolved", False),
        ("trapped_passenger", "resolved", False),
    ]
    assert not [m for m in con.messages if m["equipment_id"] in (ordered, shuffled)]
