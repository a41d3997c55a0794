"""What happens while the alerts process is down is judged when it returns.

The database holds every message as ingest stored it (``store_samples``,
``store_event``, ``store_fillings``: the same rows, ``received_at`` now) and
the broker keeps what was published for the process's persistent session:
both are fed, as in production, and the restarted process must judge each
message once (the broker's redelivery is the same messages again). A message
stored but not published is one the killed process had acknowledged and not
judged: only the database has it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from semon.clock import ManualClock
from semon.domain.alerts import ActionBody
from semon.settings import Settings
from semon.store.alerts import apply_action
from tests.alerts.helpers import (
    STUCK,
    Console,
    Device,
    add_cylinder,
    alerts_for,
    alerts_process,
    console,
    device,
    events_for,
    fill,
    sample,
    start_clock,
    store_event,
    store_fillings,
    store_samples,
    tune,
    uid,
    wait_checkpoint,
    wait_db,
)

ROOT = Path(__file__).resolve().parents[2]


async def _set_checkpoint(dsn: str, topic_root: str, at: datetime) -> None:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        await conn.execute(
            "UPDATE alerts_checkpoints SET judged_through = %s WHERE topic_root = %s",
            (at, topic_root),
        )


async def _probe(dev: Device, con: Console, at: datetime) -> None:
    """Returns once every message published before it has been judged: the
    sample of a car standing occupied between floors for longer than the
    threshold goes the samples' way (judged in arrival order, terminal
    events ahead of them) and is paged as soon as it is judged."""
    probe = uid("probe")
    dev.status(probe, sample(at - timedelta(seconds=25), **STUCK))
    await con.wait(lambda m: m["equipment_id"] == probe)


async def _rejudge(
    settings: Settings, clock: ManualClock, dev: Device, con: Console, since: datetime
) -> None:
    """A restart that judges again everything received after ``since`` (its
    checkpoint), until everything it was sent has been judged."""
    dsn, root = settings.database_url, settings.mqtt.topic_root
    await _set_checkpoint(dsn, root, since)
    async with alerts_process(settings, clock):
        await _probe(dev, con, clock.now())
        await wait_checkpoint(dsn, root, datetime.now(UTC))


async def _resolve_by_hand(dsn: str, alert_id: str, at: datetime) -> None:
    """A dispatcher closes the alert through the API's store call."""
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        body = ActionBody(by="dispatcher", resolution="repaired")
        await apply_action(conn, alert_id, "resolve", body, now=at)


def _raised(con: Console, *equipment: str) -> list[dict[str, object]]:
    return [m for m in con.messages if m["equipment_id"] in equipment and m["event"] == "raise"]


async def test_released_while_down_is_closed_on_restart(
    settings: Settings, database_url: str
) -> None:
    """An open trapped alert whose car is released (doors open at a landing,
    then the car empties) while no process runs is resolved with held_s on
    restart; replaying the same backlog again closes or records nothing more."""
    tune(settings)
    root = settings.mqtt.topic_root
    clock = start_clock()
    t0 = clock.now()
    eid = uid("rel")
    trapped = [sample(t0 + timedelta(seconds=s), **STUCK) for s in (0, 10, 20)]
    released = [
        sample(t0 + timedelta(seconds=30), door="open", occupied=True),
        sample(t0 + timedelta(seconds=35), door="open", occupied=False),
    ]
    async with console(settings) as con, device(settings) as dev:
        before_all = datetime.now(UTC)
        async with alerts_process(settings, clock):
            await store_samples(database_url, eid, *trapped)
            dev.status(eid, *trapped)
            clock.set(t0 + timedelta(seconds=21))
            [opened] = await con.wait(lambda m: m["equipment_id"] == eid)
            await wait_checkpoint(database_url, root, datetime.now(UTC))
        # down: the car is released; ingest stores it, the broker keeps it
        await store_samples(database_url, eid, *released)
        dev.status(eid, *released)
        clock.set(t0 + timedelta(seconds=40))
        async with alerts_process(settings, clock):
            [closed] = await con.wait(
                lambda m: m["equipment_id"] == eid and m["state"] == "resolved"
            )
            assert closed["alert_id"] == opened["alert_id"]
            assert closed["resolution"] == "self_released"
            assert closed["details"]["held_s"] == 30.0
            await wait_checkpoint(database_url, root, datetime.now(UTC))
        # Everything judged again from scratch (a checkpoint from before the
        # trap): the episode is the closed alert's, nothing new is stored.
        await _set_checkpoint(database_url, root, before_all)
        async with alerts_process(settings, clock):
            await wait_checkpoint(database_url, root, datetime.now(UTC))
    [row] = await alerts_for(database_url, eid)
    assert row["state"] == "resolved" and row["live"]
    assert row["ended_at"] == t0 + timedelta(seconds=30)
    assert [e["action"] for e in await events_for(database_url, row["alert_id"])] == [
        "raise",
        "resolve",
    ]
    assert len([m for m in con.messages if m["equipment_id"] == eid]) == 2


