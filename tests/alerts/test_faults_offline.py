"""Faults from terminal events (debounced), offline terminals, alarm-line tests."""

from __future__ import annotations

from datetime import timedelta

from semon.settings import Settings
from tests.alerts.helpers import (
    alerts_for,
    alerts_process,
    console,
    device,
    metric,
    sample,
    start_clock,
    tune,
    uid,
    wait_db,
    wait_metric,
)


async def test_faults_raise_debounce_and_close(settings: Settings, database_url: str) -> None:
    tune(settings)
    clock = start_clock()
    t0 = clock.now()
    power, blip, speed, probe = uid("pw"), uid("blip"), uid("sp"), uid("probe")
    running = {"speed": 1.0, "direction": "up", "door_zone": False}
    async with console(settings) as con, device(settings) as dev, alerts_process(settings, clock):
        dev.event(power, t0, "power_loss")
        dev.event(blip, t0, "door_fails_to_open", detail="landing 3")
        dev.status(blip, sample(t0 + timedelta(seconds=3), **running))  # over within 5 s
        dev.event(speed, t0, "overspeed", gov_code=3)
        dev.event(speed, t0 + timedelta(seconds=1), "overspeed")  # a repeat
        await wait_db(database_url, blip, lambda r: len(r) == 1)
        # (only this test's lifts: the session database holds other tests' registry)
        assert not [m for m in con.messages if m["equipment_id"] in (power, blip, speed)]
        clock.set(t0 + timedelta(seconds=5.5))
        await con.wait(lambda m: m["equipment_id"] in (power, speed), count=2)
        dev.event(speed, t0 + timedelta(seconds=7), "overspeed")  # repeat of an open one
        dev.event(power, t0 + timedelta(seconds=30), "power_restored")
        dev.status(speed, sample(t0 + timedelta(seconds=31), **running))
        await con.wait(lambda m: m["state"] == "resolved", count=2)
        dev.event(probe, t0 + timedelta(seconds=31), "trapped")
        await con.wait(lambda m: m["equipment_id"] == probe)
    [p] = await alerts_for(database_url, power)
    assert p["kind"] == "elevator_fault" and p["details"]["code"] == "power_loss"
    assert p["details"]["gov_code"] == 9 and p["state"] == "resolved" and p["live"]
    [b] = await alerts_for(database_url, blip)
    assert b["state"] == "resolved" and not b["live"] and b["details"]["duration_s"] == 3.0
    [s] = await alerts_for(database_url, speed)
    assert s["state"] == "resolved" and s["details"]["gov_code"] == 3
    assert not [m for m in con.messages if m["equipment_id"] == blip]


async def test_offline_terminal_and_alarm_test(settings: Settings, database_url: str) -> None:
    tune(settings)
    clock = start_clock()
    t0 = clock.now()
    quiet, tested = uid("quiet"), uid("tested")
    async with console(settings) as con, device(settings) as dev, alerts_process(settings, clock):
        judged = metric("semon_alerts_messages_total", kind="status")
        dev.status(quiet, sample(t0))
        dev.event(tested, t0, "alarm_test")
        # Judged before the clock moves: heard at t0 (a terminal whose clock
        # is not known yet is offline by when it was last heard from). Events
        # have their own session and may pass the sample: wait for both.
        first = uid("probe")
        dev.event(first, t0, "trapped")
        await con.wait(lambda m: m["equipment_id"] == first)
        await wait_metric("semon_alerts_messages_total", judged + 1, kind="status")
        clock.set(t0 + timedelta(seconds=179))
        probe = uid("probe")
        dev.event(probe, clock.now(), "trapped")
        await con.wait(lambda m: m["equipment_id"] == probe)
        assert not [m for m in con.messages if m["equipment_id"] == quiet]
        clock.set(t0 + timedelta(seconds=181))
        [off] = await con.wait(lambda m: m["equipment_id"] == quiet)
        assert off["kind"] == "terminal_offline" and off["severity"] == "minor"
        assert off["details"]["blind_elevators"] == [quiet]
        dev.status(quiet, sample(t0 + timedelta(seconds=200)))
        await con.wait(lambda m: m["equipment_id"] == quiet and m["state"] == "resolved")
        clock.set(t0 + timedelta(hours=72, seconds=1))
        [missed] = await con.wait(lambda m: m["equipment_id"] == tested)
        assert missed["kind"] == "alarm_test_missed"
        dev.event(tested, clock.now(), "alarm_test")
        await con.wait(lambda m: m["equipment_id"] == tested and m["state"] == "resolved")
    assert len(await alerts_for(database_url, tested)) == 1
