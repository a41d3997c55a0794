"""The lifecycle through the store (as the API calls it), its publication by
the alerts process, and escalation until someone acknowledges."""

from __future__ import annotations

import asyncio
from datetime import datetime

import psycopg
import pytest

from semon import i18n
from semon.domain.alerts import ActionBody, AlertDraft
from semon.settings import Settings
from semon.store.alerts import AlertNotFound, IllegalTransition, apply_action, raise_alert
from tests.alerts.helpers import (
    alerts_for,
    alerts_process,
    console,
    device,
    events_for,
    start_clock,
    tune,
    uid,
)


async def test_transitions_published_and_illegal_ones_refused(
    settings: Settings, database_url: str
) -> None:
    tune(settings)
    clock = start_clock()
    eid = uid("el")
    async with console(settings) as con, device(settings) as dev, alerts_process(settings, clock):
        dev.event(eid, clock.now(), "trapped")
        [opened] = await con.wait(lambda m: m["equipment_id"] == eid)
        aid = opened["alert_id"]
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            clock.advance(30)
            msg = await apply_action(conn, aid, "ack", ActionBody(by="disp-7"), now=clock.now())
            assert msg.state == "acknowledged" and msg.acknowledged_at == clock.now()
            with pytest.raises(IllegalTransition):
                await apply_action(conn, aid, "ack", ActionBody(by="disp-7"), now=clock.now())
            await apply_action(conn, aid, "arrive", ActionBody(by="firm-1"), now=clock.advance(600))
            with pytest.raises(IllegalTransition):
                await apply_action(conn, aid, "dispatch", ActionBody(by="disp-7"), now=clock.now())
            with pytest.raises(IllegalTransition):  # resolve needs a resolution
                await apply_action(conn, aid, "resolve", ActionBody(by="firm-1"), now=clock.now())
            done = await apply_action(
                conn,
                aid,
                "resolve",
                ActionBody(by="firm-1", note="freed", resolution="rescued"),
                now=clock.advance(300),
            )
            assert done.state == "resolved" and done.resolution == "rescued"
            with pytest.raises(IllegalTransition):
                await apply_action(
                    conn, aid, "resolve", ActionBody(by="x", resolution="other"), now=clock.now()
                )
            with pytest.raises(AlertNotFound):
                await apply_action(conn, "no-such", "ack", ActionBody(by="x"), now=clock.now())
        states = await con.wait(lambda m: m["alert_id"] == aid, count=4)
        assert [m["state"] for m in states] == ["open", "acknowledged", "on_site", "resolved"]
        for _ in range(100):  # marked published right after the publish
            evs = await events_for(database_url, aid)
            if all(e["published_at"] is not None for e in evs):
                break
            await asyncio.sleep(0.05)
    assert [(e["action"], e["by"]) for e in evs] == [
        ("raise", settings.alerts.client_id),
        ("ack", "disp-7"),
        ("arrive", "firm-1"),
        ("resolve", "firm-1"),
    ]
    assert all(e["published_at"] is not None for e in evs)
    assert [e["event_id"] for e in evs] == sorted(e["event_id"] for e in evs)


async def raise_critical(dsn: str, cylinder_id: str, now: datetime) -> None:
    """A critical alert no rescue drives (a trapped passenger's is paged again
    by its rescue's deadlines: tests/alerts/test_rescue_deadlines.py)."""
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        await raise_alert(
            conn,
            AlertDraft(
                condition_key=f"gas_mismatch:{cylinder_id}",
                kind="gas_mismatch",
                equipment_type="cylinder",
                equipment_id=cylinder_id,
                started_at=now,
                summary=i18n.msg(
                    "alert.gas_mismatch.summary",
                    station_id="S1",
                    gas="LPG",
                    registered_gas="oxygen",
                    cylinder_id=cylinder_id,
                ),
                station_id="S1",
            ),
            now=now,
        )


async def test_escalation_until_acknowledged(settings: Settings, database_url: str) -> None:
    tune(settings)
    settings.alerts.escalate_after_s = 60
    clock = start_clock()
    eid, later = uid("cy"), uid("cy")
    async with console(settings) as con, alerts_process(settings, clock):
        await raise_critical(database_url, eid, clock.now())
        [opened] = await con.wait(lambda m: m["equipment_id"] == eid)
        clock.advance(61)
        await con.wait(lambda m: m["equipment_id"] == eid and m.get("event") == "escalate")
        clock.advance(61)
        got = await con.wait(
            lambda m: m["equipment_id"] == eid and m.get("event") == "escalate", count=2
        )
        assert got[-1]["escalations"] == 2 and got[-1]["state"] == "open"
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            await apply_action(conn, opened["alert_id"], "ack", ActionBody(by="d"), now=clock.now())
        await con.wait(lambda m: m["equipment_id"] == eid and m["state"] == "acknowledged")
        await raise_critical(database_url, later, clock.now())
        await con.wait(lambda m: m["equipment_id"] == later)
        clock.advance(61)
        # the later alert escalates: the acknowledged one does not
        await con.wait(lambda m: m["equipment_id"] == later and m.get("event") == "escalate")
    [row] = await alerts_for(database_url, eid)
    assert row["escalations"] == 2
