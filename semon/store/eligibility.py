"""One lift's eligibility for on-demand maintenance, from the score's own
computation: the metrics query of semon/store/scores.py for this one lift,
``semon.scoring.score_fleet`` on it, and each condition of
``semon.scoring.ELIGIBILITY`` passed exactly when its veto is not raised.
Evidence is what each condition was judged on (registry, alerts, terminal).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from semon.scoring import ELIGIBILITY, GRADES, VETOES, score_fleet
from semon.settings import Settings
from semon.store.scores import UNINSURED_SQL, has_insurance, load_metrics

_FACTS = """
SELECT e.firm_id, f.credit_grade, e.status, e.last_inspected_on,
       e.inspection_interval_months,
       -- the contract's base date, defined once (migration 0040): a fail never renews it
       semon_elevator_due(e.last_inspected_on, e.inspection_passed_on, e.inspection_failed_on,
                          e.installed_on, e.inspection_interval_months) AS inspection_due_on,
       li.inspected_on AS latest_inspection_on, li.result AS latest_inspection_result,
       {insurance}
  FROM elevators e
  LEFT JOIN firms f ON f.firm_id = e.firm_id
  LEFT JOIN LATERAL (SELECT i.inspected_on, i.result FROM inspections i
                      WHERE i.equipment_type = 'elevator' AND i.equipment_id = e.elevator_id
                        AND i.inspected_on <= %(today)s::date
                      ORDER BY i.inspected_on DESC LIMIT 1) li ON true
 WHERE e.elevator_id = %(id)s
"""
_LAST_SAMPLE = "SELECT max(ts) FROM elevator_status WHERE elevator_id = %s"
_MAINTENANCE_TRAPS = """
SELECT alert_id, started_at, resolution, details->>'cause' AS cause
  FROM alerts
 WHERE equipment_type = 'elevator' AND equipment_id = %(id)s AND kind = 'trapped_passenger'
   AND started_at >= %(from)s AND started_at <= %(now)s
   AND (resolution = 'repaired' OR details->>'cause' = 'maintenance')
 ORDER BY started_at DESC
"""


async def eligibility(
    conn: AsyncConnection, settings: Settings, elevator_id: str, *, now: datetime
) -> dict[str, Any] | None:
    """The lift's conditions, score and granted interval at ``now``; None
    when there is no such lift (the caller checks scope first)."""
    async with conn.transaction():
        _, m = await load_metrics(conn, settings, now=now, ids=[elevator_id])
        await conn.execute("DROP TABLE score_fleet")
    if len(m.age_years) == 0:
        return None
    s = score_fleet(m, settings.score)
    vetoed = {name for k, name in enumerate(VETOES) if s.vetoes[k, 0]}
    insured = await has_insurance(conn)
    insurance = (
        f"e.insured_until, ({UNINSURED_SQL}) AS uninsured"
        if insured
        else "NULL::date AS insured_until, NULL::boolean AS uninsured"
    )
    params = {"id": elevator_id, "today": now.date(), "now": now}
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(_FACTS.format(insurance=insurance), params)
    facts = await cur.fetchone() or {}
    last = await (await conn.execute(_LAST_SAMPLE, (elevator_id,))).fetchone()
    veto_from = now - timedelta(days=settings.score.veto_trap_window_days)
    await cur.execute(_MAINTENANCE_TRAPS, {**params, "from": veto_from})
    traps = await cur.fetchall()
    days = float(m.days_since_data[0])
    evidence: dict[str, dict[str, Any]] = {
        "firm_not_graded_c_or_d": {
            "firm_id": facts.get("firm_id"),
            "credit_grade": facts.get("credit_grade"),
        },
        "inspection_in_date": {
            "last_inspected_on": facts.get("last_inspected_on"),
            "interval_months": facts.get("inspection_interval_months"),
            "due_on": facts.get("inspection_due_on"),
            "status": facts.get("status"),
        },
        "inspection_not_failed": {
            "latest_inspection_on": facts.get("latest_inspection_on"),
            "latest_result": facts.get("latest_inspection_result"),
        },
        "terminal_connected": {
            "last_sample_at": last[0] if last else None,
            "days_since_data": None if math.isinf(days) else round(days, 3),
            "limit_days": settings.score.veto_no_data_days,
        },
        "insured": (
            {"insured_until": facts.get("insured_until")}
            if insured
            else {"registry": "no insurance fields yet: not judged, counted as passed"}
        ),
        "no_maintenance_trap_90d": {
            "since": veto_from,
            "traps": [dict(t) for t in traps],
        },
    }
    return {
        "elevator_id": elevator_id,
        "eligible": not vetoed,
        "interval_days": int(s.interval_days[0]),
        "score": float(s.score[0]),
        "grade": GRADES[int(s.grade[0])],
        "conditions": [
            {"name": name, "passed": veto not in vetoed, "veto": veto, "evidence": evidence[name]}
            for name, veto in ELIGIBILITY
        ],
        "computed_at": now,
    }