async def test_released_while_down_after_earlier_door_openings_ends_after_it_began(
    settings: Settings, database_url: str
) -> None:
    """The same with ordinary traffic before the trap in the recovery window
    (doors opening at a landing): the replay takes the release from the
    samples after the alert began, not from a door opening before it (the
    alert came back self_released, ended before it started, held_s 0)."""
    tune(settings)
    root = settings.mqtt.topic_root
    clock = start_clock()
    t0 = clock.now()
    eid = uid("rel")
    traffic = [
        sample(t0 - timedelta(seconds=30), door="open", occupied=True),
        sample(t0 - timedelta(seconds=20), door="open", occupied=False),
        sample(t0 - timedelta(seconds=10), speed=1.0, direction="up", door_zone=False),
    ]
    trapped = [sample(t0 + timedelta(seconds=s), **STUCK) for s in (0, 10, 20)]
    released = [
        sample(t0 + timedelta(seconds=30), door="open", occupied=True),
        sample(t0 + timedelta(seconds=35), door="open", occupied=False),
    ]
    async with console(settings) as con, device(settings) as dev:
        clock.set(t0 - timedelta(seconds=10))
        async with alerts_process(settings, clock):
            await store_samples(database_url, eid, *traffic)
            dev.status(eid, *traffic)
            await _probe(dev, con, clock.now())
            clock.set(t0 + timedelta(seconds=20))
            await store_samples(database_url, eid, *trapped)
            dev.status(eid, *trapped)
            clock.set(t0 + timedelta(seconds=21))
            [opened] = await con.wait(lambda m: m["equipment_id"] == eid)
            await wait_checkpoint(database_url, root, datetime.now(UTC))
        await store_samples(database_url, eid, *released)
        dev.status(eid, *released)
        clock.set(t0 + timedelta(seconds=40))
        async with alerts_process(settings, clock):
            [closed] = await con.wait(
                lambda m: m["equipment_id"] == eid and m["state"] == "resolved"
            )
            await wait_checkpoint(database_url, root, datetime.now(UTC))
    assert closed["alert_id"] == opened["alert_id"]
    assert closed["resolution"] == "self_released"
    assert closed["details"]["held_s"] == 30.0
    [row] = await alerts_for(database_url, eid)
    assert row["started_at"] == t0 and row["ended_at"] == t0 + timedelta(seconds=30)


