"""Hazards and self-checks: writes, scoped reads, and the regulator's figures
(found, rectified, overdue, serious-rectification and self-check rates).

Scope predicates are the API's (api/scope.py) over the alias each query
names: ``h`` hazards, ``e`` elevators, ``c`` cylinders. A hazard carries the
district, firm, use unit and owner station of its equipment as found
(migration 0041), so reads and statistics filter and group without joins.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

Row = dict[str, Any]
HazardAction = Literal["rectify", "verify", "reopen"]

# Which state each action leads to, and from which states it is legal.
ACTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "rectify": ("rectified", ("open",)),
    "verify": ("verified", ("rectified",)),
    "reopen": ("open", ("rectified", "verified")),
}

HAZARD_GROUPS = {"district": "district", "use_unit": "use_unit", "firm_id": "firm_id"}
# The same keys over the elevators a use unit's self-checks are counted under.
_UNIT_GROUPS = {"district": "e.district", "use_unit": "e.use_unit", "firm_id": "e.firm_id"}

_COLUMNS = (
    "hazard_id, equipment_type, equipment_id, source, level, description, found_on, deadline,"
    " state, district, firm_id, use_unit, station_id, reported_by, rectified_at,"
    " rectified_note, evidence, verified_at, verified_by, reopened_at, created_at, updated_at"
)


@dataclass(frozen=True)
class NewHazard:
    equipment_type: str
    equipment_id: str
    source: str
    level: str
    description: str
    found_on: date
    deadline: date
    reported_by: str | None = None
    self_check_id: int | None = None


def new_hazard_id() -> str:
    return "hz_" + uuid.uuid4().hex


_IN_SCOPE = {
    "elevator": "SELECT e.elevator_id FROM elevators e"
    " WHERE e.elevator_id = ANY(%(ids)s) AND ({s})",
    "cylinder": "SELECT c.cylinder_id FROM cylinders c"
    " WHERE c.cylinder_id = ANY(%(ids)s) AND ({s})",
}


async def equipment_in_scope(
    conn: AsyncConnection,
    equipment_type: str,
    ids: list[str],
    scope: sql.Composable,
    params: dict[str, Any],
) -> set[str]:
    query = sql.SQL(_IN_SCOPE[equipment_type]).format(s=scope)
    cur = await conn.execute(query, {**params, "ids": ids})
    return {r[0] for r in await cur.fetchall()}


_INSERT = f"""
INSERT INTO hazards (hazard_id, equipment_type, equipment_id, source, level, description,
                     found_on, deadline, district, firm_id, use_unit, station_id,
                     self_check_id, reported_by)
SELECT %(hazard_id)s, %(equipment_type)s, %(equipment_id)s, %(source)s, %(level)s,
       %(description)s, %(found_on)s, %(deadline)s,
       sc.district, sc.firm_id, sc.use_unit, sc.station_id, %(self_check_id)s, %(reported_by)s
  FROM (SELECT 1) one
  LEFT JOIN LATERAL semon_hazard_scope(%(equipment_type)s, %(equipment_id)s) sc ON true
RETURNING {_COLUMNS}
"""


async def add_hazard(conn: AsyncConnection, h: NewHazard) -> Row:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            _INSERT,
            {
                "hazard_id": new_hazard_id(),
                "equipment_type": h.equipment_type,
                "equipment_id": h.equipment_id,
                "source": h.source,
                "level": h.level,
                "description": h.description,
                "found_on": h.found_on,
                "deadline": h.deadline,
                "self_check_id": h.self_check_id,
                "reported_by": h.reported_by,
            },
        )
        row = await cur.fetchone()
    assert row is not None
    return row


async def get_hazard(
    conn: AsyncConnection, hazard_id: str, scope: sql.Composable, params: dict[str, Any]
) -> Row | None:
    query = sql.SQL(f"SELECT {_COLUMNS} FROM hazards h WHERE h.hazard_id = %(id)s AND ({{s}})")
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query.format(s=scope), {**params, "id": hazard_id})
        return await cur.fetchone()


async def list_hazards(
    conn: AsyncConnection,
    *,
    state: str | None,
    level: str | None,
    overdue: bool | None,
    today: date,
    limit: int,
    scope: tuple[sql.Composable, dict[str, Any]],
) -> list[Row]:
    """Newest found first. `overdue`: open with its deadline passed (or not).
    `scope`: the caller's predicate over ``h`` and its parameters."""
    where, params = scope
    query = sql.SQL(
        f"SELECT {_COLUMNS} FROM hazards h"
        " WHERE ({s}) AND (%(state)s::text IS NULL OR h.state = %(state)s)"
        " AND (%(level)s::text IS NULL OR h.level = %(level)s)"
        " AND (%(overdue)s::boolean IS NULL"
        "      OR (h.state = 'open' AND h.deadline < %(today)s) = %(overdue)s)"
        " ORDER BY h.found_on DESC, h.hazard_id LIMIT %(limit)s"
    ).format(s=where)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            query,
            dict(params, state=state, level=level, overdue=overdue, today=today, limit=limit),
        )
        return await cur.fetchall()


