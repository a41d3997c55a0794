"""Rescue deadlines: the tier ladder in the store (dispatch overdue, arrival
overdue making the next tier due, once each, even when two workers race),
the alerts process paging the alert again on MQTT, and kill -9 of a real
`semon alerts` around deadlines: each escalation exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from semon import i18n
from semon.domain.alerts import AlertDraft
from semon.domain.rescue import DispatchIn, NoBody
from semon.settings import Settings
from semon.store import rescue_escalations, rescues
from semon.store.alerts import raise_alert
from tests.alerts.helpers import alerts_process, console, start_clock, tune, uid, wait_checkpoint
from tests.alerts.test_lifecycle import raise_critical

ROOT = Path(__file__).resolve().parents[2]
D, A = 300.0, 900.0  # the default deadlines


async def open_rescue(dsn: str, eid: str, now: datetime) -> dict[str, Any]:
    """A terminal's trap (and so its rescue) at ``now``."""
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        msg, _ = await raise_alert(
            conn,
            AlertDraft(
                condition_key=f"trapped_passenger:{eid}",
                kind="trapped_passenger",
                equipment_type="elevator",
                equipment_id=eid,
                started_at=now,
                summary=i18n.msg("alert.trapped_passenger.summary.unplaced", elevator_id=eid),
                district="d1",
                firm_id="F1",
            ),
            now=now,
            worker="test",
        )
        await conn.commit()
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute("SELECT * FROM rescues WHERE alert_id = %s", (msg.alert_id,))
        row = await cur.fetchone()
        assert row is not None
        return row


async def escalations(dsn: str, rescue_id: str) -> list[tuple[str, int, int, int]]:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cur = await conn.execute(
            "SELECT reason, ref, from_tier, to_tier FROM rescue_escalations"
            " WHERE rescue_id = %s ORDER BY due_at, reason",
            (rescue_id,),
        )
        return [tuple(r) for r in await cur.fetchall()]  # type: ignore[misc]


async def test_the_tier_ladder_in_the_store(database_url: str) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0)
    r = await open_rescue(database_url, uid("lad"), t0)
    rid = r["rescue_id"]

    async def escalate(at: datetime) -> Any:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            got = await rescue_escalations.escalate_rescue(
                conn, rid, now=at, dispatch_s=D, arrival_s=A, worker="w"
            )
            await conn.commit()
            return got

    async def step(action: str, body: Any, at: datetime) -> dict[str, Any]:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            out = await rescues.act(
                conn,
                rid,
                action,
                body,
                now=at,
                by="desk",  # type: ignore[arg-type]
                scope=rescues._ALL,
                params={},
            )
            await conn.commit()
            return out

    assert await escalate(t0 + timedelta(seconds=D - 1)) is None  # not yet
    # two workers at once past the dispatch deadline: one escalation, one page
    got = await asyncio.gather(*(escalate(t0 + timedelta(seconds=D + 1)) for _ in range(2)))
    assert sum(g is not None for g in got) == 1
    paged = next(g for g in got if g is not None)
    assert paged[0].alert_id == r["alert_id"]
    assert await escalate(t0 + timedelta(seconds=D + 60)) is None
    assert await escalations(database_url, rid) == [("dispatch_overdue", 1, 1, 1)]
    # tier 1 sent late; it does not arrive in time: tier 2 is due
    t1 = t0 + timedelta(seconds=D + 120)
    out = await step("dispatch", DispatchIn(tier=1, assignee="crew", phone="1"), t1)
    assert out["due"]["due_kind"] == "arrival"
    assert await escalate(t1 + timedelta(seconds=A - 1)) is None
    assert await escalate(t1 + timedelta(seconds=A + 5)) is not None
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        now_row = await rescues.get_rescue(conn, rid)
    assert now_row is not None and now_row["tier"] == 2
    assert now_row["due"]["due_kind"] == "dispatch"
    assert now_row["due"]["due_from"] == t1 + timedelta(seconds=A)  # from the missed deadline
    # a tier below the due one is refused
    with pytest.raises(rescues.IllegalStep):
        await step("dispatch", DispatchIn(tier=1, assignee="crew", phone="1"), t1)
    t2 = t1 + timedelta(seconds=A + 60)
    await step("dispatch", DispatchIn(tier=2, assignee="station", phone="2"), t2)
    assert await escalate(t2 + timedelta(seconds=A + 1)) is not None  # tier 2 late too: fire
    t3 = t2 + timedelta(seconds=A + 30)
    await step("dispatch", DispatchIn(tier=3, assignee="fire", phone="119"), t3)
    assert await escalate(t3 + timedelta(seconds=A + 1)) is not None  # still late: stays 3
    assert await escalate(t3 + timedelta(seconds=10 * A)) is None  # nothing further due
    await step("arrive", NoBody(), t3 + timedelta(seconds=A + 100))
    assert await escalations(database_url, rid) == [
        ("dispatch_overdue", 1, 1, 1),
        ("arrival_overdue", 1, 1, 2),
        ("arrival_overdue", 2, 2, 3),
        ("arrival_overdue", 3, 3, 3),
    ]
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        final = await rescues.get_rescue(conn, rid)
        cur = await conn.execute(
            "SELECT escalations FROM alerts WHERE alert_id = %s", (r["alert_id"],)
        )
        row = await cur.fetchone()
    assert final is not None and final["state"] == "on_site" and row == (4,)


