"""Restart, database outage and duplicated + shuffled replay."""

from __future__ import annotations

import asyncio
import random
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg

from semon.embedded import EmbeddedPostgres
from semon.settings import Settings
from semon.store.commands import migrate_database
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
from tests.support import services

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


async def test_database_down_trapped_still_paged_then_stored(
    settings: Settings, tmp_path: Path
) -> None:
    tune(settings)
    clock = start_clock()
    eid, fault = uid("el"), uid("flt")
    with tempfile.TemporaryDirectory(prefix="semon-pg-alerts-") as tmp:
        pg = EmbeddedPostgres(Path(tmp) / "pgdata", port=services.free_port())
        await asyncio.to_thread(pg.start)
        try:
            with psycopg.connect(pg.dsn("postgres"), autocommit=True) as c:
                c.execute("CREATE DATABASE semon")
            dsn = pg.dsn("semon")
            settings.database_url = dsn
            await migrate_database(dsn, Settings(database_url=dsn))
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
        finally:
            await asyncio.to_thread(pg.stop)


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