_SET = {
    "rectify": "rectified_at = coalesce(%(rectified_on)s::date::timestamp AT TIME ZONE 'UTC',"
    " now()), rectified_note = %(note)s, evidence = %(evidence)s",
    "verify": "verified_at = now(), verified_by = %(by)s",
    "reopen": "reopened_at = now(), rectified_at = NULL, verified_at = NULL, verified_by = NULL",
}


async def act(
    conn: AsyncConnection,
    hazard_id: str,
    action: HazardAction,
    *,
    note: str | None,
    evidence: str | None,
    by: str | None,
    rectified_on: date | None = None,
) -> Row | None:
    """Apply `action` if legal from the hazard's state; None when it is not.
    A rectification reported afterwards is dated `rectified_on` (midnight)."""
    target, allowed = ACTIONS[action]
    query = (
        f"UPDATE hazards SET state = %(target)s, updated_at = now(), {_SET[action]}"
        f" WHERE hazard_id = %(id)s AND state = ANY(%(allowed)s) RETURNING {_COLUMNS}"
    )
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            query,  # built from constants only
            {
                "target": target,
                "allowed": list(allowed),
                "id": hazard_id,
                "note": note,
                "evidence": evidence,
                "by": by,
                "rectified_on": rectified_on,
            },
        )
        return await cur.fetchone()


