"""The regulator's book for a simulated city: failed inspections, hazards
(some rectified late, some not at all), self-checks with gaps, insurance and
cylinder tags at configurable rates; and the ground truth of every rate the
monthly report shows, computed from the records alone.

Drawn from a generator of its own (seeded from the city's seed), so adding
the book changes none of the city's other records. Hazards and self-checks
are not registry records: `post_book` sends them through the API as a use
unit and a regulator would.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from psycopg import AsyncConnection

from semon.store import hazards as store
from simulators.city import City
from simulators.registry_dates import inspection_due


@dataclass(frozen=True)
class RegulatorRates:
    """Shares of equipment and events; every one configurable."""

    elevator_insured: float = 0.92
    cylinder_insured: float = 0.80
    cylinder_tagged: float = 0.85
    # In-service elevators whose latest inspection failed (after their last pass).
    elevator_failed: float = 0.02
    cylinder_failed: float = 0.01
    # Hazards found in the month per in-service elevator; their mix.
    hazards_per_elevator: float = 0.05
    serious_share: float = 0.25
    rectified_share: float = 0.85
    late_share: float = 0.15  # of the rectified: after the deadline
    # Use units missing at least one check in the month.
    self_check_gap: float = 0.05


@dataclass
class Book:
    month_start: date
    month_end: date  # exclusive
    hazards: list[dict[str, Any]] = field(default_factory=list)
    self_checks: list[dict[str, Any]] = field(default_factory=list)


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days)]


def add_book(
    city: City, month_start: date, month_end: date, rates: RegulatorRates | None = None
) -> Book:
    """Insurance, tags and failed inspections into the city's records; the
    month's hazards and self-checks returned (to post through the API).
    Every date drawn is before the city's reference day (the sim's today)."""
    rates = rates or RegulatorRates()
    rng = random.Random(city.seed * 7919 + 16)  # noqa: S311 - simulation, not crypto
    today = city.reference_day
    book = Book(month_start, month_end)
    for r in city.records["elevators"]:
        insured = rng.random() < rates.elevator_insured
        r["insurer"] = "PICC" if insured else None
        r["insurance_policy"] = f"GZ-{rng.randint(100000, 999999)}" if insured else None
        r["insured_until"] = (
            (today + timedelta(days=rng.randint(45, 700))).isoformat()
            if insured
            # uninsured: never recorded, or lapsed well before the month
            else (
                None
                if rng.random() < 0.5
                else (month_start - timedelta(days=rng.randint(5, 400))).isoformat()
            )
        )
    for r in city.records["cylinders"]:
        r["tag"] = rng.choice(("qr", "rfid")) if rng.random() < rates.cylinder_tagged else "none"
        r["insured_until"] = (
            (today + timedelta(days=rng.randint(45, 700))).isoformat()
            if rng.random() < rates.cylinder_insured
            else None
        )
    failed: list[dict[str, Any]] = []
    for kind, key, share in (
        ("elevator", "elevator_id", rates.elevator_failed),
        ("cylinder", "cylinder_id", rates.cylinder_failed),
    ):
        for r in city.records[f"{kind}s"]:
            if r["status"] != "in_service" or rng.random() >= share:
                continue
            last = date.fromisoformat(r["last_inspected_on"])
            span = (today - last).days - 2
            if span < 1:
                continue
            on = last + timedelta(days=rng.randint(1, span))
            failed.append(
                {
                    "equipment_type": kind,
                    "equipment_id": r[key],
                    "inspected_on": on.isoformat(),
                    "result": "fail",
                    "inspector": f"SEI-{rng.randint(100, 999)}",
                }
            )
    city.records["inspections"] += failed

    lifts = [r for r in city.records["elevators"] if r["status"] == "in_service"]
    days = [d for d in _days(month_start, month_end) if d < today]
    n_hazards = round(rates.hazards_per_elevator * len(lifts))
    for i in range(n_hazards):
        lift = rng.choice(lifts)
        found = rng.choice(days)
        serious = rng.random() < rates.serious_share
        deadline = found + timedelta(days=rng.randint(5, 20))
        rectified_on: date | None = None
        if rng.random() < rates.rectified_share:
            late = rng.random() < rates.late_share
            rectified_on = (
                deadline + timedelta(days=rng.randint(1, 10))
                if late
                else found + timedelta(days=rng.randint(0, (deadline - found).days))
            )
            if rectified_on >= today:
                rectified_on = None  # not yet: still open
        book.hazards.append(
            {
                "ref": i,
                "use_unit": lift["use_unit"],
                "body": {
                    "equipment_type": "elevator",
                    "equipment_id": lift["elevator_id"],
                    "source": rng.choice(("supervision", "self_check", "maintenance")),
                    "level": "serious" if serious else "general",
                    "description": "simulated finding",
                    "found_on": found.isoformat(),
                    "deadline": deadline.isoformat(),
                },
                "rectified_on": rectified_on.isoformat() if rectified_on else None,
            }
        )
    units = sorted({r["use_unit"] for r in lifts})
    for unit in units:
        gap = rng.random() < rates.self_check_gap
        missing = rng.choice(days) if gap and days else None
        for d in days:
            if d != missing:
                book.self_checks.append(_check(unit, "daily", d))
        weeks = sorted({d - timedelta(days=d.weekday()) for d in days})
        for w in weeks:
            book.self_checks.append(_check(unit, "weekly", max(w, month_start)))
        book.self_checks.append(_check(unit, "monthly", days[0]))
    return book


async def store_book(conn: AsyncConnection, book: Book) -> None:
    """Write the month's hazards (and their rectifications) and self-checks
    straight into the store (the demo's path; the end-to-end test posts the
    same through the API)."""
    for h in book.hazards:
        b = h["body"]
        row = await store.add_hazard(
            conn,
            store.NewHazard(
                equipment_type=b["equipment_type"],
                equipment_id=b["equipment_id"],
                source=b["source"],
                level=b["level"],
                description=b["description"],
                found_on=date.fromisoformat(b["found_on"]),
                deadline=date.fromisoformat(b["deadline"]),
                reported_by=h["use_unit"],
            ),
        )
        if h["rectified_on"]:
            await store.act(
                conn,
                row["hazard_id"],
                "rectify",
                note="done",
                evidence=None,
                by=h["use_unit"],
                rectified_on=date.fromisoformat(h["rectified_on"]),
            )
    for c in book.self_checks:
        await store.add_self_check(
            conn,
            use_unit=c["use_unit"],
            kind=c["kind"],
            done_on=date.fromisoformat(c["done_on"]),
            by=c["by"],
            equipment_ids=[],
        )


def _check(unit: str, kind: str, on: date) -> dict[str, Any]:
    return {"use_unit": unit, "kind": kind, "done_on": on.isoformat(), "by": "sim"}


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def _opt_rate(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def truth(city: City, book: Book, *, as_of: date, today: date) -> dict[str, Any]:
    """What the month's report must say, from the records (CONTRACT.md's
    definitions judged with the inspections known at as_of: one dated after
    it renews nothing, a fail never renews the base date)."""
    lifts = [r for r in city.records["elevators"] if r["status"] == "in_service"]
    cyls = [r for r in city.records["cylinders"] if r["status"] == "in_service"]
    day = as_of.isoformat()
    # The inspections known at as_of (dated on or before it), per piece.
    known: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for i in city.records["inspections"]:
        if i["inspected_on"] <= day:
            known.setdefault((i["equipment_type"], i["equipment_id"]), []).append(i)

    def state(kind: str, r: dict[str, Any], key: str) -> tuple[str | None, str | None, str | None]:
        """The registry's date (one date, taken as it stands), and of the
        inspections known at as_of the latest pass or conditional and the
        latest one's date when it failed."""
        mine = known.get((kind, r[key]), [])
        registry = r.get("last_inspected_on") or None
        passed = max((i["inspected_on"] for i in mine if i["result"] != "fail"), default=None)
        latest = max(mine, key=lambda i: i["inspected_on"], default=None)
        failed = latest["inspected_on"] if latest and latest["result"] == "fail" else None
        return registry, passed, failed

    def inspection_overdue(kind: str, r: dict[str, Any], key: str) -> bool:
        registry, passed, failed = state(kind, r, key)
        base = max(
            (d for d in (registry if registry != failed else None, passed) if d), default=None
        )
        return inspection_due({**r, "last_inspected_on": base}, kind) < as_of

    def failed_in_use(kind: str, r: dict[str, Any], key: str) -> bool:
        registry, _, failed_on = state(kind, r, key)
        return failed_on is not None and (registry is None or registry <= failed_on)

    def insured(r: dict[str, Any]) -> bool:
        return bool(r.get("insured_until")) and date.fromisoformat(r["insured_until"]) >= as_of

    visits: dict[str, list[date]] = {}
    for m in city.records["maintenance"]:
        visits.setdefault(m["elevator_id"], []).append(date.fromisoformat(m["done_on"]))

    def maintenance_overdue(r: dict[str, Any]) -> bool:
        done = [d for d in visits.get(r["elevator_id"], []) if d <= as_of]
        base = max(done) if done else date.fromisoformat(r["installed_on"])
        return base + timedelta(days=15) < as_of  # unscored: the default interval

    cut = min(book.month_end, today)
    hazards = list(book.hazards)
    rectified = [h for h in hazards if h["rectified_on"]]
    overdue = [
        h
        for h in hazards
        if date.fromisoformat(h["body"]["deadline"]) < cut
        and (not h["rectified_on"] or h["rectified_on"] > h["body"]["deadline"])
    ]
    serious = [h for h in hazards if h["body"]["level"] == "serious"]
    # Conditional inspections found in the month open hazards too (0041).
    conditional = [
        i
        for i in city.records["inspections"]
        if i["result"] == "conditional"
        and book.month_start.isoformat() <= i["inspected_on"] < book.month_end.isoformat()
    ]
    days = [d for d in _days(book.month_start, book.month_end) if d < today]
    units = sorted({r["use_unit"] for r in lifts})
    done = {(c["use_unit"], c["kind"], c["done_on"]) for c in book.self_checks}
    complete = 0
    full_month = len(days) == (book.month_end - book.month_start).days
    for unit in units:
        daily = all((unit, "daily", d.isoformat()) in done for d in days)
        complete += bool(daily and full_month)
    return {
        "elevators_in_service": len(lifts),
        "cylinders_in_service": len(cyls),
        "elevator_insurance_rate": _rate(sum(insured(r) for r in lifts), len(lifts)),
        "cylinder_tag_rate": _rate(sum(r.get("tag", "none") != "none" for r in cyls), len(cyls)),
        "cylinder_insurance_rate": _rate(sum(insured(r) for r in cyls), len(cyls)),
        "elevator_overdue_rate": _rate(
            sum(inspection_overdue("elevator", r, "elevator_id") for r in lifts), len(lifts)
        ),
        "elevator_failed_in_use_rate": _rate(
            sum(failed_in_use("elevator", r, "elevator_id") for r in lifts), len(lifts)
        ),
        "cylinder_overdue_rate": _rate(
            sum(inspection_overdue("cylinder", r, "cylinder_id") for r in cyls), len(cyls)
        ),
        "cylinder_failed_in_use_rate": _rate(
            sum(failed_in_use("cylinder", r, "cylinder_id") for r in cyls), len(cyls)
        ),
        "maintenance_overdue_rate": _rate(sum(maintenance_overdue(r) for r in lifts), len(lifts)),
        "hazards_found": len(hazards) + len(conditional),
        "hazards_rectified": len(rectified),
        "hazards_overdue": len(overdue)
        + sum(
            date.fromisoformat(i["inspected_on"]) + timedelta(days=30) < cut for i in conditional
        ),
        "serious_rectification_rate": _opt_rate(
            sum(bool(h["rectified_on"]) for h in serious), len(serious)
        ),
        "self_check_rate": _opt_rate(complete, len(units)),
    }