async def test_episode_entirely_while_down_is_recorded_not_paged(
    settings: Settings, database_url: str
) -> None:
    """Trapped and released while no process runs: recorded on restart as a
    resolved alert with live false, never published; the broker's redelivery
    and a second replay of the same backlog add nothing."""
    tune(settings)
    root = settings.mqtt.topic_root
    clock = start_clock()
    t0 = clock.now()
    eid = uid("gone")
    at_rest = sample(t0)
    episode = [sample(t0 + timedelta(seconds=s), **STUCK) for s in (10, 20, 30, 40, 50)]
    episode += [
        sample(t0 + timedelta(seconds=55), door="open", occupied=True),
        sample(t0 + timedelta(seconds=60), door="open", occupied=False),
    ]
    async with console(settings) as con, device(settings) as dev:
        async with alerts_process(settings, clock):
            await store_samples(database_url, eid, at_rest)
            dev.status(eid, at_rest)
            before_down = datetime.now(UTC)
            await wait_checkpoint(database_url, root, before_down)
        await store_samples(database_url, eid, *episode)
        dev.status(eid, *episode)
        clock.set(t0 + timedelta(seconds=90))
        for replay in range(2):
            if replay:  # judge the same backlog again
                await _set_checkpoint(database_url, root, before_down)
            async with alerts_process(settings, clock):
                await wait_db(database_url, eid, lambda r: len(r) == 1)
                # the redelivered samples were judged before this probe's event
                probe = uid("probe")
                dev.event(probe, clock.now(), "trapped")
                await con.wait(lambda m, p=probe: m["equipment_id"] == p)
    [row] = await alerts_for(database_url, eid)
    assert (row["kind"], row["state"], row["live"]) == ("trapped_passenger", "resolved", False)
    assert row["resolution"] == "self_released" and row["paged_at"] is None
    assert row["started_at"] == t0 + timedelta(seconds=10)
    assert row["ended_at"] == t0 + timedelta(seconds=55)
    assert row["details"]["held_s"] == 45.0
    assert [e["action"] for e in await events_for(database_url, row["alert_id"])] == ["record"]
    assert not [m for m in con.messages if m["equipment_id"] == eid]


async def test_events_nobody_judged_are_judged_on_restart(
    settings: Settings, database_url: str
) -> None:
    """Terminal events ingest stored while no process judged them, some only
    in the database (the killed process had acknowledged them), some kept by
    the broker too. After the restart a fault is raised once its debounce is
    over, a terminal's trapped report at once, and a fault over within its
    debounce is recorded, not paged (the broker's copy of its event does not
    start it again). Judged once more from scratch, with one fault resolved
    by a dispatcher meanwhile, nothing new is stored or paged."""
    tune(settings)
    root = settings.mqtt.topic_root
    clock = start_clock()
    t0 = clock.now()
    acked, kept, over, trap = uid("acked"), uid("kept"), uid("over"), uid("trap")
    ended = sample(t0 + timedelta(seconds=2), speed=1.0, direction="up", door_zone=False)
    async with console(settings) as con, device(settings) as dev:
        async with alerts_process(settings, clock):
            before_down = datetime.now(UTC)
            await wait_checkpoint(database_url, root, before_down)
        # down: ingest stores them; the broker keeps those published
        await store_event(database_url, acked, t0, "door_lock_fault")
        await store_event(database_url, trap, t0, "trapped")
        for eid, code in ((kept, "safety_circuit_open"), (over, "door_fails_to_close")):
            await store_event(database_url, eid, t0, code)
            dev.event(eid, t0, code)
        await store_samples(database_url, over, ended)
        dev.status(over, ended)
        clock.set(t0 + timedelta(seconds=2))
        async with alerts_process(settings, clock):
            [trapped] = await con.wait(lambda m: m["equipment_id"] == trap)
            await _probe(dev, con, clock.now())  # the broker's copies are judged too
            [recorded] = await alerts_for(database_url, over)
            assert not _raised(con, acked, kept)  # in their debounce
            clock.set(t0 + timedelta(seconds=5))
            faults = await con.wait(lambda m: m["equipment_id"] in (acked, kept), count=2)
            await wait_checkpoint(database_url, root, datetime.now(UTC))
        for m in faults:
            assert (m["kind"], m["state"], m["live"]) == ("elevator_fault", "open", True)
            assert datetime.fromisoformat(m["started_at"]) == t0
            assert datetime.fromisoformat(m["raised_at"]) == t0 + timedelta(seconds=5)
        assert trapped["kind"] == "trapped_passenger" and trapped["live"]
        assert (recorded["state"], recorded["live"], recorded["paged_at"]) == (
            "resolved",
            False,
            None,
        )
        assert recorded["details"]["duration_s"] == 2.0
        kept_id = next(m["alert_id"] for m in faults if m["equipment_id"] == kept)
        await _resolve_by_hand(database_url, kept_id, clock.now())
        clock.set(t0 + timedelta(seconds=10))
        await _rejudge(settings, clock, dev, con, before_down)
    for eid in (acked, kept, over, trap):
        assert len(await alerts_for(database_url, eid)) == 1, eid
    assert (await alerts_for(database_url, kept))[0]["resolution"] == "repaired"
    assert len(_raised(con, acked, kept, over, trap)) == 3