async def test_the_alerts_process_pages_a_missed_deadline_again(
    settings: Settings, fresh_database_url: str
) -> None:
    settings.database_url = fresh_database_url
    tune(settings)
    settings.alerts.escalate_after_s = 10**9  # only the rescue deadline pages again
    clock = start_clock()
    t0 = clock.now()
    eid = uid("late")
    r = await open_rescue(fresh_database_url, eid, t0)
    async with console(settings) as con, alerts_process(settings, clock):
        clock.set(t0 + timedelta(seconds=D - 5))
        await asyncio.sleep(1.5)
        assert not [m for m in con.messages if m.get("event") == "escalate"]
        clock.set(t0 + timedelta(seconds=D + 1))
        [page] = await con.wait(
            lambda m: m["equipment_id"] == eid and m.get("event") == "escalate", timeout=10
        )
        assert page["alert_id"] == r["alert_id"] and page["state"] == "open"
        await asyncio.sleep(1.5)  # more checks: no second page
    assert await escalations(fresh_database_url, r["rescue_id"]) == [("dispatch_overdue", 1, 1, 1)]
    assert len([m for m in con.messages if m.get("event") == "escalate"]) == 1


async def test_a_rescue_pages_its_alert_again_and_the_generic_re_page_stands_down(
    settings: Settings, fresh_database_url: str
) -> None:
    """One cause, one page: a trap with its rescue is paged again when the
    rescue's dispatch deadline passes, not every escalate_after_s as well
    (before, both paged it at 300 s); a critical alert without a rescue still
    is."""
    settings.database_url = fresh_database_url
    tune(settings)
    settings.alerts.escalate_after_s = 60
    clock = start_clock()
    t0 = clock.now()
    eid, cylinder = uid("trap"), uid("cy")
    r = await open_rescue(fresh_database_url, eid, t0)
    await raise_critical(fresh_database_url, cylinder, t0)

    def escalated(equipment_id: str) -> list[dict[str, Any]]:
        return [
            m
            for m in con.messages
            if m["equipment_id"] == equipment_id and m.get("event") == "escalate"
        ]

    async with console(settings) as con, alerts_process(settings, clock):
        for k in range(1, 5):  # 60 s, 120 s, 180 s, 240 s: the generic re-page's times
            clock.set(t0 + timedelta(seconds=60 * k + 1))
            await con.wait(
                lambda m: m["equipment_id"] == cylinder and m.get("event") == "escalate",
                count=k,
                timeout=10,
            )
        assert not escalated(eid)
        clock.set(t0 + timedelta(seconds=D + 1))
        [page] = await con.wait(
            lambda m: m["equipment_id"] == eid and m.get("event") == "escalate", timeout=10
        )
        assert page["alert_id"] == r["alert_id"]
        assert page["details"]["rescue_escalation"] == "dispatch_overdue: tier 1 -> 1"
        await asyncio.sleep(1.5)  # more checks: no second page
    assert len(escalated(eid)) == 1
    assert await escalations(fresh_database_url, r["rescue_id"]) == [("dispatch_overdue", 1, 1, 1)]


