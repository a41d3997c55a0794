"""The rescue centre's day as scripts: for each trapped passenger, what the
96333 desk and the crews do (who calls, when the desk dispatches, how long
each district's crews travel, which are late enough to escalate, how long
freeing takes, how many were inside and hurt, the cause), drawn from a seed,
and the ground truth of every rescue's timings (``truth``).
simulators/rescues.py acts them out against the store.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

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


def draw_script(
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
            draw_script(
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


def script_steps(s: RescueScript, options: DeskOptions) -> list[tuple[datetime, int, str]]:
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
