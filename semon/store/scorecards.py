"""Firm scorecards: the published deduction sheet (``ScorecardSettings``)
applied to what a firm's lifts did in a window, grades A-D.

Figures per group (a firm, or a district for /stats/firms), from indexed
reads only: the registry and ``elevator_scores`` for lifts held and their
intervals; ``maintenance_records`` for overdue lifts (the one definition of
semon/store/maintenance_due.py, as the sweep and the statistic) and
contradicted records; ``alerts`` (kind, started_at index) for traps, their causes and
arrival times; ``inspections`` for failures; faults per 1,000 trips are the
mean of the lifts' stored score factor (the last 30 days), not a re-count of
a year of hourly rows. Each deduction is listed with the events behind it.

Causes: a trap counts as caused at the firm when its ``details.cause``
(or ``details.cause_category``), or the cause reported on its rescue work
order where rescues are recorded, is ``equipment`` or ``human``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from semon.settings_firms import ScorecardSettings
from semon.store import maintenance_due as due
from semon.store.jit import without_jit

GROUPS = {"firm_id": "e.firm_id", "district": "e.district"}
GRADES = ("A", "B", "C", "D")
CAUSED = "coalesce(a.details->>'cause_category', a.details->>'cause') IN ('equipment', 'human')"
# Where rescues are recorded (the 96333 work order, migration 0030), the
# firm's reported cause on the trap's rescue counts too.
CAUSED_OR_RESCUE = (
    f"({CAUSED} OR EXISTS (SELECT 1 FROM rescues r WHERE r.alert_id = a.alert_id"
    " AND r.cause_category IN ('equipment', 'human')))"
)
_HAS_RESCUES = "SELECT to_regclass('rescues') IS NOT NULL"


async def _caused(conn: AsyncConnection) -> str:
    row = await (await conn.execute(_HAS_RESCUES)).fetchone()
    return CAUSED_OR_RESCUE if row and row[0] else CAUSED


_EL = """
el AS (
    SELECT e.elevator_id, e.installed_on, {key} AS key
      FROM elevators e
     WHERE e.status = 'in_service' AND ({scope}) {firm}
)"""

# After the ``el`` CTE (CardWindow.lifts). Each part groups by the key and,
# where ``{overall}`` is ", ()", also over everything (``whole`` = 1): the
# city's card comes out of the same pass as the groups'.
_FIGURES = """,
ov AS (
    SELECT e.key, grouping(e.key) AS whole, count(*) AS held,
           count(*) FILTER (WHERE {overdue}) AS overdue,
           avg(s.factor_values[array_position(s.factor_names, 'faults_per_1000_trips')])
               FILTER (WHERE s.factor_values[array_position(s.factor_names,
                                                            'faults_per_1000_trips')] <> 'NaN')
               AS faults_per_1000
      FROM el e
      {due_joins}
     GROUP BY GROUPING SETS ((e.key){overall})
),
rec AS (
    SELECT el.key, grouping(el.key) AS whole, count(m.verification) AS checked,
           count(*) FILTER (WHERE m.verification = 'contradicted') AS contradicted
      FROM maintenance_records m JOIN el ON el.elevator_id = m.elevator_id
     WHERE m.done_on >= %(from_d)s AND m.done_on < %(to_d)s
     GROUP BY GROUPING SETS ((el.key){overall})
),
tr AS (
    SELECT el.key, grouping(el.key) AS whole, count(*) AS traps,
           count(*) FILTER (WHERE {caused}) AS caused,
           percentile_cont(0.5) WITHIN GROUP (
               ORDER BY extract(epoch FROM a.on_site_at - a.raised_at))
               FILTER (WHERE a.on_site_at IS NOT NULL) AS median_arrival_s
      FROM alerts a JOIN el ON el.elevator_id = a.equipment_id
     WHERE a.kind = 'trapped_passenger' AND a.equipment_type = 'elevator'
       AND a.started_at >= %(from)s AND a.started_at < %(to)s
     GROUP BY GROUPING SETS ((el.key){overall})
),
ins AS (
    SELECT el.key, grouping(el.key) AS whole, count(*) AS inspections,
           count(*) FILTER (WHERE i.result = 'fail') AS failed
      FROM inspections i
      JOIN el ON i.equipment_type = 'elevator' AND i.equipment_id = el.elevator_id
     WHERE i.inspected_on >= %(from_d)s AND i.inspected_on < %(to_d)s
     GROUP BY GROUPING SETS ((el.key){overall})
)
SELECT ov.key, ov.whole, ov.held, ov.overdue, ov.faults_per_1000,
       coalesce(rec.checked, 0) AS checked, coalesce(rec.contradicted, 0) AS contradicted,
       coalesce(tr.traps, 0) AS traps, coalesce(tr.caused, 0) AS caused, tr.median_arrival_s,
       coalesce(ins.inspections, 0) AS inspections, coalesce(ins.failed, 0) AS failed
  FROM ov
  LEFT JOIN rec ON rec.whole = ov.whole AND rec.key IS NOT DISTINCT FROM ov.key
  LEFT JOIN tr ON tr.whole = ov.whole AND tr.key IS NOT DISTINCT FROM ov.key
  LEFT JOIN ins ON ins.whole = ov.whole AND ins.key IS NOT DISTINCT FROM ov.key
 ORDER BY ov.whole, ov.key
