"""The demo's maintenance firms at work, on the wall clock.

Every so often (``schedule``) a firm visits one of its lifts and, once the visit is over,
files the full record (window, items, technicians, the use unit's sign-off)
the way the API does: stored and checked against the terminal in one
transaction (semon/store/maintenance_records.py, semon/store/verification.py).
Every ``fake_every``-th record, the first included, is filed with nobody on
site: the car stays in normal service through the written window, so the
terminal contradicts it and the alerts process raises
``maintenance_unverified``. Every other visit is ``first_firm``'s (F001, the
README's firm's morning), so its token sees both kinds early. The ground
truth gets one ``maintenance_record`` line a record, saying which are fake.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import date, datetime

from psycopg import AsyncConnection

from semon.settings_firms import VerificationSettings
from semon.store.maintenance_records import file_records
from semon.store.verification import verify_records
from simulators.incidents import GroundTruth, Incident
from simulators.visits import ITEMS, PlannedVisit, firm_habits, visit_incidents


class DemoFirms:
    """Plans the visits (``due``) and hands back those ready to file (``ready``)."""

    def __init__(
        self,
        lifts: Mapping[str, str],
        *,
        start: float,
        seed: int,
        schedule: tuple[float, float] = (20.0, 150.0),
        fake_every: int = 3,
        settle_s: float = 30.0,
        first_firm: str = "F001",
        visited: set[str] | None = None,
    ) -> None:
        """``schedule``: the first visit ``schedule[0]`` s after ``start``,
        then one every ``schedule[1]`` s; ``visited``: lifts with a record of
        the day already (a restarted demo), visited last."""
        self.rng = random.Random(f"demo-firms-{seed}")  # noqa: S311 - simulation, not crypto
        self.by_firm: dict[str, list[str]] = {}
        for eid, firm in sorted(lifts.items()):
            self.by_firm.setdefault(firm, []).append(eid)
        self.habits = {f: firm_habits(self.rng, f, fake_share=0.0) for f in sorted(self.by_firm)}
        self.first_firm = first_firm
        self.next_at = start + schedule[0]
        self.every_s = schedule[1]
        self.fake_every = fake_every
        self.settle_s = settle_s
        self.planned: list[PlannedVisit] = []
        self._count = 0
        self._visited: set[str] = set(visited or ())

    def due(self, now: float) -> list[Incident]:
        """Plan the next visit when its time has come; the incidents to play
        (the technician's work; none for a fake record)."""
        if now < self.next_at or not self.by_firm:
            return []
        self.next_at += self.every_s
        n, self._count = self._count, self._count + 1
        rng = self.rng
        firm = self.first_firm if n % 2 == 0 and self.first_firm in self.by_firm else None
        firm = firm or rng.choice(sorted(self.by_firm))
        lifts = [e for e in self.by_firm[firm] if e not in self._visited] or self.by_firm[firm]
        eid = rng.choice(lifts)
        self._visited.add(eid)
        fake = n % self.fake_every == 0
        h = self.habits[firm]
        visit = PlannedVisit(
            elevator_id=eid,
            firm_id=firm,
            at=now,
            # The first two short, so a newcomer sees both verdicts in minutes.
            duration_s=240.0 if n < 2 else rng.uniform(600, 1500),
            fake=fake,
            offline=False,
            technicians=rng.sample(h.technicians, k=min(2, len(h.technicians))),
            items=sorted(rng.sample(ITEMS, k=rng.randint(3, 6))),
            # Written down a little off; a fake's window lies inside the time
            # the car was watched in service.
            start_off_s=rng.uniform(0, 60) if fake else rng.uniform(-120, 120),
            end_off_s=rng.uniform(-60, 0) if fake else rng.uniform(-120, 120),
        )
        self.planned.append(visit)
        return visit_incidents(visit)

    def ready(self, now: float) -> list[PlannedVisit]:
        """The visits over (and their written end past) ``settle_s`` ago,
        taken off the plan."""
        out: list[PlannedVisit] = []
        left: list[PlannedVisit] = []
        for v in self.planned:
            played = v.fake or (v.incident is not None and v.incident.ended is not None)
            _, end = v.window()
            if played and now >= end + max(0.0, v.end_off_s) + self.settle_s:
                out.append(v)
            else:
                left.append(v)
        self.planned = left
        return out


async def file_visits(
    conn: AsyncConnection,
    visits: list[PlannedVisit],
    cfg: VerificationSettings,
    *,
    now: datetime,
    truth: GroundTruth,
) -> dict[int, str]:
    """File the visits' records and check them, in one transaction (as
    ``POST /maintenance/records`` does); the new records' verdicts by
    record_id. A repeat of a lift's record of the day (a restarted demo
    replays its seed) is a no-op and leaves no ground truth."""
    if not visits:
        return {}
    async with conn.transaction():
        filed = await file_records(conn, [v.record() for v in visits])
        verdicts = await verify_records(conn, [int(f["record_id"]) for f in filed], cfg, now=now)
    new = {(f["elevator_id"], f["done_on"].isoformat()): int(f["record_id"]) for f in filed}
    for v in visits:
        line = v.truth()
        record_id = new.get((line["elevator_id"], line["done_on"]))
        if record_id is not None:
            truth.write({"kind": "maintenance_record", "record_id": record_id, **line})
    return verdicts


async def visited_today(conn: AsyncConnection, today: date) -> set[str]:
    """The lifts with a record dated ``today`` (a demo restarted the same day)."""
    cur = await conn.execute(
        "SELECT DISTINCT elevator_id FROM maintenance_records WHERE done_on = %s", (today,)
    )
    return {str(r[0]) for r in await cur.fetchall()}