def _alerts_cli(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "cli", "alerts"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.slow
async def test_kill_9_around_deadlines_escalates_each_exactly_once(
    settings: Settings, fresh_database_url: str, mqtt_url: str, tmp_path: Path
) -> None:
    """Real time, a real `semon alerts` process, dispatch deadline 3 s.
    Rescue `early` is escalated and the process killed (SIGKILL) at once,
    perhaps before its page went out; rescue `late` falls due while no
    process runs. After the restart each has exactly one escalation, and
    each page reached MQTT."""
    root = settings.mqtt.topic_root
    env = {
        **os.environ,
        "DATABASE_URL": fresh_database_url,
        "MQTT_URL": mqtt_url,
        "SEMON_MQTT__TOPIC_ROOT": root,
        "SEMON_ALERTS__CLIENT_ID": settings.alerts.client_id,
        "SEMON_ALERTS__CHECKPOINT_INTERVAL_S": "0.1",
        "SEMON_ALERTS__PUBLISH_POLL_S": "0.1",
        "SEMON_ALERTS__SWEEP_INTERVAL_S": "1000000",
        "SEMON_ALERTS__ESCALATE_AFTER_S": "1000000",
        "SEMON_RESCUE__DISPATCH_DEADLINE_S": "3",
    }
    log = tmp_path / "alerts.log"
    early, late = uid("early"), uid("late")
    async with console(settings) as con:
        first = _alerts_cli(env, log)
        try:
            await wait_checkpoint(fresh_database_url, root, datetime.now(UTC))
            t0 = datetime.now(UTC)
            r_early = await open_rescue(fresh_database_url, early, t0)
            r_late = await open_rescue(fresh_database_url, late, t0 + timedelta(seconds=3))
            # kill the moment the early escalation is stored
            async with await psycopg.AsyncConnection.connect(
                fresh_database_url, autocommit=True
            ) as conn:
                for _ in range(200):
                    cur = await conn.execute(
                        "SELECT count(*) FROM rescue_escalations WHERE rescue_id = %s",
                        (r_early["rescue_id"],),
                    )
                    row = await cur.fetchone()
                    if row and row[0]:
                        break
                    await asyncio.sleep(0.02)
            first.send_signal(signal.SIGKILL)
            assert await asyncio.to_thread(first.wait, 10) == -signal.SIGKILL
        finally:
            if first.poll() is None:
                first.kill()
        # down past the late rescue's deadline
        await asyncio.sleep(
            max(0.0, (t0 + timedelta(seconds=6.5) - datetime.now(UTC)).total_seconds())
        )
        second = _alerts_cli(env, log)
        try:
            for eid in (early, late):
                await con.wait(
                    lambda m, e=eid: m["equipment_id"] == e and m.get("event") == "escalate",
                    timeout=20,
                )
            await asyncio.sleep(2.0)  # a few more checks: nothing more
            assert second.poll() is None, log.read_text()[-3000:]
        finally:
            second.kill()
            second.wait(10)
    for r in (r_early, r_late):
        assert await escalations(fresh_database_url, r["rescue_id"]) == [
            ("dispatch_overdue", 1, 1, 1)
        ]
    pages = [m for m in con.messages if m.get("event") == "escalate"]
    assert len([m for m in pages if m["equipment_id"] == late]) == 1
    # early's page: once, or (killed between publish and marking) once more on restart
    assert 1 <= len([m for m in pages if m["equipment_id"] == early]) <= 2