async def test_alarm_press_is_remembered_across_a_restart(
    settings: Settings, database_url: str
) -> None:
    """A car without an occupancy sensor stands between floors; only the alarm
    button says someone is inside. Restarted before the threshold, the next
    process has the press back from elevator_events and pages on time."""
    tune(settings)
    root = settings.mqtt.topic_root
    clock = start_clock()
    t0 = clock.now()
    eid = uid("alarm")
    still = {"door_zone": False, "occupied": None}
    before = [sample(t0 + timedelta(seconds=s), **still) for s in (0, 2, 4)]
    after = [sample(t0 + timedelta(seconds=s), **still) for s in (6, 8)]
    pressed = t0 + timedelta(seconds=5)
    async with console(settings) as con, device(settings) as dev:
        async with alerts_process(settings, clock):
            await store_samples(database_url, eid, *before)
            dev.status(eid, *before)
            await store_event(database_url, eid, pressed, "alarm_button")
            dev.event(eid, pressed, "alarm_button")
            await store_samples(database_url, eid, *after)
            dev.status(eid, *after)
            clock.set(t0 + timedelta(seconds=8))
            await _probe(dev, con, clock.now())
            await wait_checkpoint(database_url, root, datetime.now(UTC))
        clock.set(t0 + timedelta(seconds=10))
        async with alerts_process(settings, clock):
            await _probe(dev, con, clock.now())
            assert not [m for m in con.messages if m["equipment_id"] == eid]
            due = pressed + timedelta(seconds=settings.alerts.trapped_off_landing_s)
            clock.set(due)
            [raised] = await con.wait(lambda m: m["equipment_id"] == eid)
    assert raised["kind"] == "trapped_passenger"
    assert datetime.fromisoformat(raised["started_at"]) == pressed
    assert len(await alerts_for(database_url, eid)) == 1


async def test_illegal_fillings_received_while_down_raise_once(
    settings: Settings, database_url: str
) -> None:
    """Illegal fillings ingest stored while no process judged them (one the
    broker kept as well) raise one alert each on restart, overfill from the
    record included; judged again from scratch, after a dispatcher resolved
    one of them, they raise nothing new."""
    tune(settings)
    root = settings.mqtt.topic_root
    clock = start_clock()
    t0 = clock.now()
    st = uid("st")
    gas, unreg, over, ok = uid("gas"), uid("unreg"), uid("over"), uid("ok")
    await add_cylinder(database_url, gas, st, gas="oxygen")
    await add_cylinder(database_url, over, st)
    await add_cylinder(database_url, ok, st)
    records = {
        gas: fill(uid("f"), gas, t0),
        unreg: fill(uid("f"), unreg, t0),
        over: fill(uid("f"), over, t0, net_kg=16.0),
        ok: fill(uid("f"), ok, t0),
    }
    kinds = {gas: "gas_mismatch", unreg: "filling_unregistered_cylinder", over: "overfill"}
    async with console(settings) as con, device(settings) as dev:
        async with alerts_process(settings, clock):
            before_down = datetime.now(UTC)
            await wait_checkpoint(database_url, root, before_down)
        await store_fillings(database_url, st, *records.values())
        dev.filling(st, records[unreg])
        async with alerts_process(settings, clock):
            raised = await con.wait(lambda m: m["equipment_id"] in kinds, count=3)
            await _probe(dev, con, clock.now())  # the broker's copy is judged too
            await wait_checkpoint(database_url, root, datetime.now(UTC))
        assert {m["equipment_id"]: m["kind"] for m in raised} == kinds
        assert next(m for m in raised if m["kind"] == "overfill")["details"]["source"] == (
            "filling record"
        )
        await _resolve_by_hand(
            database_url, next(m["alert_id"] for m in raised if m["equipment_id"] == gas), t0
        )
        await _rejudge(settings, clock, dev, con, before_down)
    for cid, kind in kinds.items():
        [row] = await alerts_for(database_url, cid)
        assert row["kind"] == kind
    assert await alerts_for(database_url, ok) == []
    assert len(_raised(con, *records)) == 3