async def add_self_check(
    conn: AsyncConnection,
    *,
    use_unit: str,
    kind: str,
    done_on: date,
    by: str,
    equipment_ids: list[str],
) -> int:
    cur = await conn.execute(
        "INSERT INTO self_checks (use_unit, kind, done_on, done_by, equipment_ids)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING self_check_id",
        (use_unit, kind, done_on, by, equipment_ids),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def unit_elevators(conn: AsyncConnection, use_unit: str, ids: list[str]) -> set[str]:
    """Which of `ids` are elevators of `use_unit`."""
    cur = await conn.execute(
        "SELECT elevator_id FROM elevators WHERE use_unit = %s AND elevator_id = ANY(%s)",
        (use_unit, ids),
    )
    return {r[0] for r in await cur.fetchall()}


# Hazards found in [from, to): rectified = rectified or verified now;
# overdue = its deadline passed (before `to`, or before today for a window
# still running) and it was not rectified by then.
_HAZARDS = """
SELECT {key} AS key, GROUPING({key}) AS overall,
       count(*) AS found,
       count(*) FILTER (WHERE h.state <> 'open') AS rectified,
       count(*) FILTER (WHERE h.deadline < %(cut)s
                          AND (h.rectified_at IS NULL
                               OR (h.rectified_at AT TIME ZONE 'UTC')::date > h.deadline))
           AS overdue,
       count(*) FILTER (WHERE h.level = 'serious') AS serious_found,
       count(*) FILTER (WHERE h.level = 'serious' AND h.state <> 'open') AS serious_rectified
  FROM hazards h
 WHERE h.found_on >= %(from)s AND h.found_on < %(to)s AND ({scope})
 GROUP BY GROUPING SETS (({key}), ())
"""

# A use unit's self-checks are complete over [from, to) when every day has a
# daily check, every week (Monday to Sunday) touching the window a weekly one
# within that week, and every month touching it a monthly one within that
# month. The use units counted are those with an elevator in service in scope.
_SELF_CHECKS = """
WITH need AS (
    SELECT DISTINCT k.kind,
           CASE k.kind WHEN 'daily' THEN d::date
                       WHEN 'weekly' THEN date_trunc('week', d)::date
                       ELSE date_trunc('month', d)::date END AS period
      FROM generate_series(%(from)s::date, %(to)s::date - 1, interval '1 day') d
     CROSS JOIN (VALUES ('daily'), ('weekly'), ('monthly')) k(kind)
),
units AS (
    SELECT DISTINCT {key} AS key, e.use_unit
      FROM elevators e
     WHERE e.status = 'in_service' AND ({scope})
),
complete AS (
    SELECT s.use_unit
      FROM (SELECT DISTINCT s.use_unit, s.kind,
                   CASE s.kind WHEN 'daily' THEN s.done_on
                               WHEN 'weekly' THEN date_trunc('week', s.done_on)::date
                               ELSE date_trunc('month', s.done_on)::date END AS period
              FROM self_checks s
             WHERE s.done_on >= least(date_trunc('week', %(from)s::date),
                                      date_trunc('month', %(from)s::date))::date
               AND s.done_on < %(to)s::date + 31) s
      JOIN need n ON n.kind = s.kind AND n.period = s.period
     GROUP BY s.use_unit
    HAVING count(*) = (SELECT count(*) FROM need)
),
flagged AS (
    SELECT u.key, u.use_unit, c.use_unit IS NOT NULL AS done
      FROM units u LEFT JOIN complete c ON c.use_unit = u.use_unit
)
SELECT key, 0 AS overall, count(*) AS use_units, count(*) FILTER (WHERE done) AS use_units_complete
  FROM flagged GROUP BY key
UNION ALL
-- a use unit with lifts in two groups counts once overall
SELECT NULL, 1, count(*), count(*) FILTER (WHERE done)
  FROM (SELECT use_unit, bool_or(done) AS done FROM flagged GROUP BY use_unit) once
"""


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


Counts = tuple[int, ...]


def _by_key(rows: list[tuple[Any, ...]]) -> dict[tuple[bool, Any], Counts]:
    """(overall, key) -> the counts after them, of rows (key, overall, counts...)."""
    return {(bool(r[1]), r[0]): r[2:] for r in rows}


_NO_HAZARDS = (0, 0, 0, 0, 0)
_NO_UNITS = (0, 0)


def _figures(hazards: Counts, units: Counts, **key: Any) -> Row:
    """One group's figures (after its `key`, where given), from the counts of
    _HAZARDS and _SELF_CHECKS in their column order. Built in one literal:
    by use unit a city has 20,000 groups."""
    found, rectified, overdue, serious_found, serious_rectified = hazards
    use_units, complete = units
    return {
        **key,
        "found": found,
        "rectified": rectified,
        "overdue": overdue,
        "serious_found": serious_found,
        "serious_rectified": serious_rectified,
        "use_units": use_units,
        "use_units_complete": complete,
        "serious_rectification_rate": _rate(serious_rectified, serious_found),
        "self_check_rate": _rate(complete, use_units),
    }


async def hazard_stats(
    conn: AsyncConnection,
    *,
    group_by: str,
    since: date,
    until: date,
    today: date,
    hazard_scope: sql.Composable,
    elevator_scope: sql.Composable,
    params: dict[str, Any],
    units_conn: AsyncConnection | None = None,
) -> dict[str, Any]:
    """Hazards found in [since, until) and self-check completeness, per group
    and overall. The two counts are independent scans: side by side when a
    second connection (`units_conn`) is given, one after the other otherwise."""
    window = {**params, "from": since, "to": until, "cut": min(until, today)}
    hazards_query = sql.SQL(_HAZARDS).format(
        key=sql.Identifier("h", HAZARD_GROUPS[group_by]), scope=hazard_scope
    )
    units_query = sql.SQL(_SELF_CHECKS).format(
        key=sql.SQL(_UNIT_GROUPS[group_by]), scope=elevator_scope
    )

    async def counts(on: AsyncConnection, query: sql.Composed) -> dict[tuple[bool, Any], Counts]:
        async with on.cursor() as cur:
            await cur.execute(query, window)
            return _by_key(await cur.fetchall())

    if units_conn is None:
        hazards = await counts(conn, hazards_query)
        units = await counts(conn, units_query)
    else:
        hazards, units = await asyncio.gather(
            counts(conn, hazards_query), counts(units_conn, units_query)
        )
    keys = sorted(
        {k for overall, k in (*hazards, *units) if not overall},
        key=lambda k: (k is None, k or ""),
    )
    return {
        "group_by": group_by,
        "from": since,
        "to": until,
        "groups": [
            _figures(hazards.get((False, k), _NO_HAZARDS), units.get((False, k), _NO_UNITS), key=k)
            for k in keys
        ],
        "overall": _figures(
            hazards.get((True, None), _NO_HAZARDS), units.get((True, None), _NO_UNITS)
        ),
    }


# The sweep's view: open hazards whose deadline has passed.
_OVERDUE_OPEN = """
SELECT hazard_id, equipment_type, equipment_id, level, deadline, found_on, district,
       firm_id, use_unit, station_id, description
  FROM hazards WHERE state = 'open' AND deadline < %s
"""


async def overdue_open(conn: AsyncConnection, today: date) -> list[Row]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_OVERDUE_OPEN, (today,))
        return await cur.fetchall()
