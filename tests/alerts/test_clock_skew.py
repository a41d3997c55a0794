"""Terminal clocks that drift: each terminal's deadlines are kept on its own
clock (the offset learned from its recent messages), so a short stop from a
slow terminal is not paged and a stuck car from a slow or fast one is paged
when the same car with a correct clock would be, within 2 s."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import psycopg

from semon.settings import Settings
from tests.alerts.helpers import (
    STUCK,
    Console,
    Device,
    alerts_for,
    alerts_process,
    console,
    device,
    sample,
    start_clock,
    tune,
    uid,
    wait_checkpoint,
    wait_db,
)

# Platform minus device time: slow terminals are positive. -290 s is inside
# the contract's future limit (a sample at most 300 s ahead is accepted).
OFFSETS = (-290.0, -60.0, -25.0, 0.0, 25.0, 60.0, 290.0)
MOVING = {"speed": 1.0, "direction": "up", "door_zone": False, "occupied": True}


async def _judged(dev: Device, con: Console, at: datetime) -> None:
    """Returns once every message published before it has been judged."""
    probe = uid("probe")
    dev.event(probe, at, "trapped")
    await con.wait(lambda m: m["equipment_id"] == probe)


def _trapped(con: Console, eid: str) -> list[dict[str, object]]:
    return [
        m
        for m in con.messages
        if m["equipment_id"] == eid and m["kind"] == "trapped_passenger" and m["event"] == "raise"
    ]


async def test_skewed_terminals_page_on_their_own_clock(settings: Settings) -> None:
    tune(settings)
    clock = start_clock()
    t0 = clock.now()
    stuck = {off: uid(f"stuck{int(off)}") for off in OFFSETS}
    short = {off: uid(f"short{int(off)}") for off in OFFSETS}

    async def at(k: float, send: dict[str, dict[str, object]]) -> None:
        """Platform time t0 + k: each car sends what its terminal reads then."""
        clock.set(t0 + timedelta(seconds=k))
        for off in OFFSETS:
            device_ts = t0 + timedelta(seconds=k - off)
            for eid, what in ((stuck[off], send["stuck"]), (short[off], send["short"])):
                # Paced: the broker takes 20 unacknowledged messages at most.
                await dev.client.wait_window(10, timeout_s=10)
                dev.status(eid, sample(device_ts, **what))  # type: ignore[arg-type]
        await _judged(dev, con, clock.now())

    async with console(settings) as con, device(settings) as dev, alerts_process(settings, clock):
        for k in range(4):  # running normally: the platform learns each clock
            await at(k, {"stuck": MOVING, "short": MOVING})
        # Both stop between floors with people inside at t0+5 (platform time);
        # one moves on 3 s later, the other stays.
        await at(5, {"stuck": STUCK, "short": STUCK})
        await at(8, {"stuck": STUCK, "short": MOVING})
        await at(15, {"stuck": STUCK, "short": MOVING})
        await at(24, {"stuck": STUCK, "short": MOVING})
        clock.set(t0 + timedelta(seconds=24.5))
        await _judged(dev, con, clock.now())
        assert {off: len(_trapped(con, stuck[off])) for off in OFFSETS} == dict.fromkeys(
            OFFSETS, 0
        ), "paged before the threshold on the terminal's clock"
        # Correct clock: due at t0+25; a page at most 2 s later is on time.
        clock.set(t0 + timedelta(seconds=27))
        for off in OFFSETS:
            [page] = await con.wait(lambda m, e=stuck[off]: m in _trapped(con, e), timeout=5)
            started = datetime.fromisoformat(str(page["started_at"]))
            assert started == t0 + timedelta(seconds=5 - off), off
        await _judged(dev, con, clock.now())
    assert {off: len(_trapped(con, short[off])) for off in OFFSETS} == dict.fromkeys(OFFSETS, 0)


async def _store(dsn: str, eid: str, s: dict[str, object], received: datetime) -> None:
    """What ingest stores for the sample, received at ``received``."""
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        await conn.execute(
            "INSERT INTO elevator_status (elevator_id, ts, floor, speed, direction, door,"
            " door_zone, occupied, mode, alarm, power, received_at)"
            " VALUES (%s, %s, 3, %s, %s, 'closed', %s, %s, 'normal', false, 'mains', %s)",
            (
                eid,
                datetime.fromisoformat(str(s["ts"])),
                s["speed"],
                s["direction"],
                s["door_zone"],
                s["occupied"],
                received,
            ),
        )


async def test_a_restart_knows_each_terminals_clock_from_the_start(
    settings: Settings, database_url: str
) -> None:
    """A terminal 25 s slow, a restart, and then a 3 s stop: the offset comes
    back from the receive times ingest stored, so the first sample after the
    restart does not look 25 s old (a page at once, for a 3 s stop)."""
    tune(settings)
    clock = start_clock()
    t0 = clock.now()
    off = timedelta(seconds=25)
    eid = uid("slow")

    async def send(k: float, what: dict[str, object]) -> None:
        clock.set(t0 + timedelta(seconds=k))
        s = sample(t0 + timedelta(seconds=k) - off, **what)  # type: ignore[arg-type]
        await _store(database_url, eid, s, clock.now())
        dev.status(eid, s)
        await _judged(dev, con, clock.now())

    async with console(settings) as con, device(settings) as dev:
        async with alerts_process(settings, clock):
            for k in range(4):
                await send(k, MOVING)
            await wait_checkpoint(database_url, settings.mqtt.topic_root, datetime.now(UTC))
        async with alerts_process(settings, clock):
            await send(5, STUCK)
            await send(8, MOVING)
            clock.set(t0 + timedelta(seconds=10))
            await _judged(dev, con, clock.now())
    assert _trapped(con, eid) == []


async def test_a_slow_terminals_late_backlog_is_still_recorded_not_paged(
    settings: Settings, database_url: str
) -> None:
    """Learning a terminal's clock does not turn its late uploads into live
    data: 60 s slow and known to be, it uploads (after an outage) a stretch
    that ended 70 s before, on its clock, with a whole trap in it: recorded
    resolved and not live, never paged."""
    tune(settings)
    clock = start_clock()
    t0 = clock.now()
    off = timedelta(seconds=60)
    eid = uid("slow")
    async with console(settings) as con, device(settings) as dev, alerts_process(settings, clock):
        for k in range(4):
            clock.set(t0 + timedelta(seconds=k))
            dev.status(eid, sample(t0 + timedelta(seconds=k) - off, **MOVING))
            await _judged(dev, con, clock.now())
        clock.set(t0 + timedelta(seconds=150))  # silent 147 s on its clock: not offline
        start = t0 + timedelta(seconds=40) - off  # device time
        dev.status(
            eid,
            *[sample(start + timedelta(seconds=s), **STUCK) for s in (0, 10, 20, 30)],
            sample(start + timedelta(seconds=40), door="open", occupied=False),
        )
        [row] = await wait_db(database_url, eid, lambda r: len(r) == 1)  # nothing else either
        await _judged(dev, con, clock.now())
    assert (row["kind"], row["state"], row["live"]) == ("trapped_passenger", "resolved", False)
    assert row["details"]["held_s"] == 40.0
    assert _trapped(con, eid) == []


async def test_a_slow_terminal_heard_from_is_not_offline_on_first_contact(
    settings: Settings, database_url: str
) -> None:
    """A terminal 290 s slow, new to the platform: its first sample looks 290 s
    old (silent for longer than 180 s) before its clock is known, yet it was
    just heard from: not offline. Silent for 181 s by the platform's clock,
    it is."""
    tune(settings)
    clock = start_clock()
    t0 = clock.now()
    eid = uid("slow")
    async with console(settings) as con, device(settings) as dev, alerts_process(settings, clock):
        dev.status(eid, sample(t0 - timedelta(seconds=290)))
        await _judged(dev, con, clock.now())
        await asyncio.sleep(1.0)  # the upload settles (0.3 s) and full scans run (0.2 s)
        await _judged(dev, con, clock.now())
        assert await alerts_for(database_url, eid) == []
        clock.set(t0 + timedelta(seconds=181))
        await con.wait(lambda m: m["equipment_id"] == eid and m["kind"] == "terminal_offline")
