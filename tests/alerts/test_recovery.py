"""What happens while the alerts process is down is judged when it returns.

The database holds every sample as ingest stored it (``store_samples``: the
same rows, ``received_at`` now) and the broker keeps what was published for
the process's persistent session: both are fed, as in production, and the
restarted process must judge the samples once (the broker's redelivery is
the same samples again).
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


# -- a real kill ---------------------------------------------------------------


@contextlib.contextmanager
def _alerts_cli(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m semon.cli alerts` as its own OS process."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "semon.cli", "alerts"],
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
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MQTT_URL": mqtt_url,
        "SEMON_MQTT__TOPIC_ROOT": root,
        "SEMON_ALERTS__CLIENT_ID": settings.alerts.client_id,
        "SEMON_ALERTS__TRAPPED_OFF_LANDING_S": str(threshold),
        "SEMON_ALERTS__CHECKPOINT_INTERVAL_S": "0.1",
        "SEMON_ALERTS__PUBLISH_POLL_S": "0.1",
        "SEMON_ALERTS__SWEEP_INTERVAL_S": "1000000",
    }
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