async def test_restart_judging_again_what_was_raised_live_adds_nothing(
    settings: Settings, database_url: str
) -> None:
    """A process raises a fault, records a debounced one, pages a terminal's
    trapped report and an illegal filling, and stops before its checkpoint
    covers them (as if killed); a dispatcher resolves what it paged. The next
    process judges all of it again from the database and stores or pages
    nothing more (resolved is not open: raise_alert would open another)."""
    tune(settings)
    clock = start_clock()
    t0 = clock.now()
    fault, blip, trap, st, cyl = uid("fault"), uid("blip"), uid("trap"), uid("st"), uid("cyl")
    ended = sample(t0 + timedelta(seconds=1), speed=1.0, direction="up", door_zone=False)
    record = fill(uid("f"), cyl, t0)
    async with console(settings) as con, device(settings) as dev:
        before = datetime.now(UTC)
        async with alerts_process(settings, clock):
            for eid, code in (
                (fault, "overspeed"),
                (blip, "door_fails_to_open"),
                (trap, "trapped"),
            ):
                await store_event(database_url, eid, t0, code)
                dev.event(eid, t0, code)
            await store_samples(database_url, blip, ended)
            dev.status(blip, ended)
            await store_fillings(database_url, st, record)
            dev.filling(st, record)
            # Judged before the clock moves: judged after, the sample ending
            # the blip's fault came after its 5 s debounce was over and the
            # fault was paged live (the test failed under load).
            await _probe(dev, con, t0)
            clock.set(t0 + timedelta(seconds=6))
            paged = await con.wait(lambda m: m["equipment_id"] in (fault, trap, cyl), count=3)
            await wait_db(database_url, blip, lambda r: len(r) == 1)
        for m in paged:
            await _resolve_by_hand(database_url, m["alert_id"], clock.now())
        clock.set(t0 + timedelta(seconds=10))
        await _rejudge(settings, clock, dev, con, before)
    for eid in (fault, blip, trap, cyl):
        [row] = await alerts_for(database_url, eid)
        assert row["state"] == "resolved" and row["live"] == (eid != blip), row
    # Three alerts paged, none raised again. A page the first process sent but
    # had not yet marked published when it stopped is sent again by the next
    # (QoS 1: at least once, the same alert id; the machine under load showed it).
    assert len({m["alert_id"] for m in _raised(con, fault, blip, trap, cyl)}) == 3


# -- a real kill ---------------------------------------------------------------


