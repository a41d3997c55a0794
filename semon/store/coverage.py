"""Coverage statistics (CONTRACT.md v1.1 "Coverage"): per group of in-service
equipment in scope, how many are covered by insurance, carry a tag, or have
a terminal heard from in the 24 hours before `at`.

Scope predicates are the API's (api/scope.py) over ``e`` elevators or ``c``
cylinders, as in semon/store/stats.py, whose GROUPING SETS shape this keeps.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from semon.store import last_seen
from semon.store.stats import ELEVATOR_GROUPS, Scoped, in_service_counts

Metric = Literal["insurance", "tag", "iot"]

# Which metrics each kind of equipment has.
METRICS: dict[str, tuple[str, ...]] = {
    "elevator": ("insurance", "iot"),
    "cylinder": ("insurance", "tag"),
}

# Covered: insured on the day judged; a tag fitted; a sample in the 24 h
# before `at`. For IoT each lift's kept last-seen time (elevator_last_seen,
# 0076, semon/store/last_seen.py: its newest sample is at or after it and
# less than STEP after it) answers for nearly every lift: never heard from
# (no row), or kept time plus STEP at or before the window's start, none in
# the window; kept time inside the window, heard. Only the lifts left in
# doubt (the kept time just before the window's start, or after `at`: a
# past `at`) are looked up in their samples (one probe of the (elevator_id,
# ts) key). A CASE, not AND/OR: a NULL (no row) must not reach the probe.
_ELEVATOR_COVERED = {
    "insurance": "e.insured_until >= %(day)s",
    "iot": "CASE WHEN seen.ts IS NULL OR seen.ts + %(step)s <= %(since)s THEN false"
    " WHEN seen.ts > %(since)s AND seen.ts <= %(at)s THEN true"
    " ELSE EXISTS (SELECT 1 FROM elevator_status s WHERE s.elevator_id = e.elevator_id"
    " AND s.ts > %(since)s AND s.ts <= %(at)s) END",
}
_CYLINDER_COVERED = {
    "insurance": "c.insured_until >= %(day)s",
    "tag": "c.tag <> 'none'",
}

_ELEVATORS = in_service_counts("covered")
# IoT joins each lift's last-seen row, which takes the elevators out of the
# grouping key's order: counted per group by hash first (no sort of every
# lift, which spilled to disk), then rolled up.
_ELEVATORS_IOT = """
WITH per AS (
    SELECT {key} AS key, count(*) AS total, count(*) FILTER (WHERE {covered}) AS covered
      FROM elevators e LEFT JOIN elevator_last_seen seen ON seen.elevator_id = e.elevator_id
     WHERE e.status = 'in_service' AND ({scope})
     GROUP BY 1
)
SELECT key, GROUPING(key) AS overall,
       coalesce(sum(total), 0)::bigint AS total, coalesce(sum(covered), 0)::bigint AS covered
  FROM per
 GROUP BY GROUPING SETS ((key), ())
"""

# Per owner station first, then rolled up to the district where asked.
_CYLINDERS = """
WITH per AS (
    SELECT c.owner_station_id, count(*) AS total, count(*) FILTER (WHERE {covered}) AS covered
      FROM cylinders c
     WHERE c.status = 'in_service' AND ({scope})
     GROUP BY c.owner_station_id
)
SELECT {key} AS key, GROUPING({key}) AS overall,
       coalesce(sum(per.total), 0)::bigint AS total,
       coalesce(sum(per.covered), 0)::bigint AS covered
  FROM per LEFT JOIN stations st ON st.station_id = per.owner_station_id
 GROUP BY GROUPING SETS (({key}), ())
"""


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


async def coverage(
    conn: AsyncConnection,
    *,
    metric: str,
    equipment: str,
    group_by: str,
    at: datetime,
    scope: Scoped,
) -> dict[str, Any]:
    """`groups` (key, total, covered, rate) and `overall`; `at` is the moment
    judged (its UTC date for insurance)."""
    where, params = scope
    if equipment == "elevator":
        query = sql.SQL(_ELEVATORS_IOT if metric == "iot" else _ELEVATORS).format(
            key=sql.SQL(ELEVATOR_GROUPS[group_by]),
            covered=sql.SQL(_ELEVATOR_COVERED[metric]),
            scope=where,
        )
    else:
        key = "per.owner_station_id" if group_by == "station_id" else "st.district"
        query = sql.SQL(_CYLINDERS).format(
            key=sql.SQL(key),
            covered=sql.SQL(_CYLINDER_COVERED[metric]),
            scope=where,
        )
    since = at - timedelta(hours=24)
    values = {**params, "day": at.date(), "at": at, "since": since, "step": last_seen.STEP}
    async with conn.transaction():
        if equipment == "cylinder":
            # As for the overdue figures (semon/store/stats.py): the covering
            # index (0042) holds what is counted, and reads far less than the
            # table scan the planner would otherwise choose.
            await conn.execute("SET LOCAL enable_seqscan = off")
            await conn.execute("SET LOCAL enable_bitmapscan = off")
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(query, values)
        rows = await cur.fetchall()
    groups: list[dict[str, Any]] = []
    overall = {"total": 0, "covered": 0}
    for r in rows:
        figures = {"total": int(r["total"]), "covered": int(r["covered"])}
        if r["overall"]:
            overall = figures
        else:
            groups.append({"key": r["key"], **figures})
    groups.sort(key=lambda g: (g["key"] is None, g["key"] or ""))
    for g in [*groups, overall]:
        g["rate"] = _rate(g["covered"], g["total"])
    return {
        "metric": metric,
        "equipment": equipment,
        "group_by": group_by,
        "at": at,
        "groups": groups,
        "overall": overall,
    }