"""

# The events behind each deduction of one firm's card, at most %(n)s each.
_EVENTS = {
    "maintenance_overdue": """
SELECT e.elevator_id, m.done_on AS last_maintenance_on, {due_on} AS due_on,
       {interval} AS interval_days
  FROM el e
  {due_joins}
 WHERE {overdue}
 ORDER BY 3, 1 LIMIT %(n)s""",
    "contradicted_records": """
SELECT m.record_id, m.elevator_id, m.done_on, m.started_at, m.ended_at
  FROM maintenance_records m JOIN el ON el.elevator_id = m.elevator_id
 WHERE m.done_on >= %(from_d)s AND m.done_on < %(to_d)s AND m.verification = 'contradicted'
 ORDER BY m.done_on DESC, m.record_id DESC LIMIT %(n)s""",
    "traps": """
SELECT a.alert_id, a.equipment_id AS elevator_id, a.started_at
  FROM alerts a JOIN el ON el.elevator_id = a.equipment_id
 WHERE a.kind = 'trapped_passenger' AND a.equipment_type = 'elevator'
   AND a.started_at >= %(from)s AND a.started_at < %(to)s
 ORDER BY a.started_at DESC LIMIT %(n)s""",
    "caused_traps": """
SELECT a.alert_id, a.equipment_id AS elevator_id, a.started_at,
       coalesce(a.details->>'cause_category', a.details->>'cause') AS alert_cause
  FROM alerts a JOIN el ON el.elevator_id = a.equipment_id
 WHERE a.kind = 'trapped_passenger' AND a.equipment_type = 'elevator'
   AND a.started_at >= %(from)s AND a.started_at < %(to)s AND {caused}
 ORDER BY a.started_at DESC LIMIT %(n)s""",
    "median_arrival": """
SELECT a.alert_id, a.equipment_id AS elevator_id, a.started_at,
       extract(epoch FROM a.on_site_at - a.raised_at)::float8 AS arrival_s
  FROM alerts a JOIN el ON el.elevator_id = a.equipment_id
 WHERE a.kind = 'trapped_passenger' AND a.equipment_type = 'elevator'
   AND a.started_at >= %(from)s AND a.started_at < %(to)s AND a.on_site_at IS NOT NULL
   AND a.on_site_at - a.raised_at > %(arrival_free)s
 ORDER BY 4 DESC LIMIT %(n)s""",
    "failed_inspections": """
SELECT i.inspection_id, i.equipment_id AS elevator_id, i.inspected_on, i.inspector
  FROM inspections i
      JOIN el ON i.equipment_type = 'elevator' AND i.equipment_id = el.elevator_id
 WHERE i.inspected_on >= %(from_d)s AND i.inspected_on < %(to_d)s AND i.result = 'fail'
 ORDER BY i.inspected_on DESC LIMIT %(n)s""",
    "faults_per_1000_trips": """