@contextlib.contextmanager
def _alerts_cli(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m cli alerts` as its own OS process."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "alerts"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def _cli_env(settings: Settings, database_url: str, mqtt_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "MQTT_URL": mqtt_url,
        "SEMON_MQTT__TOPIC_ROOT": settings.mqtt.topic_root,
        "SEMON_ALERTS__CLIENT_ID": settings.alerts.client_id,
        "SEMON_ALERTS__CHECKPOINT_INTERVAL_S": "0.1",
        "SEMON_ALERTS__PUBLISH_POLL_S": "0.1",
        "SEMON_ALERTS__SWEEP_INTERVAL_S": "1000000",
        **extra,
    }


@pytest.mark.slow
async def test_sigkill_restart_raises_a_standing_car_on_time_and_no_duplicate(
    settings: Settings, database_url: str, mqtt_url: str, tmp_path: Path
) -> None:
    """`semon alerts` killed with SIGKILL while a car has stood (occupied,
    between floors) for half its threshold: the next process raises it when
    the threshold is reached, and the alert open before the kill stays the
    only one of its car. System clock, real device times."""
    threshold = 12.0
    root = settings.mqtt.topic_root
    env = _cli_env(
        settings, database_url, mqtt_url, SEMON_ALERTS__TRAPPED_OFF_LANDING_S=str(threshold)
    )
    log = tmp_path / "alerts.log"
    standing, opened = uid("stand"), uid("open")
    async with console(settings) as con, device(settings) as dev:
        with _alerts_cli(env, log) as first:
            await wait_checkpoint(database_url, root, datetime.now(UTC))  # subscribed, judging
            dev.event(opened, datetime.now(UTC), "trapped")
            await con.wait(lambda m: m["equipment_id"] == opened)
            # the car has stood for 6 of its 12 s; the terminal sends every second
            t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=6)
            stood = [sample(t0 + timedelta(seconds=s), **STUCK) for s in range(7)]
            await store_samples(database_url, standing, *stood)
            dev.status(standing, *stood)
            await wait_checkpoint(database_url, root, datetime.now(UTC))
            first.send_signal(signal.SIGKILL)
            assert await asyncio.to_thread(first.wait, 10) == -signal.SIGKILL
        # down: the terminal goes on; the trapped car's terminal repeats itself
        more = sample(t0 + timedelta(seconds=7), **STUCK)
        await store_samples(database_url, standing, more)
        dev.status(standing, more)
        dev.event(opened, datetime.now(UTC), "trapped")
        restarted = datetime.now(UTC)
        due = t0 + timedelta(seconds=threshold)
        with _alerts_cli(env, log) as second:
            ready = await wait_checkpoint(database_url, root, restarted)
            assert ready < due, f"the restart took {ready - restarted}: too slow to be on time"
            [raised] = await con.wait(lambda m: m["equipment_id"] == standing, timeout=30)
            arrived = raised["_received"]
            assert second.poll() is None, log.read_text()[-3000:]
            assert datetime.fromisoformat(raised["started_at"]) == t0
            # on time: not before the threshold, within the tick and delivery after it
            assert due <= arrived <= due + timedelta(seconds=1.5), (arrived - due, raised)
            assert datetime.fromisoformat(raised["raised_at"]) >= due
    assert len(await alerts_for(database_url, standing)) == 1
    assert len(await alerts_for(database_url, opened)) == 1
    assert len([m for m in con.messages if m["equipment_id"] == opened]) == 1


@pytest.mark.slow
async def test_sigkill_during_a_fault_debounce_raises_it_once_after_restart(
    settings: Settings, database_url: str, mqtt_url: str, tmp_path: Path
) -> None:
    """`semon alerts` killed with SIGKILL while a fault it judged waits out its
    debounce: the broker will not send the event again (it was acknowledged),
    so only elevator_events has it. The next process rebuilds the pending
    fault and raises it once, when the debounce is over. No margin: the event
    counts as judged before the kill (state rebuilt, not judged again)."""
    debounce = 4.0
    root = settings.mqtt.topic_root
    env = _cli_env(
        settings,
        database_url,
        mqtt_url,
        SEMON_ALERTS__FAULT_DEBOUNCE_S=str(debounce),
        SEMON_ALERTS__CHECKPOINT_MARGIN_S="0",
    )
    log = tmp_path / "alerts.log"
    eid = uid("debounce")
    async with console(settings) as con, device(settings) as dev:
        with _alerts_cli(env, log) as first:
            await wait_checkpoint(database_url, root, datetime.now(UTC))  # subscribed, judging
            at = datetime.now(UTC)
            await store_event(database_url, eid, at, "door_lock_fault")
            dev.event(eid, at, "door_lock_fault")
            await _probe(dev, con, datetime.now(UTC))  # the fault event was judged before it
            await wait_checkpoint(database_url, root, datetime.now(UTC))
            first.send_signal(signal.SIGKILL)
            assert await asyncio.to_thread(first.wait, 10) == -signal.SIGKILL
        killed = datetime.now(UTC)
        assert killed < at + timedelta(seconds=debounce), "too slow: the debounce was over"
        with _alerts_cli(env, log) as second:
            [raised] = await con.wait(lambda m: m["equipment_id"] == eid, timeout=30)
            await wait_checkpoint(database_url, root, datetime.now(UTC))
            assert second.poll() is None, log.read_text()[-3000:]
    assert raised["kind"] == "elevator_fault" and raised["live"]
    assert datetime.fromisoformat(raised["started_at"]) == at
    assert datetime.fromisoformat(raised["raised_at"]) >= at + timedelta(seconds=debounce)
    assert raised["_received"] >= at + timedelta(seconds=debounce)
    [row] = await alerts_for(database_url, eid)
    assert row["state"] == "open"
    assert len([m for m in con.messages if m["equipment_id"] == eid]) == 1
