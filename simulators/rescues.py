"""The rescue centre's day, simulated: for each trapped passenger, a script of
what the 96333 desk and the crews do (who calls, when the desk dispatches,
how long each district's crews travel, which are late enough to escalate,
how long freeing takes, how many were inside and hurt, the cause), and the
ground truth of every rescue's timings.

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

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
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

CAUSES = ("external", "human", "door_system", "equipment", "power", "unknown")
# Guangzhou 2022: 61 % of traps had external causes; door systems and people next.
CAUSE_WEIGHTS = (0.61, 0.14, 0.15, 0.06, 0.03, 0.01)


@dataclass
class RescueScript:
    """One trap and what everyone does about it (seconds after opening)."""

    elevator_id: str
    district: str
    firm_id: str | None
    opened: datetime
    phone_only: bool  # no terminal detection: the call opens the rescue
    call_after_s: float | None  # a caller who joins; None: nobody calls
    dispatch_after_s: float
    travel_s: float  # tier 1's travel
    tier2_after_s: float  # after tier 1's missed arrival: the desk sends tier 2
    tier2_travel_s: float
    stuck: bool  # tier 1 never arrives (past the arrival deadline)
    free_after_s: float
    callback_after_s: float  # after freeing
    close_after_s: float  # after the call-back
    trapped: int
    injured: int
    cause: str
    events: list[tuple[datetime, str]] = field(default_factory=list)


@dataclass(frozen=True)
class DeskOptions:
    call_share: float = 0.3
    phone_only_share: float = 0.1
    stuck_share: float = 0.1
    late_dispatch_share: float = 0.1
    dispatch_deadline_s: float = 300.0
    arrival_deadline_s: float = 900.0


def district_travel(seed: int, district: str) -> float:
    """A district's typical crew travel, seconds (6-18 min: centre to outskirts)."""
    rng = random.Random(f"travel-{seed}-{district}")  # noqa: S311 - simulation
    return rng.uniform(360, 1080)


@dataclass(frozen=True)
class Pace:
    """How a script's times are drawn: ``draw(low, high)`` for each range of
    seconds (the call; a dispatch in time, or one that long after
    ``deadline``; tier 2 sent after the missed arrival, and its travel, times
    ``scale``, the demo's shortened time; freeing; the call-back; closing)."""

    draw: Callable[[int, int], float]
    deadline: float
    call: tuple[int, int]
    dispatch: tuple[int, int]
    late: tuple[int, int]
    tier2_after: tuple[int, int]
    tier2_travel: tuple[int, int]
    free: tuple[int, int]
    callback: tuple[int, int]
    close: tuple[int, int]
    scale: float = 1.0


def day_pace(rng: random.Random, options: DeskOptions) -> Pace:
    """The simulated day's: whole seconds (the truth is exact), each step
    inside its deadline unless drawn late."""
    d, a = int(options.dispatch_deadline_s), int(options.arrival_deadline_s)
    return Pace(
        rng.randrange, d, (5, 180), (20, d - 5), (5, 240), (10, d - 5), (300, a - 5),
        (120, 1200), (30, 600), (60, 1800),
    )  # fmt: skip


def demo_pace(rng: random.Random, options: DeskOptions, scale: float) -> Pace:
    """The demo desk's: quick on the phone, most dispatches within a minute."""
    return Pace(
        rng.uniform, options.dispatch_deadline_s, (5, 30), (10, 60), (5, 60), (10, 60),
        (300, 800), (20, 90), (10, 30), (10, 60), scale,
    )  # fmt: skip


def _draw_script(
    rng: random.Random, pace: Pace, options: DeskOptions, *, late: bool, **known: Any
) -> RescueScript:
    """A script with its times drawn at ``pace`` (in this order: the same
    seed, the same scripts) and the rest ``known``."""
    p, draw = pace, pace.draw
    return RescueScript(
        **known,
        call_after_s=draw(*p.call) if rng.random() < options.call_share else None,
        dispatch_after_s=p.deadline + draw(*p.late) if late else draw(*p.dispatch),
        tier2_after_s=draw(*p.tier2_after),
        tier2_travel_s=draw(*p.tier2_travel) * p.scale,
        free_after_s=draw(*p.free),
        callback_after_s=draw(*p.callback),
        close_after_s=draw(*p.close),
        trapped=rng.choices((1, 2, 3, 4), weights=(60, 25, 10, 5))[0],
        injured=1 if rng.random() < 0.03 else 0,
        cause=rng.choices(CAUSES, weights=CAUSE_WEIGHTS)[0],
    )