SELECT s.elevator_id, v AS faults_per_1000_trips
  FROM el JOIN elevator_scores s ON s.elevator_id = el.elevator_id,
       LATERAL (SELECT s.factor_values[array_position(s.factor_names,
                                                      'faults_per_1000_trips')] AS v) f
 WHERE v <> 'NaN' AND v > %(faults_free)s
 ORDER BY v DESC LIMIT %(n)s""",
}


def _fill(text: str, caused: str) -> str:
    """The query with its shared pieces: the cause rule and the one
    definition of maintenance overdue (semon/store/maintenance_due.py)."""
    return (
        text.replace("{caused}", caused)
        .replace("{due_joins}", due.JOINS)
        .replace("{overdue}", due.OVERDUE)
        .replace("{due_on}", due.DUE_ON)
        .replace("{interval}", due.INTERVAL_DAYS)
    )


def _firm_filter(firm: str | None) -> sql.Composable:
    # A plain equality (not "param IS NULL OR ..."), so one firm's card is
    # planned for its few hundred lifts by the firm index, not for the city.
    return sql.SQL("AND e.firm_id = %(firm)s") if firm is not None else sql.SQL("")


def _line(
    name: str, value: float | None, unit: str, free: float, per: float, cap: float
) -> dict[str, Any]:
    """One line of the sheet: ``per`` points a unit of ``value`` beyond ``free``
    (none for an unknown value), between 0 and ``cap``."""
    points = 0.0 if value is None else (value - free) * per
    return {
        "name": name,
        "value": None if value is None else round(value, 3),
        "unit": unit,
        "points": round(min(cap, max(0.0, points)), 2),
        "cap": cap,
    }


def deductions(f: dict[str, Any], cfg: ScorecardSettings, days: float) -> list[dict[str, Any]]:
    """The sheet applied to one group's figures: one line per published item."""
    held = int(f["held"])
    overdue_pct = 100.0 * f["overdue"] / held if held else 0.0
    contradicted_pct = 100.0 * f["contradicted"] / f["checked"] if f["checked"] else 0.0
    traps_rate = f["traps"] / held * 100.0 * 365.0 / days if held and days > 0 else 0.0
    arrival = f["median_arrival_s"]
    arrival_min = None if arrival is None else float(arrival) / 60.0
    failed_pct = 100.0 * f["failed"] / f["inspections"] if f["inspections"] else 0.0
    faults = f["faults_per_1000"]
    faults = None if faults is None or math.isnan(float(faults)) else float(faults)
    return [
        _line(
            "maintenance_overdue",
            overdue_pct,
            "percent_of_lifts",
            cfg.overdue_free_pct,
            cfg.overdue_points_per_pct,
            cfg.overdue_cap,
        ),
        _line(
            "contradicted_records",
            contradicted_pct,
            "percent_of_checked_records",
            0.0,
            cfg.contradicted_points_per_pct,
            cfg.contradicted_cap,
        ),
        _line(
            "traps",
            traps_rate,
            "per_100_lifts_a_year",
            cfg.traps_free_per_100y,
            cfg.traps_points_per_unit,
            cfg.traps_cap,
        ),
        _line(
            "caused_traps",
            float(f["caused"]),
            "traps",
            0.0,
            cfg.caused_trap_points,
            cfg.caused_trap_cap,
        ),
        _line(
            "median_arrival",
            arrival_min,
            "minutes",
            cfg.arrival_free_min,
            cfg.arrival_points_per_min,
            cfg.arrival_cap,
        ),
        _line(
            "failed_inspections",
            failed_pct,
            "percent_of_inspections",
            0.0,
            cfg.failed_inspection_points_per_pct,
            cfg.failed_inspection_cap,
        ),
        _line(
            "faults_per_1000_trips",
            faults,
            "per_1000_trips",
            cfg.faults_free_per_1000,
            cfg.faults_points_per_unit,
            cfg.faults_cap,
        ),
    ]


def grade_of(score: float, cfg: ScorecardSettings) -> str:
    a, b, c = cfg.grade_min_scores
    return "A" if score >= a else "B" if score >= b else "C" if score >= c else "D"


def card(f: dict[str, Any], cfg: ScorecardSettings, days: float) -> dict[str, Any]:
    lines = deductions(f, cfg, days)
    score = round(100.0 - sum(x["points"] for x in lines), 2)
    held = int(f["held"])
    return {
        "key": f["key"],
        "elevators": held,
        "figures": {
            "maintenance_overdue": int(f["overdue"]),
            "maintenance_overdue_rate": round(f["overdue"] / held, 4) if held else 0.0,
            "records_checked": int(f["checked"]),
            "records_contradicted": int(f["contradicted"]),
            "contradicted_share": round(f["contradicted"] / f["checked"], 4)
            if f["checked"]
            else 0.0,
            "traps": int(f["traps"]),
            "traps_per_100_per_year": round(f["traps"] / held * 100 * 365 / days, 3)
            if held and days > 0
            else 0.0,
            "caused_traps": int(f["caused"]),
            "median_arrival_s": None
            if f["median_arrival_s"] is None
            else round(float(f["median_arrival_s"]), 1),
            "inspections": int(f["inspections"]),
            "failed_inspections": int(f["failed"]),
            "failed_inspection_rate": round(f["failed"] / f["inspections"], 4)
            if f["inspections"]
            else 0.0,
            "faults_per_1000_trips": None
            if f["faults_per_1000"] is None
            else round(float(f["faults_per_1000"]), 3),
        },
        "score": score,
        "grade": grade_of(score, cfg),
        "deductions": lines,
    }


