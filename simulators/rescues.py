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
(semon.store.rescues.due_rescues / escalate_rescue) at every second a
deadline falls due: the desk's software, run on simulated time. Unlike the
device simulators it writes through the store, because the desk's steps are
stamped with the time they happen and the API stamps them with its own clock.
"""

from __future__ import annotations

import math
import random
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
    d, a = options.dispatch_deadline_s, options.arrival_deadline_s
    for _ in range(count):
        lift = rng.choice([x for x in lifts if x["elevator_id"] not in used])
        used.add(lift["elevator_id"])
        opened = day + timedelta(seconds=rng.randrange(0, 86400 - 4 * 3600))
        typical = district_travel(seed, lift["district"])
        stuck = rng.random() < options.stuck_share
        travel = round(min(a - 1, max(120.0, rng.lognormvariate(math.log(typical), 0.3))))
        late = rng.random() < options.late_dispatch_share
        scripts.append(
            RescueScript(
                elevator_id=lift["elevator_id"],
                district=lift["district"],
                firm_id=lift.get("firm_id"),
                opened=opened,
                phone_only=rng.random() < options.phone_only_share,
                call_after_s=rng.randrange(5, 180) if rng.random() < options.call_share else None,
                dispatch_after_s=rng.randrange(int(d) + 5, int(d) + 240)
                if late
                else rng.randrange(20, int(d) - 5),
                travel_s=travel,
                tier2_after_s=rng.randrange(10, int(d) - 5),
                tier2_travel_s=rng.randrange(300, int(a) - 5),
                stuck=stuck,
                free_after_s=rng.randrange(120, 1200),
                callback_after_s=rng.randrange(30, 600),
                close_after_s=rng.randrange(60, 1800),
                trapped=rng.choices((1, 2, 3, 4), weights=(60, 25, 10, 5))[0],
                injured=1 if rng.random() < 0.03 else 0,
                cause=rng.choices(CAUSES, weights=CAUSE_WEIGHTS)[0],
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
    # Not `t`: the catalog check reads t(...) and t[...] as message keys.
    known = truth(s, options)
    dispatched = datetime.fromisoformat(known["dispatched_at"])
    freed = datetime.fromisoformat(known["freed_at"])
    callback = freed + timedelta(seconds=s.callback_after_s)
    steps = [(s.opened, 0, "open"), (dispatched, 2, "dispatch")]
    if s.call_after_s is not None:
        steps.append((s.opened + timedelta(seconds=s.call_after_s), 1, "call"))
    if s.stuck:
        due = dispatched + timedelta(seconds=options.arrival_deadline_s)
        steps.append((due + timedelta(seconds=s.tier2_after_s), 3, "dispatch2"))
    steps += [
        (datetime.fromisoformat(known["on_site_at"]), 4, "arrive"),
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
        elif what == "call":
            lift = await _lift(conn, s.elevator_id)
            await store.take_call(
                conn,
                lift,
                CallIn(elevator_id=s.elevator_id, caller_name="caller"),
                now=at,
                by="sim-desk",
                key=None,
                request_hash=None,
            )
        else:
            body: Any = {
                "dispatch": DispatchIn(tier=1, assignee="firm crew", phone="020-1"),
                "dispatch2": DispatchIn(tier=2, assignee="rescue station", phone="020-2"),
                "arrive": NoBody(),
                "free": FreeIn(trapped_count=s.trapped, injured_count=s.injured),
                "callback": CallbackIn(note="called back"),
                "close": CloseIn(cause_category=s.cause),  # type: ignore[arg-type]
            }[what]
            action = cast(RescueAction, "dispatch" if what == "dispatch2" else what)
            await store.act(
                conn,
                rescue_of[n],
                action,
                body,
                now=at,
                by="sim-desk",
                scope=store._ALL,
                params={},
            )
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
        for rescue_id in await store.due_rescues(conn, now=due, dispatch_s=d, arrival_s=a):
            await store.escalate_rescue(
                conn, rescue_id, now=due, dispatch_s=d, arrival_s=a, worker="sim-alerts"
            )
        await conn.commit()


async def _lift(conn: AsyncConnection, elevator_id: str) -> dict[str, Any]:
    lift = await store.find_elevator(
        conn, elevator_id=elevator_id, rescue_code=None, scope=sql.SQL("TRUE"), params={}
    )
    assert lift is not None, elevator_id
    return lift


async def _open(conn: AsyncConnection, s: RescueScript, at: datetime) -> str:
    lift = await _lift(conn, s.elevator_id)
    if s.phone_only:
        rescue, _ = await store.take_call(
            conn,
            lift,
            CallIn(elevator_id=s.elevator_id, caller_name="first caller"),
            now=at,
            by="sim-desk",
            key=None,
            request_hash=None,
        )
        return str(rescue["rescue_id"])
    draft = store.call_draft(lift, CallIn(elevator_id=s.elevator_id), at)
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
