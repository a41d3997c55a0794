"""The clock-driven sweep: inspections and maintenance falling due.

One alert per piece of equipment and due date (the due date is in the
condition key), however often the sweep runs; when a recorded inspection or
maintenance visit moves the due date, the old alert no longer matches and is
closed.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection

from alerts.keys import (
    failed_in_use_key,
    hazard_key,
    inspection_key,
    insurance_key,
    maintenance_key,
)
from alerts.ops import Close, Op, Raise
from semon.domain.alerts import SWEEP_KINDS, AlertDraft
from semon.i18n import ArgIn, Message, msg
from semon.settings import AlertSettings, RegulatorSettings
from semon.store import maintenance_due as mdue
from semon.store.hazards import overdue_open

# Due dates and failed-in-use from the one definition of the base date
# (migration 0040: a `fail` never renews it).
_INSPECTIONS = """
SELECT 'elevator', equipment_id, NULL::text, NULL::text, due_on, failed_on, failed_in_use
FROM inspection_state
WHERE equipment_type = 'elevator' AND status = 'in_service'
UNION ALL
SELECT 'cylinder', c.cylinder_id, c.owner_station_id, s.district,
       i.due_on, i.failed_on, i.failed_in_use
FROM inspection_state i
JOIN cylinders c ON c.cylinder_id = i.equipment_id
LEFT JOIN stations s ON s.station_id = c.owner_station_id
WHERE i.equipment_type = 'cylinder' AND i.status = 'in_service'
"""
# Insurance running out within the horizon, or already lapsed (a null date
# is "not recorded", not an alert: the coverage statistics count it).
_INSURANCE = """
SELECT 'elevator', e.elevator_id, e.insured_until, NULL::text, NULL::text
FROM elevators e
WHERE e.status = 'in_service' AND e.insured_until <= %(horizon)s
UNION ALL
SELECT 'cylinder', c.cylinder_id, c.insured_until, c.owner_station_id, s.district
FROM cylinders c LEFT JOIN stations s ON s.station_id = c.owner_station_id
WHERE c.status = 'in_service' AND c.insured_until <= %(horizon)s
"""
# One definition with /stats/maintenance-overdue (semon/store/maintenance_due.py).
_MAINTENANCE = f"""
SELECT e.elevator_id, m.done_on, {mdue.DUE_ON} AS due, {mdue.INTERVAL_DAYS} AS interval_days
FROM elevators e
{mdue.JOINS}
WHERE {mdue.IN_SERVICE} AND {mdue.OVERDUE}
"""
_OPEN = "SELECT condition_key FROM alerts WHERE state <> 'resolved' AND kind = ANY(%s)"


# The summaries, one literal key each (the catalog test finds keys in msg()
# calls): "alert.<kind>.summary.<equipment type>[.<hazard level>]", each naming
# the equipment by its type's placeholder (elevator_id, cylinder_id).
_SUMMARIES: dict[str, Message] = {
    m.key: m
    for m in (
        msg("alert.inspection_overdue.summary.elevator"),
        msg("alert.inspection_overdue.summary.cylinder"),
        msg("alert.inspection_due_soon.summary.elevator"),
        msg("alert.inspection_due_soon.summary.cylinder"),
        msg("alert.inspection_failed_in_use.summary.elevator"),
        msg("alert.inspection_failed_in_use.summary.cylinder"),
        msg("alert.insurance_lapsed.summary.elevator"),
        msg("alert.insurance_lapsed.summary.cylinder"),
        msg("alert.insurance_expiring.summary.elevator"),
        msg("alert.insurance_expiring.summary.cylinder"),
        msg("alert.hazard_overdue.summary.elevator.serious"),
        msg("alert.hazard_overdue.summary.elevator.general"),
        msg("alert.hazard_overdue.summary.cylinder.serious"),
        msg("alert.hazard_overdue.summary.cylinder.general"),
    )
}


def _summary(kind: str, etype: str, eid: str, *level: str, **facts: ArgIn) -> Message:
    key = ".".join(("alert", kind, "summary", etype, *level))
    return replace(_SUMMARIES[key], args={f"{etype}_id": eid, **facts})


def _dated(
    condition_key: str,
    kind: str,
    etype: str,
    eid: str,
    started_on: date,
    summary: Message,
    details: dict[str, Any],
    where: tuple[str | None, str | None] = (None, None),
) -> AlertDraft:
    """A sweep alert about one piece of equipment, started at midnight UTC of
    `started_on`; `where` is a cylinder's (station_id, district)."""
    station_id, district = where
    return AlertDraft(
        condition_key=condition_key,
        kind=kind,
        equipment_type=etype,
        equipment_id=eid,
        started_at=_midnight(started_on),
        summary=summary,
        details=details,
        station_id=station_id,
        district=district,
    )