EVERY_LIFT = sql.SQL("TRUE")


@dataclass(frozen=True)
class CardWindow:
    """What cards are computed over: the window [since, until) (records and
    inspections, which carry a day, by every day it touches), the day
    maintenance overdue is judged at, the interval of an unscored lift, and
    the lifts in scope (a predicate on ``elevators e`` with its parameters)."""

    since: datetime
    until: datetime
    at: date
    default_days: int
    scope: sql.Composable = field(default_factory=lambda: EVERY_LIFT)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def days(self) -> float:
        return (self.until - self.since).total_seconds() / 86400.0

    def query_params(self, cfg: ScorecardSettings, firm: str | None) -> dict[str, Any]:
        return {
            **self.params,
            "from": self.since,
            "to": self.until,
            "from_d": self.since.date(),
            # the days the window touches, the last one included: a record
            # of this morning counts on a card that ends now
            "to_d": (self.until - timedelta(microseconds=1)).date() + timedelta(days=1),
            "at": self.at,
            "firm": firm,
            "default_days": self.default_days,
            "n": cfg.events_listed,
            "arrival_free": timedelta(minutes=cfg.arrival_free_min),
            "faults_free": cfg.faults_free_per_1000,
        }

    def lifts(self, key: str, firm: str | None) -> sql.Composable:
        """The ``el`` CTE: the in-service lifts in scope (of ``firm``), keyed."""
        return sql.SQL(_EL).format(key=sql.SQL(key), scope=self.scope, firm=_firm_filter(firm))


async def _figures(
    conn: AsyncConnection,
    cfg: ScorecardSettings,
    window: CardWindow,
    *,
    group_by: str,
    firm: str | None,
    overall: bool,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    text = _fill(_FIGURES, await _caused(conn)).replace("{overall}", ", ()" if overall else "")
    query = sql.SQL("WITH {}").format(window.lifts(GROUPS[group_by], firm)) + sql.SQL(text)
    async with without_jit(conn), conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, window.query_params(cfg, firm))
        rows = await cur.fetchall()
    groups = [card(r, cfg, window.days) for r in rows if not r["whole"]]
    # The grand total has a row even over no lift at all: no card then.
    whole = [card({**r, "key": "*"}, cfg, window.days) for r in rows if r["whole"] and r["held"]]
    return groups, whole[0] if whole else None


async def group_figures(
    conn: AsyncConnection,
    cfg: ScorecardSettings,
    window: CardWindow,
    *,
    group_by: str,
    firm: str | None = None,
) -> list[dict[str, Any]]:
    """One card (figures, deductions, grade) per group in scope."""
    groups, _ = await _figures(conn, cfg, window, group_by=group_by, firm=firm, overall=False)
    return groups


async def groups_and_overall(
    conn: AsyncConnection, cfg: ScorecardSettings, window: CardWindow, *, group_by: str
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The groups' cards and the card of all of them together (key ``*``;
    None over no lift), in one pass: /stats/firms."""
    return await _figures(conn, cfg, window, group_by=group_by, firm=None, overall=True)


async def firm_scorecard(
    conn: AsyncConnection, cfg: ScorecardSettings, firm_id: str, window: CardWindow
) -> dict[str, Any] | None:
    """The firm's card over its lifts in scope, every deduction with its
    events; None when it holds no lift in scope."""
    cards = await group_figures(conn, cfg, window, group_by="firm_id", firm=firm_id)
    if not cards:
        return None
    out = cards[0]
    p = window.query_params(cfg, firm_id)
    el = window.lifts(GROUPS["firm_id"], firm_id)
    caused = await _caused(conn)
    async with without_jit(conn), conn.cursor(row_factory=dict_row) as cur:
        for line in out["deductions"]:
            body = _fill(_EVENTS[line["name"]], caused)
            await cur.execute(sql.SQL("WITH {} ").format(el) + sql.SQL(body), p)
            line["events"] = await cur.fetchall()
    out["firm_id"] = firm_id
    out["from"], out["to"], out["at"] = window.since, window.until, window.at
    return out
