"""Maintenance visits as firms really file them, with the ground truth of
which records are fake.

Each lift is due a visit every ``every_days``; its firm files a record for
every one. With its ``fake_share`` a firm files the record with nobody on
site (the car stays in normal service through the written window);
otherwise a technician comes and the car goes to ``maintenance`` mode (the
car model's maintenance incident) and the record carries the real window,
written down a few minutes off. With ``offline_share`` the terminal is
silent through the visit (a ``silent`` incident), so the terminal can vouch
for nothing either way: the truth says so (``terminal_online``).

``visit_incidents`` are what to inject into the car model; after playing,
``PlannedVisit.record`` is the record as filed (the API's form) and
``PlannedVisit.truth`` one ground-truth line.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from simulators.incidents import GroundTruth, Incident

SURNAMES = ("王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴")
ITEMS = ("A1", "A2", "A3", "A5", "A7", "A9", "A12", "A14", "A17", "A20")


@dataclass(frozen=True)
class FirmHabits:
    """How a firm files: its share of fake records and its technicians
    ((name, certificate number or None))."""

    fake_share: float
    technicians: tuple[tuple[str, str | None], ...]


def firm_habits(rng: random.Random, firm_id: str, *, fake_share: float) -> FirmHabits:
    techs = tuple(
        (
            f"{rng.choice(SURNAMES)}{rng.choice('伟强磊军洋勇杰涛明超')}",
            f"T{rng.randint(44000000, 44999999)}" if rng.random() < 0.8 else None,
        )
        for _ in range(rng.randint(2, 5))
    )
    return FirmHabits(fake_share=fake_share, technicians=techs)


@dataclass
class PlannedVisit:
    elevator_id: str
    firm_id: str
    at: float  # planned start, epoch seconds
    duration_s: float
    fake: bool
    offline: bool
    technicians: list[tuple[str, str | None]]
    items: list[str]
    # How far the written times are off the real ones (seconds).
    start_off_s: float = 0.0
    end_off_s: float = 0.0
    incident: Incident | None = None
    silence: Incident | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def window(self) -> tuple[float, float]:
        """The real window: the car model's stamps for a visit, the plan for a fake."""
        if self.incident is not None and self.incident.started is not None:
            ended = self.incident.ended or (self.incident.started + self.duration_s)
            return self.incident.started, ended
        return self.at, self.at + self.duration_s

    def record(self) -> dict[str, Any]:
        start, end = self.window()
        started = datetime.fromtimestamp(start + self.start_off_s, UTC)
        ended = datetime.fromtimestamp(max(end + self.end_off_s, start + 60), UTC)
        return {
            "elevator_id": self.elevator_id,
            "done_on": started.date().isoformat(),
            "kind": "routine",
            "firm_id": self.firm_id,
            "started_at": started.isoformat(),
            "ended_at": ended.isoformat(),
            "items": self.items,
            "technicians": [{"name": n, "cert_no": c} for n, c in self.technicians],
            "signed_by": "use unit",
            "signed_at": (ended + timedelta(minutes=10)).isoformat(),
        }

    def truth(self) -> dict[str, Any]:
        r = self.record()
        return {
            "elevator_id": self.elevator_id,
            "firm_id": self.firm_id,
            "done_on": r["done_on"],
            "started_at": r["started_at"],
            "ended_at": r["ended_at"],
            "fake": self.fake,
            "terminal_online": not self.offline,
        }


def plan_visits(
    rng: random.Random,
    lifts: dict[str, str],
    habits: dict[str, FirmHabits],
    *,
    start: float,
    days: int,
    every_days: float = 15.0,
    offline_share: float = 0.1,
    written_off_s: float = 300.0,
) -> list[PlannedVisit]:
    """Every lift's visits (lift -> firm) over ``days`` from ``start``, in
    working hours (08:00-17:00 in the city's UTC+8)."""
    out: list[PlannedVisit] = []
    for eid, firm in sorted(lifts.items()):
        h = habits[firm]
        day = rng.uniform(0, every_days)
        while day < days:
            midnight = start + int(day) * 86400.0
            at = midnight + rng.uniform(0, 9) * 3600.0  # 08:00-17:00 local is 00:00-09:00 UTC
            crew = rng.sample(h.technicians, k=min(2, len(h.technicians)))
            out.append(
                PlannedVisit(
                    elevator_id=eid,
                    firm_id=firm,
                    at=at,
                    duration_s=rng.uniform(1500, 3600),
                    fake=rng.random() < h.fake_share,
                    offline=rng.random() < offline_share,
                    technicians=crew,
                    items=sorted(rng.sample(ITEMS, k=rng.randint(3, 6))),
                    start_off_s=rng.uniform(-written_off_s, written_off_s),
                    end_off_s=rng.uniform(-written_off_s, written_off_s),
                )
            )
            day += every_days * rng.uniform(0.8, 1.1)
    return out


def visit_incidents(v: PlannedVisit) -> list[Incident]:
    """What the car model plays for a visit: the technician's work (unless
    fake) and the terminal's silence (when offline)."""
    out: list[Incident] = []
    if not v.fake:
        v.incident = Incident("maintenance", v.elevator_id, at=v.at, duration_s=v.duration_s)
        out.append(v.incident)
    if v.offline:
        v.silence = Incident("silent", v.elevator_id, at=v.at - 900, duration_s=v.duration_s + 3600)
        out.append(v.silence)
    return out


def write_truth(visits: list[PlannedVisit], truth: GroundTruth) -> None:
    """One ground-truth line per filed record (after the car model played it)."""
    for v in visits:
        truth.write({"kind": "maintenance_record", **v.truth()})