def _inspection(
    kind: str, etype: str, eid: str, due: date, today: date, where: tuple[str | None, str | None]
) -> AlertDraft:
    """inspection_overdue (from the due date on) or inspection_due_soon (from today)."""
    return _dated(
        inspection_key(kind, etype, eid, due),
        kind,
        etype,
        eid,
        due if kind == "inspection_overdue" else today,
        _summary(kind, etype, eid, due_on=due),
        {"due_on": due.isoformat()},
        where,
    )


def _failed_in_use(
    etype: str, eid: str, failed_on: date, where: tuple[str | None, str | None]
) -> AlertDraft:
    """Equipment in service whose latest inspection failed (until a later pass)."""
    kind = "inspection_failed_in_use"
    return _dated(
        failed_in_use_key(etype, eid, failed_on),
        kind,
        etype,
        eid,
        failed_on,
        _summary(kind, etype, eid, on=failed_on),
        {"failed_on": failed_on.isoformat()},
        where,
    )


def _insurance(
    etype: str, eid: str, until: date, today: date, where: tuple[str | None, str | None]
) -> AlertDraft:
    """insurance_lapsed once `until` has passed, insurance_expiring before."""
    lapsed = until < today
    kind = "insurance_lapsed" if lapsed else "insurance_expiring"
    return _dated(
        insurance_key(kind, etype, eid, until),
        kind,
        etype,
        eid,
        until + timedelta(days=1) if lapsed else today,
        _summary(kind, etype, eid, until=until),
        {"insured_until": until.isoformat()},
        where,
    )


def _hazard_overdue(h: dict[str, Any]) -> AlertDraft:
    """An open hazard past its deadline, until it is rectified."""
    etype, eid = h["equipment_type"], h["equipment_id"]
    return AlertDraft(
        condition_key=hazard_key(h["hazard_id"]),
        kind="hazard_overdue",
        equipment_type=etype,
        equipment_id=eid,
        started_at=_midnight(h["deadline"] + timedelta(days=1)),
        summary=_summary(
            "hazard_overdue",
            etype,
            eid,
            h["level"],
            deadline=h["deadline"],
            description=h["description"],
        ),
        details={
            "hazard_id": h["hazard_id"],
            "level": h["level"],
            "found_on": h["found_on"].isoformat(),
            "deadline": h["deadline"].isoformat(),
        },
        district=h["district"],
        firm_id=h["firm_id"],
        use_unit=h["use_unit"],
        station_id=h["station_id"],
        severity="major" if h["level"] == "serious" else "minor",
    )


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


async def sweep(
    conn: AsyncConnection,
    cfg: AlertSettings,
    now: datetime,
    regulator: RegulatorSettings | None = None,
) -> list[Op]:
    today = now.date()
    regulator = regulator or RegulatorSettings()
    soon = today + timedelta(days=cfg.due_soon_days)
    want: dict[str, AlertDraft] = {}
    cur = await conn.execute(_INSPECTIONS)
    for etype, eid, station_id, district, due, failed_on, failed_in_use in await cur.fetchall():
        where = (station_id, district)
        if failed_in_use:
            d = _failed_in_use(etype, eid, failed_on, where)
            want[d.condition_key] = d
        if due < today:
            d = _inspection("inspection_overdue", etype, eid, due, today, where)
        elif due <= soon:
            d = _inspection("inspection_due_soon", etype, eid, due, today, where)
        else:
            continue
        want[d.condition_key] = d
    default = int(cfg.default_maintenance_interval_days)
    cur = await conn.execute(_MAINTENANCE, {"at": today, "default_days": default})
    for eid, last, due, interval in await cur.fetchall():
        interval_days = int(interval)
        d = _dated(
            maintenance_key(eid, due),
            "maintenance_overdue",
            "elevator",
            eid,
            due,
            msg(
                "alert.maintenance_overdue.summary",
                elevator_id=eid,
                due_on=due,
                interval_days=interval_days,
            ),
            {
                "last_maintenance_on": last.isoformat() if last else None,
                "interval_days": interval_days,
                "due_on": due.isoformat(),
            },
        )
        want[d.condition_key] = d
    horizon = today + timedelta(days=regulator.insurance_expiring_days)
    cur = await conn.execute(_INSURANCE, {"horizon": horizon})
    for etype, eid, until, station_id, district in await cur.fetchall():
        d = _insurance(etype, eid, until, today, (station_id, district))
        want[d.condition_key] = d
    for h in await overdue_open(conn, today):
        d = _hazard_overdue(h)
        want[d.condition_key] = d
    cur = await conn.execute(_OPEN, (list(SWEEP_KINDS),))
    open_keys = {str(r[0]) for r in await cur.fetchall()}
    ops: list[Op] = [Raise(d) for k, d in want.items() if k not in open_keys]
    for k in open_keys - want.keys():
        inspected = k.startswith("inspection_")
        repaired = k.startswith("hazard_overdue:")
        ops.append(
            Close(
                k,
                "inspected" if inspected else "repaired" if repaired else "other",
                ended_at=now,
                details={"closed_by": "sweep: due date moved or no longer applies"},
            )
        )
    return ops
