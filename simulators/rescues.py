"""The rescue centre's day, simulated: the desk and the crews act out each
trapped passenger's script (simulators/rescue_scripts.py) against the store.

Crews travel for a time drawn per district (each district has its own
typical travel, from the seed); a share of tier-1 crews are stuck past the
arrival deadline, the platform escalates, and the desk sends tier 2. A share
of traps are called in as well (the call joins the rescue), and some only by
phone (a car without trap detection: the call opens the rescue).

``play`` acts the scripts out against the store in time order, with each
step at its scripted time and the deadline check the alerts process runs
(semon.store.rescue_escalations.due_rescues / escalate_rescue) at every second a
deadline falls due: the desk's software, run on simulated time. Unlike the
device simulators it writes through the store, because the desk's steps are
stamped with the time they happen and the API stamps them with its own clock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from psycopg import AsyncConnection, sql

from semon import i18n
from semon.domain.alerts import AlertDraft
from semon.domain.rescue import (
    CallbackIn,
    CallIn,
    CloseIn,
    DispatchIn,
    FreeIn,
    NoBody,
    RescueAction,
)
from semon.store import rescue_calls, rescue_escalations
from semon.store import rescues as store
from semon.store.alerts import raise_alert
from simulators.rescue_scripts import (
    DeskOptions,
    RescueScript,
    demo_pace,
    district_travel,
    draw_script,
    script_steps,
)


async def play(conn: AsyncConnection, scripts: list[RescueScript], options: DeskOptions) -> None:
    """Act the scripts out in time order, checking deadlines as the alerts
    process would, at every second a deadline falls due."""
    timeline: list[tuple[datetime, int, int, str]] = []
    for n, s in enumerate(scripts):
        timeline += [(at, order, n, what) for at, order, what in script_steps(s, options)]
    timeline.sort()
    rescue_of: dict[int, str] = {}
    d, a = options.dispatch_deadline_s, options.arrival_deadline_s
    for at, _order, n, what in timeline:
        await _escalate_due(conn, at, d, a)
        s = scripts[n]
        if what == "open":
            rescue_of[n] = await _open(conn, s, at)
        else:
            await _act_step(conn, rescue_of[n], s, what, at, by="sim-desk")
        await conn.commit()


async def _escalate_due(conn: AsyncConnection, until: datetime, d: float, a: float) -> None:
    # Each deadline checked at the second it falls due (the alerts process's 1 s tick).
    while True:
        cur = await conn.execute(
            "SELECT min(due_from + make_interval(secs => CASE due_kind WHEN 'dispatch'"
            " THEN %s ELSE %s END)) FROM rescues WHERE due_kind IS NOT NULL",
            (d, a),
        )
        row = await cur.fetchone()
        due = row[0] if row else None
        if due is None or due > until:
            return
        for rescue_id in await rescue_escalations.due_rescues(
            conn, now=due, dispatch_s=d, arrival_s=a
        ):
            await rescue_escalations.escalate_rescue(
                conn, rescue_id, now=due, dispatch_s=d, arrival_s=a, worker="sim-alerts"
            )
        await conn.commit()


async def _lift(conn: AsyncConnection, elevator_id: str) -> dict[str, Any]:
    lift = await store.find_elevator(
        conn, elevator_id=elevator_id, rescue_code=None, scope=sql.SQL("TRUE"), params={}
    )
    assert lift is not None, elevator_id
    return lift


async def _call(
    conn: AsyncConnection, elevator_id: str, at: datetime, *, by: str, caller: str
) -> dict[str, Any]:
    """A caller about the lift: opens its rescue or joins the one open."""
    rescue, _ = await rescue_calls.take_call(
        conn,
        await _lift(conn, elevator_id),
        CallIn(elevator_id=elevator_id, caller_name=caller),
        now=at,
        by=by,
        key=None,
        request_hash=None,
    )
    return rescue


async def _act_step(
    conn: AsyncConnection, rescue_id: str, s: RescueScript, what: str, at: datetime, *, by: str
) -> dict[str, Any]:
    """Run one scripted step at ``at`` (`call`, `dispatch`, `dispatch2`: tier 2,
    `arrive`, `free`, `callback`, `close`); returns the rescue after it."""
    if what == "call":
        return await _call(conn, s.elevator_id, at, by=by, caller="caller")
    body: Any = {
        "dispatch": DispatchIn(tier=1, assignee="firm crew", phone="020-1"),
        "dispatch2": DispatchIn(tier=2, assignee="rescue station", phone="020-2"),
        "arrive": NoBody(),
        "free": FreeIn(trapped_count=s.trapped, injured_count=s.injured),
        "callback": CallbackIn(note="called back"),
        "close": CloseIn(cause_category=s.cause),  # type: ignore[arg-type]
    }[what]
    action = cast(RescueAction, "dispatch" if what == "dispatch2" else what)
    return await store.act(
        conn, rescue_id, action, body, now=at, by=by, scope=store._ALL, params={}
    )


async def _open(conn: AsyncConnection, s: RescueScript, at: datetime) -> str:
    if s.phone_only:
        rescue = await _call(conn, s.elevator_id, at, by="sim-desk", caller="first caller")
        return str(rescue["rescue_id"])
    lift = await _lift(conn, s.elevator_id)
    draft = rescue_calls.call_draft(lift, CallIn(elevator_id=s.elevator_id), at)
    draft = AlertDraft(
        condition_key=draft.condition_key,
        kind="trapped_passenger",
        equipment_type="elevator",
        equipment_id=s.elevator_id,
        started_at=at,
        summary=i18n.msg("alert.trapped_passenger.summary.unplaced", elevator_id=s.elevator_id),
        details={"reason": "simulated trap"},
        district=draft.district,
        firm_id=draft.firm_id,
        use_unit=draft.use_unit,
        location=draft.location,
    )
    msg, _ = await raise_alert(conn, draft, now=at, worker="sim-alerts")
    cur = await conn.execute("SELECT rescue_id FROM rescues WHERE alert_id = %s", (msg.alert_id,))
    row = await cur.fetchone()
    assert row is not None
    return str(row[0])


# -- the live desk (the demo) ----------------------------------------------------------


@dataclass
class _Plan:
    steps: list[tuple[datetime, str]]
    script: RescueScript
    state: str = "open"  # the state the desk's own last step left


class RescueDesk:
    """The 96333 desk and its crews, live beside the demo: every rescue the
    platform opens gets a script (travel scaled by ``time_scale`` so a demo
    shows whole rescues in minutes), whose steps run when due, stamped with
    the real time. It works the rescues terminals open, and lets go of one
    that someone else moved on (its state is not what the desk's own last step
    left) or whose step the platform refuses: that rescue is the console's.
    Each rescue the desk closes is a ground-truth record with its timings as
    stored."""

    def __init__(
        self,
        seed: int,
        *,
        options: DeskOptions | None = None,
        time_scale: float = 0.1,
        truth: Any | None = None,
    ) -> None:
        self.seed = seed
        self.options = options or DeskOptions()
        self.scale = time_scale
        self.truth = truth
        self.rng = random.Random(f"desk-{seed}")  # noqa: S311 - simulation
        self.plans: dict[str, _Plan] = {}
        self.done: set[str] = set()

    def _plan(self, rescue_id: str, row: dict[str, Any]) -> _Plan:
        o, rng, k = self.options, self.rng, self.scale
        opened: datetime = row["opened_at"]
        late = rng.random() < o.late_dispatch_share
        stuck = rng.random() < o.stuck_share
        script = draw_script(
            rng,
            demo_pace(rng, o, k),
            o,
            late=late,
            elevator_id=row["elevator_id"],
            district=row["district"] or "",
            firm_id=row["firm_id"],
            opened=opened,
            phone_only=False,
            travel_s=district_travel(self.seed, row["district"] or "") * k,
            stuck=stuck,
        )
        at = opened + timedelta(seconds=script.dispatch_after_s)
        steps = [(at, "dispatch")]
        if script.call_after_s is not None:
            steps.append((opened + timedelta(seconds=script.call_after_s), "call"))
        if stuck:  # tier 1 never arrives: tier 2 once the platform escalates
            due = at + timedelta(seconds=o.arrival_deadline_s + script.tier2_after_s)
            steps.append((due, "dispatch2"))
            at = due + timedelta(seconds=script.tier2_travel_s)
        else:
            at += timedelta(seconds=script.travel_s)
        steps.append((at, "arrive"))
        at += timedelta(seconds=script.free_after_s)
        steps.append((at, "free"))
        at += timedelta(seconds=script.callback_after_s)
        steps.append((at, "callback"))
        steps.append((at + timedelta(seconds=script.close_after_s), "close"))
        steps.sort()
        return _Plan(steps, script)

    async def tick(self, conn: AsyncConnection, now: datetime) -> int:
        """Take on new rescues and run every step due by ``now``; returns how many ran."""
        # Rescues a terminal opened (a call's rescue is the person's at the console).
        cur = await conn.execute(
            "SELECT rescue_id, elevator_id, district, firm_id, opened_at, tier, state"
            " FROM rescues WHERE state <> 'closed' AND source = 'terminal' ORDER BY opened_at"
        )
        names = ("elevator_id", "district", "firm_id", "opened_at", "tier", "state")
        rows = {str(r[0]): dict(zip(names, r[1:], strict=True)) for r in await cur.fetchall()}
        await conn.commit()
        for rescue_id, row in rows.items():
            if rescue_id not in self.plans and rescue_id not in self.done:
                self.plans[rescue_id] = self._plan(rescue_id, row)
        ran = 0
        for rescue_id, plan in list(self.plans.items()):
            current = rows.get(rescue_id)
            if current is None or current["state"] != plan.state:
                plan.steps.clear()  # closed, or someone else moved it on: theirs now
            while plan.steps and plan.steps[0][0] <= now:
                _at, what = plan.steps[0]
                if what == "dispatch2" and (current is None or int(current["tier"]) < 2):
                    break  # the platform has not escalated yet: tier 2 is not due
                plan.steps.pop(0)
                try:
                    plan.state = await self._run(conn, rescue_id, plan.script, what, now)
                    await conn.commit()
                    ran += 1
                except (store.IllegalStep, store.RescueNotFound):
                    await conn.rollback()
                    plan.steps.clear()  # a person took it over
            if not plan.steps:
                del self.plans[rescue_id]
                self.done.add(rescue_id)
        return ran

    async def _run(
        self, conn: AsyncConnection, rescue_id: str, s: RescueScript, what: str, now: datetime
    ) -> str:
        """Run one step; returns the rescue's state after it."""
        rescue = await _act_step(conn, rescue_id, s, what, now, by="demo-desk")
        if what == "close" and self.truth is not None:
            self.truth.write(recorded(rescue))
        return str(rescue["state"])


def recorded(rescue: dict[str, Any]) -> dict[str, Any]:
    """A closed rescue as a ground-truth record: its timings as stored."""

    def iso(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "kind": "rescue",
        "rescue_id": rescue["rescue_id"],
        "elevator_id": rescue["elevator_id"],
        "district": rescue["district"],
        "firm_id": rescue["firm_id"],
        **{
            k: iso(rescue[k])
            for k in (
                "opened_at",
                "dispatched_at",
                "on_site_at",
                "freed_at",
                "callback_at",
                "closed_at",
            )
        },
        "on_site_tier": rescue["on_site_tier"],
        "trapped": rescue["trapped_count"],
        "injured": rescue["injured_count"],
        "cause": rescue["cause_category"],
        "calls": len(rescue["calls"]),
        "escalations": len(rescue["escalations"]),
    }
