"""Scoring the platform against ground truth: precision and recall.

Ground truth is the incidents file (simulators/incidents.py) plus what the
registry itself should raise over the simulated span (overdue inspections,
inspections due soon, late maintenance; the regulator's book: a conditional
inspection's hazard left open past its 30 days, equipment failed in use,
insurance expiring or lapsed). An alert matches a truth record of
the same kind on the same equipment (for fillings: the cylinder or its
station) whose device-time window, widened by a slack, holds the alert's
`started_at`; for `elevator_fault` the fault code must agree too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row

from simulators.city import City
from simulators.registry_dates import inspection_due

DUE_SOON_DAYS = 30
# Slack around a truth window: the platform judges on device time but may
# date an offline alert from the last sample seen, a trapped one from the stop.
DEFAULT_SLACK_S = 400.0


def registry_truth(
    city: City, start: date, end: date, *, cylinders: bool = False
) -> list[dict[str, Any]]:
    """What the registry should raise on some day of [start, end]."""
    truth: list[dict[str, Any]] = []
    kinds = [("elevator", r, r["elevator_id"]) for r in city.records["elevators"]]
    if cylinders:
        kinds += [("cylinder", r, r["cylinder_id"]) for r in city.records["cylinders"]]
    for equipment, record, ident in kinds:
        if record.get("status", "in_service") != "in_service":
            continue
        due = inspection_due(record, equipment)
        if due < end:
            truth.append(
                {
                    "kind": "inspection_overdue",
                    "equipment_id": ident,
                    "injected": "registry",
                    "due": due.isoformat(),
                }
            )
        if start < due <= end + timedelta(days=DUE_SOON_DAYS):
            truth.append(
                {
                    "kind": "inspection_due_soon",
                    "equipment_id": ident,
                    "injected": "registry",
                    "due": due.isoformat(),
                }
            )
    truth += _book_truth(city, end, cylinders=cylinders)
    status = {r["elevator_id"]: r.get("status", "in_service") for r in city.records["elevators"]}
    latest: dict[str, date] = {}
    for visit in city.records["maintenance"]:
        done = date.fromisoformat(visit["done_on"])
        latest[visit["elevator_id"]] = max(done, latest.get(visit["elevator_id"], done))
    for elevator_id, done in latest.items():
        # The city draws visits either within 12 days or more than 95 days
        # back: late under any interval a score can give (15-90 days).
        if status[elevator_id] == "in_service" and (start - done).days > 90:
            truth.append(
                {
                    "kind": "maintenance_overdue",
                    "equipment_id": elevator_id,
                    "injected": "registry",
                    "last_done": done.isoformat(),
                }
            )
    return truth


# Days a conditional inspection's hazard has (migration 0041) and the
# insurance_expiring horizon (RegulatorSettings).
CONDITIONAL_DEADLINE_DAYS = 30
INSURANCE_EXPIRING_DAYS = 30


def _book_truth(city: City, end: date, *, cylinders: bool) -> list[dict[str, Any]]:
    """The regulator's alerts the records call for by `end` (CONTRACT.md v1.1)."""
    truth: list[dict[str, Any]] = []
    records: dict[tuple[str, str], dict[str, Any]] = {
        ("elevator", r["elevator_id"]): r for r in city.records["elevators"]
    }
    if cylinders:
        records.update({("cylinder", r["cylinder_id"]): r for r in city.records["cylinders"]})
    in_service = {k for k, r in records.items() if r.get("status", "in_service") == "in_service"}
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for i in city.records["inspections"]:
        key = (i["equipment_type"], i["equipment_id"])
        if key not in in_service:
            continue
        if key not in latest or i["inspected_on"] > latest[key]["inspected_on"]:
            latest[key] = i
        deadline = date.fromisoformat(i["inspected_on"]) + timedelta(days=CONDITIONAL_DEADLINE_DAYS)
        if i["result"] == "conditional" and deadline < end:
            truth.append(
                {"kind": "hazard_overdue", "equipment_id": i["equipment_id"], "injected": "book"}
            )
    for key, i in latest.items():
        registry_last = records[key].get("last_inspected_on")
        if i["result"] == "fail" and (not registry_last or registry_last <= i["inspected_on"]):
            truth.append(
                {
                    "kind": "inspection_failed_in_use",
                    "equipment_id": key[1],
                    "injected": "book",
                }
            )
    for key in sorted(in_service):
        until = records[key].get("insured_until")
        if not until:
            continue
        day = date.fromisoformat(until)
        if day < end or day <= end + timedelta(days=INSURANCE_EXPIRING_DAYS):
            kind = "insurance_lapsed" if day < end else "insurance_expiring"
            truth.append({"kind": kind, "equipment_id": key[1], "injected": "book"})
    return truth