def draw_scripts(
    rng: random.Random,
    lifts: list[dict[str, Any]],
    *,
    day: datetime,
    count: int,
    seed: int,
    options: DeskOptions,
) -> list[RescueScript]:
    """``count`` traps over the day starting at ``day`` on ``lifts`` (registry
    records), one at a time per lift; whole seconds, so the truth is exact."""
    scripts: list[RescueScript] = []
    used: set[str] = set()
    a = options.arrival_deadline_s
    for _ in range(count):
        lift = rng.choice([x for x in lifts if x["elevator_id"] not in used])
        used.add(lift["elevator_id"])
        opened = day + timedelta(seconds=rng.randrange(0, 86400 - 4 * 3600))
        typical = district_travel(seed, lift["district"])
        stuck = rng.random() < options.stuck_share
        travel = round(min(a - 1, max(120.0, rng.lognormvariate(math.log(typical), 0.3))))
        late = rng.random() < options.late_dispatch_share
        scripts.append(
            _draw_script(
                rng,
                day_pace(rng, options),
                options,
                late=late,
                elevator_id=lift["elevator_id"],
                district=lift["district"],
                firm_id=lift.get("firm_id"),
                opened=opened,
                phone_only=rng.random() < options.phone_only_share,
                travel_s=travel,
                stuck=stuck,
            )
        )
    return scripts


def truth(script: RescueScript, options: DeskOptions) -> dict[str, Any]:
    """What the rescue's record must say: the ground truth of its timings."""
    s, a = script, options.arrival_deadline_s
    dispatched = s.opened + timedelta(seconds=s.dispatch_after_s)
    escalations = int(s.dispatch_after_s > options.dispatch_deadline_s)
    if s.stuck:
        escalations += 1  # tier 1's arrival missed; tier 2 sent within the deadline
        on_site = dispatched + timedelta(seconds=a + s.tier2_after_s + s.tier2_travel_s)
        tier = 2
    else:
        on_site = dispatched + timedelta(seconds=s.travel_s)
        tier = 1
    freed = on_site + timedelta(seconds=s.free_after_s)
    return {
        "kind": "rescue",
        "elevator_id": s.elevator_id,
        "district": s.district,
        "firm_id": s.firm_id,
        "opened_at": s.opened.isoformat(),
        "dispatched_at": dispatched.isoformat(),
        "on_site_at": on_site.isoformat(),
        "freed_at": freed.isoformat(),
        "on_site_tier": tier,
        "trapped": s.trapped,
        "injured": s.injured,
        "cause": s.cause,
        "calls": int(s.call_after_s is not None) + int(s.phone_only),
        "escalations": escalations,
    }


def _steps(s: RescueScript, options: DeskOptions) -> list[tuple[datetime, int, str]]:
    """The script's steps in time order (the int breaks ties: the order they must run)."""
    # (not `t`: the catalog check reads t[...] as a message key)
    record = truth(s, options)
    dispatched = datetime.fromisoformat(record["dispatched_at"])
    freed = datetime.fromisoformat(record["freed_at"])
    callback = freed + timedelta(seconds=s.callback_after_s)
    steps = [(s.opened, 0, "open"), (dispatched, 2, "dispatch")]
    if s.call_after_s is not None:
        steps.append((s.opened + timedelta(seconds=s.call_after_s), 1, "call"))
    if s.stuck:
        due = dispatched + timedelta(seconds=options.arrival_deadline_s)
        steps.append((due + timedelta(seconds=s.tier2_after_s), 3, "dispatch2"))
    steps += [
        (datetime.fromisoformat(record["on_site_at"]), 4, "arrive"),
        (freed, 5, "free"),
        (callback, 6, "callback"),
        (callback + timedelta(seconds=s.close_after_s), 7, "close"),
    ]
    return steps


async def play(conn: AsyncConnection, scripts: list[RescueScript], options: DeskOptions) -> None:
    """Act the scripts out in time order, checking deadlines as the alerts
    process would, at every second a deadline falls due."""
    timeline: list[tuple[datetime, int, int, str]] = []
    for n, s in enumerate(scripts):
        timeline += [(at, order, n, what) for at, order, what in _steps(s, options)]
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
        script = _draw_script(
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
