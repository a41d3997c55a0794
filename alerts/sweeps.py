"""The clock-driven sweep: inspections and maintenance falling due.

One alert per piece of equipment and due date (the due date is in the
condition key), however often the sweep runs; when a recorded inspection or
maintenance visit moves the due date, the old alert no longer matches and is
closed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from psycopg import AsyncConnection

from alerts.keys import inspection_key, maintenance_key
from alerts.ops import Close, Op, Raise
from semon.domain.alerts import SWEEP_KINDS, AlertDraft
from semon.i18n import msg
from semon.settings import AlertSettings

# Base date: the later of the registry's last_inspected_on and any recorded
# inspection; none: installed_on / manufactured_on (CONTRACT.md).
_ELEVATOR_DUE = """
SELECT e.elevator_id,
       (coalesce(greatest(e.last_inspected_on, i.d), e.installed_on)
        + make_interval(months => e.inspection_interval_months::int))::date AS due
FROM elevators e
LEFT JOIN (SELECT equipment_id, max(inspected_on) AS d FROM inspections
           WHERE equipment_type = 'elevator' AND result <> 'fail' GROUP BY 1) i
       ON i.equipment_id = e.elevator_id
WHERE e.status = 'in_service'
"""
_CYLINDER_DUE = """
SELECT c.cylinder_id, c.owner_station_id, s.district,
       (coalesce(greatest(c.last_inspected_on, i.d), c.manufactured_on)
        + make_interval(years => c.inspection_interval_years::int))::date AS due
FROM cylinders c
LEFT JOIN stations s ON s.station_id = c.owner_station_id
LEFT JOIN (SELECT equipment_id, max(inspected_on) AS d FROM inspections
           WHERE equipment_type = 'cylinder' AND result <> 'fail' GROUP BY 1) i
       ON i.equipment_id = c.cylinder_id
WHERE c.status = 'in_service'
"""
_MAINTENANCE = """
SELECT e.elevator_id, m.last, e.installed_on, {interval} AS interval_days
FROM elevators e
LEFT JOIN (SELECT elevator_id, max(done_on) AS last FROM maintenance_records GROUP BY 1) m
       ON m.elevator_id = e.elevator_id
{scores}
WHERE e.status = 'in_service'
"""
_OPEN = "SELECT condition_key FROM alerts WHERE state <> 'resolved' AND kind = ANY(%s)"


def _inspection(
    kind: str,
    etype: str,
    eid: str,
    due: date,
    today: date,
    station_id: str | None = None,
    district: str | None = None,
) -> AlertDraft:
    if kind == "inspection_overdue":
        summary = (
            msg("alert.inspection_overdue.summary.elevator", elevator_id=eid, due_on=due)
            if etype == "elevator"
            else msg("alert.inspection_overdue.summary.cylinder", cylinder_id=eid, due_on=due)
        )
    else:
        summary = (
            msg("alert.inspection_due_soon.summary.elevator", elevator_id=eid, due_on=due)
            if etype == "elevator"
            else msg("alert.inspection_due_soon.summary.cylinder", cylinder_id=eid, due_on=due)
        )
    return AlertDraft(
        condition_key=inspection_key(kind, etype, eid, due),
        kind=kind,
        equipment_type=etype,
        equipment_id=eid,
        started_at=_midnight(due if kind == "inspection_overdue" else today),
        summary=summary,
        details={"due_on": due.isoformat()},
        station_id=station_id,
        district=district,
    )


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


async def sweep(conn: AsyncConnection, cfg: AlertSettings, now: datetime) -> list[Op]:
    today = now.date()
    soon = today + timedelta(days=cfg.due_soon_days)
    want: dict[str, AlertDraft] = {}
    cur = await conn.execute(_ELEVATOR_DUE)
    for eid, due in await cur.fetchall():
        if due < today:
            d = _inspection("inspection_overdue", "elevator", eid, due, today)
        elif due <= soon:
            d = _inspection("inspection_due_soon", "elevator", eid, due, today)
        else:
            continue
        want[d.condition_key] = d
    cur = await conn.execute(_CYLINDER_DUE)
    for cid, station_id, district, due in await cur.fetchall():
        if due < today:
            d = _inspection("inspection_overdue", "cylinder", cid, due, today, station_id, district)
        elif due <= soon:
            d = _inspection(
                "inspection_due_soon", "cylinder", cid, due, today, station_id, district
            )
        else:
            continue
        want[d.condition_key] = d
    cur = await conn.execute("SELECT to_regclass('elevator_scores') IS NOT NULL")
    row = await cur.fetchone()
    has_scores = bool(row and row[0])
    default = int(cfg.default_maintenance_interval_days)
    q = _MAINTENANCE.format(
        interval=f"coalesce(s.interval_days, {default})" if has_scores else str(default),
        scores="LEFT JOIN elevator_scores s ON s.elevator_id = e.elevator_id" if has_scores else "",
    )
    cur = await conn.execute(q)
    for eid, last, installed, interval in await cur.fetchall():
        due = (last or installed) + timedelta(days=int(interval))
        if due < today:
            key = maintenance_key(eid, due)
            want[key] = AlertDraft(
                condition_key=key,
                kind="maintenance_overdue",
                equipment_type="elevator",
                equipment_id=eid,
                started_at=_midnight(due),
                summary=msg(
                    "alert.maintenance_overdue.summary",
                    elevator_id=eid,
                    due_on=due,
                    interval_days=int(interval),
                ),
                details={
                    "last_maintenance_on": last.isoformat() if last else None,
                    "interval_days": int(interval),
                    "due_on": due.isoformat(),
                },
            )
    cur = await conn.execute(_OPEN, (list(SWEEP_KINDS),))
    open_keys = {str(r[0]) for r in await cur.fetchall()}
    ops: list[Op] = [Raise(d) for k, d in want.items() if k not in open_keys]
    for k in open_keys - want.keys():
        inspected = k.startswith("inspection_")
        ops.append(
            Close(
                k,
                "inspected" if inspected else "other",
                ended_at=now,
                details={"closed_by": "sweep: due date moved or no longer applies"},
            )
        )
    return ops