def _time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


@dataclass
class Score:
    expected: int
    found: int
    alerts: int
    matched_alerts: int
    missed: list[dict[str, Any]] = field(default_factory=list)
    duplicated: list[dict[str, Any]] = field(default_factory=list)
    false_alerts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.found / self.expected if self.expected else 1.0

    @property
    def precision(self) -> float:
        return self.matched_alerts / self.alerts if self.alerts else 1.0

    def summary(self) -> str:
        return (
            f"recall {self.recall:.3f} ({self.found}/{self.expected}), precision "
            f"{self.precision:.3f} ({self.matched_alerts}/{self.alerts} alerts), "
            f"{len(self.duplicated)} raised more than once, "
            f"{len(self.false_alerts)} false"
        )


def _matches(truth: dict[str, Any], alert: dict[str, Any], slack_s: float) -> bool:
    if alert["kind"] != truth["kind"]:
        return False
    ids = {truth.get("equipment_id"), truth.get("station_id")} - {None}
    if alert["equipment_id"] not in ids:
        return False
    if truth["kind"] == "elevator_fault" and truth.get("code"):
        code = (alert.get("details") or {}).get("code")
        if code is not None and code != truth["code"]:
            return False
    if "start" in truth:
        started = _time(alert["started_at"])
        lo = _time(truth["start"]) - timedelta(seconds=slack_s)
        hi = _time(truth["end"]) + timedelta(seconds=slack_s)
        if not lo <= started <= hi:
            return False
    return True


def score(
    truth: list[dict[str, Any]], alerts: list[dict[str, Any]], *, slack_s: float = DEFAULT_SLACK_S
) -> Score:
    """Each expected record found once? Each alert explained by one?"""
    expected = [t for t in truth if t["kind"] != "none"]
    used: set[int] = set()
    result = Score(expected=len(expected), found=0, alerts=len(alerts), matched_alerts=0)
    for record in sorted(expected, key=lambda t: str(t.get("start", ""))):
        hits = [i for i, a in enumerate(alerts) if i not in used and _matches(record, a, slack_s)]
        if not hits:
            result.missed.append(record)
            continue
        result.found += 1
        used.update(hits)
        result.matched_alerts += len(hits)
        if len(hits) > 1:
            result.duplicated.append({"truth": record, "alerts": [alerts[i] for i in hits]})
            result.matched_alerts -= len(hits) - 1
    result.false_alerts = [a for i, a in enumerate(alerts) if i not in used]
    return result


ALERTS_SQL = """
SELECT alert_id, kind, equipment_type, equipment_id, started_at, raised_at, state, details
FROM alerts ORDER BY raised_at
"""


async def alerts_from_database(database_url: str) -> list[dict[str, Any]]:
    """Every alert in the store (read-only: scoring never writes)."""
    async with await psycopg.AsyncConnection.connect(database_url, row_factory=dict_row) as conn:
        cur = await conn.execute(ALERTS_SQL)
        return list(await cur.fetchall())


async def alerts_from_api(base_url: str, token: str) -> list[dict[str, Any]]:
    """Every alert in the token's scope through `GET /alerts`."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as client:
        response = await client.get("/alerts", headers={"Authorization": f"Bearer {token}"})
        response.raise_for_status()
        body = response.json()
    items = body if isinstance(body, list) else body.get("items", body.get("alerts", []))
    return list(items)
