"""Overdue and failed-in-use at a day D, as the inspections stood at D
(CONTRACT.md's base date, judged with the inspections dated on or before D:
migration 0075).

The statistics count every row in one index-only scan of 0040's covering
indexes from the row's stored state (`overdue` and `failed_in_use` below, fed
the row's own columns), which is the state at D for every piece with no
inspection dated after D. The pieces with one (few, for a recent D) are
recounted here from their inspections as of D, and `recount` returns, per
group, the difference to add to the scan's counts.

Scope predicates are the API's over ``e`` elevators or ``c`` cylinders.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

# Per kind: the row alias, its key, its origin date and interval columns.
_KINDS = {
    "elevator": ("e", "elevator_id", "installed_on", "inspection_interval_months"),
    "cylinder": ("c", "cylinder_id", "manufactured_on", "inspection_interval_years"),
}
STORED = ("inspection_passed_on", "inspection_failed_on")


def overdue(kind: str, passed: str, failed: str) -> str:
    """Due before D (0040's definition), the base date from these latest
    pass and fail dates and the registry's date. Fed the row's stored
    columns it is the covering index's expression, whose stored value an
    index-only scan reads."""
    alias, _, origin, interval = _KINDS[kind]
    return (
        f"semon_{kind}_due({alias}.last_inspected_on, {passed}, {failed},"
        f" {alias}.{origin}, {alias}.{interval}) < %(at)s"
    )


def failed_in_use(kind: str, failed: str) -> str:
    """Failed in use at D: the latest inspection, on or before D, failed."""
    alias = _KINDS[kind][0]
    return f"(semon_failed_in_use({failed}, {alias}.last_inspected_on) AND {failed} <= %(at)s)"


def stored(kind: str) -> tuple[str, str]:
    """The row's own latest pass and fail columns."""
    alias = _KINDS[kind][0]
    return f"{alias}.{STORED[0]}", f"{alias}.{STORED[1]}"


_RECOUNT = """
WITH later AS (
    SELECT DISTINCT i.equipment_id FROM inspections i
     WHERE i.equipment_type = %(kind)s AND i.inspected_on > %(at)s
)
SELECT {key} AS key, GROUPING({key}) AS overall,
       count(*) FILTER (WHERE {overdue_known}) - count(*) FILTER (WHERE {overdue_stored})
           AS overdue,
       count(*) FILTER (WHERE {failed_known}) - count(*) FILTER (WHERE {failed_stored})
           AS failed_in_use
  FROM later
  JOIN {table} {alias} ON {alias}.{id} = later.equipment_id
  {joins}
 CROSS JOIN LATERAL semon_inspections_at(%(kind)s, {alias}.{id}, %(at)s) known
 WHERE {alias}.status = 'in_service' AND ({scope})
 GROUP BY GROUPING SETS (({key}), ())
"""


async def recount(
    conn: AsyncConnection,
    *,
    kind: str,
    key: str,
    joins: str,
    at: date,
    scope: tuple[sql.Composable, dict[str, Any]],
) -> dict[tuple[bool, Any], dict[str, int]]:
    """(overall, group key) -> the differences to the scan's `overdue` and
    `failed_in_use` counts, for the equipment inspected after `at`. `key` is
    the grouping expression, `joins` what it needs joined to the equipment."""
    alias, id_column, _, _ = _KINDS[kind]
    where, params = scope
    query = sql.SQL(_RECOUNT).format(
        key=sql.SQL(key),
        table=sql.Identifier(f"{kind}s"),
        alias=sql.Identifier(alias),
        id=sql.Identifier(id_column),
        joins=sql.SQL(joins),
        overdue_known=sql.SQL(overdue(kind, "known.passed", "known.failed")),
        overdue_stored=sql.SQL(overdue(kind, *stored(kind))),
        failed_known=sql.SQL(failed_in_use(kind, "known.failed")),
        failed_stored=sql.SQL(failed_in_use(kind, stored(kind)[1])),
        scope=where,
    )
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(query, {**params, "kind": kind, "at": at})
    return {
        (bool(r["overall"]), None if r["overall"] else r["key"]): {
            "overdue": int(r["overdue"]),
            "failed_in_use": int(r["failed_in_use"]),
        }
        for r in await cur.fetchall()
    }


def apply(rows: list[dict[str, Any]], differences: dict[tuple[bool, Any], dict[str, int]]) -> None:
    """Add the recount's differences to the scan's rows (key, overall, counts)."""
    for r in rows:
        for name, n in differences.get((bool(r["overall"]), r["key"]), {}).items():
            r[name] += n
