"""Regulator statistics: one aggregate query each, role and scope in the WHERE.

Every function takes ``scope`` (a psycopg ``sql.Composable`` predicate over
the row alias the query names: ``e`` elevators, ``c`` cylinders, ``a``
alerts, with its parameters: `Scoped`) and returns plain dicts. Overall figures
come from the same scan as the groups (``GROUPING SETS``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from semon.domain.alerts import FILLING_KINDS
from semon.store import inspections_at as at_day
from semon.store import maintenance_due as due
from semon.store.leg_percentiles import Figures, leg_figures, seconds_between

Equipment = Literal["elevator", "cylinder"]
# A scope predicate and its parameters (api/scope.py's Predicate).
Scoped = tuple[sql.Composable, dict[str, Any]]

ELEVATOR_GROUPS = {"district": "e.district", "firm_id": "e.firm_id", "use_unit": "e.use_unit"}
CYLINDER_GROUPS = ("station_id", "district")
RESCUE_GROUPS = {"district": "a.district", "firm_id": "a.firm_id"}
MAINTENANCE_GROUPS = {"district": "e.district", "firm_id": "e.firm_id"}


# CONTRACT.md: overdue at D when in service and base date + interval < D;
# failed in use when the latest inspection failed (v1.1); both judged with
# the inspections known at D (semon/store/inspections_at.py: this scan counts
# each row's stored state, the equipment inspected after D is recounted).
# The due date and failed-in-use are the immutable functions of 0040 (the
# one definition of the base date), which its covering indexes hold.
def in_service_counts(*figures: str) -> str:
    """The query text counting in-service lifts per group key and overall:
    ``total`` and, for each figure, the lifts its predicate (the ``{figure}``
    placeholder, like ``{key}`` and ``{scope}`` filled by sql.SQL.format)
    holds for."""
    counts = "".join(f",\n       count(*) FILTER (WHERE {{{f}}}) AS {f}" for f in figures)
    return (
        f"SELECT {{key}} AS key, GROUPING({{key}}) AS overall, count(*) AS total{counts}\n"
        "  FROM elevators e\n"
        " WHERE e.status = 'in_service' AND ({scope})\n"
        " GROUP BY GROUPING SETS (({key}), ())\n"
    )


_ELEVATOR_OVERDUE = in_service_counts("overdue", "failed_in_use")

# Cylinders are counted per owner station first (an index-only scan of
# cylinders_due_station), then rolled up to the district where asked.
_CYLINDER_OVERDUE = """
WITH per AS (
    SELECT c.owner_station_id, count(*) AS total,
           count(*) FILTER (WHERE {overdue}) AS overdue,
           count(*) FILTER (WHERE {failed_in_use}) AS failed_in_use
      FROM cylinders c
     WHERE c.status = 'in_service' AND ({scope})
     GROUP BY c.owner_station_id
)
SELECT {key} AS key, GROUPING({key}) AS overall,
       coalesce(sum(per.total), 0)::bigint AS total,
       coalesce(sum(per.overdue), 0)::bigint AS overdue,
       coalesce(sum(per.failed_in_use), 0)::bigint AS failed_in_use
  FROM per LEFT JOIN stations st ON st.station_id = per.owner_station_id
 GROUP BY GROUPING SETS (({key}), ())
"""
# The cylinders' groups over the cylinder rows themselves (the recount).
_CYLINDER_KEYS = {"station_id": "c.owner_station_id", "district": "st.district"}
_STATIONS = "LEFT JOIN stations st ON st.station_id = c.owner_station_id"


def _rate(overdue: int, total: int) -> float:
    return round(overdue / total, 6) if total else 0.0


def _split(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Group rows and the overall row (GROUPING() = 1) of a GROUPING SETS query."""
    overall: dict[str, Any] = {}
    groups = []
    for r in rows:
        r = dict(r)
        if r.pop("overall"):
            overall = r
        else:
            groups.append(r)
    overall.pop("key", None)
    groups.sort(key=lambda r: (r["key"] is None, r["key"] or ""))
    return groups, overall


def _rated(rows: list[dict[str, Any]], extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """`groups` and `overall` of a total/overdue GROUPING SETS query, each with
    its rate (and the `extra` counts, with theirs as `<name>_rate`)."""
    groups, overall = _split(rows)
    for g in [*groups, overall]:
        g.setdefault("total", 0)
        g.setdefault("overdue", 0)
        g["rate"] = _rate(g["overdue"], g["total"])
        for name in extra:
            g.setdefault(name, 0)
            g[f"{name}_rate"] = _rate(g[name], g["total"])
    keys = ("total", "overdue", "rate", *extra, *(f"{n}_rate" for n in extra))
    return {"groups": groups, "overall": {k: overall[k] for k in keys}}


async def overdue_inspections(
    conn: AsyncConnection, *, equipment: Equipment, group_by: str, at: date, scope: Scoped
) -> dict[str, Any]:
    where, params = scope
    figures = {
        "overdue": sql.SQL(at_day.overdue(equipment, *at_day.stored(equipment))),
        "failed_in_use": sql.SQL(at_day.failed_in_use(equipment, at_day.stored(equipment)[1])),
    }
    if equipment == "elevator":
        key, joins = ELEVATOR_GROUPS[group_by], ""
        query = sql.SQL(_ELEVATOR_OVERDUE).format(key=sql.SQL(key), scope=where, **figures)
    else:
        key, joins = _CYLINDER_KEYS[group_by], _STATIONS
        per_key = "per.owner_station_id" if group_by == "station_id" else "st.district"
        query = sql.SQL(_CYLINDER_OVERDUE).format(key=sql.SQL(per_key), scope=where, **figures)
    async with conn.transaction():
        # The planner prices the due-date expression far below its real cost
        # and prefers a table scan; the covering index (0012) holds the value
        # and reads about half as much, so ask for it for this query only.
        await conn.execute("SET LOCAL enable_seqscan = off")
        await conn.execute("SET LOCAL enable_bitmapscan = off")
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(query, {**params, "at": at})
        rows = await cur.fetchall()
    differences = await at_day.recount(
        conn, kind=equipment, key=key, joins=joins, at=at, scope=scope
    )
    at_day.apply(rows, differences)
    return {
        "equipment": equipment,
        "group_by": group_by,
        "at": at,
        **_rated(rows, ("failed_in_use",)),
    }


_ILLEGAL = """
SELECT a.station_id, a.kind, count(*) AS n
  FROM alerts a
 WHERE a.kind = ANY(%(kinds)s) AND a.started_at >= %(from)s AND a.started_at < %(to)s AND ({scope})
 GROUP BY a.station_id, a.kind
"""


async def illegal_fillings(
    conn: AsyncConnection, *, since: datetime, until: datetime, scope: Scoped
) -> dict[str, Any]:
    """Illegal or unsafe fillings (the filling alert kinds) per station and kind."""
    where, params = scope
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        sql.SQL(_ILLEGAL).format(scope=where),
        {**params, "kinds": list(FILLING_KINDS), "from": since, "to": until},
    )
    stations: dict[str | None, dict[str, Any]] = {}
    by_kind: dict[str, int] = {}
    for r in await cur.fetchall():
        s = stations.setdefault(
            r["station_id"], {"station_id": r["station_id"], "total": 0, "by_kind": {}}
        )
        s["by_kind"][r["kind"]] = r["n"]
        s["total"] += r["n"]
        by_kind[r["kind"]] = by_kind.get(r["kind"], 0) + r["n"]
    ordered = sorted(stations.values(), key=lambda s: (-s["total"], s["station_id"] or ""))
    return {
        "from": since,
        "to": until,
        "stations": ordered,
        "by_kind": dict(sorted(by_kind.items())),
        "total": sum(by_kind.values()),
    }


# Times run from raised_at (the platform paged dispatch) to each step; steps
# not reached are NULL and left out of the percentiles. The 30-minute share
# counts every live alert (never reached counts as late); alerts found in a
# late backlog (live = false) were never paged and are left out of it.
_RESCUE = Figures(
    """count(*) AS count,
       count(*) FILTER (WHERE a.live) AS live,
       count(*) FILTER (WHERE a.live AND a.on_site_at <= a.raised_at + interval '30 minutes')
           AS on_site_30min,
       count(*) FILTER (WHERE a.resolution = 'false_alarm') AS false_alarms""",
    """FROM alerts a
 WHERE a.kind = 'trapped_passenger' AND a.started_at >= %(from)s AND a.started_at < %(to)s
   AND ({scope})""",
    RESCUE_GROUPS,
    {
        leg: seconds_between("a.raised_at", f"a.{end}")
        for leg, end in (
            ("ack", "acknowledged_at"),
            ("on_site", "on_site_at"),
            ("resolved", "resolved_at"),
        )
    },
)


def _rescue_figures(r: dict[str, Any]) -> dict[str, Any]:
    live, count = r.pop("live"), r["count"]
    r["on_site_within_30min_share"] = round(r.pop("on_site_30min") / live, 6) if live else None
    r["false_alarm_share"] = round(r.pop("false_alarms") / count, 6) if count else None
    leg_figures(r, tuple(_RESCUE.legs), r)
    return r


async def rescue(
    conn: AsyncConnection,
    *,
    group_by: str,
    since: datetime,
    until: datetime,
    scope: sql.Composable,
    params: dict[str, Any],
) -> dict[str, Any]:
    rows = await _RESCUE.run(conn, group_by, scope, {**params, "from": since, "to": until})
    groups, overall = _split(rows)
    if not overall:  # no alerts at all: GROUPING SETS still yields the () row, but be safe
        overall = {"count": 0, "live": 0, "on_site_30min": 0, "false_alarms": 0}
    return {
        "group_by": group_by,
        "from": since,
        "to": until,
        "groups": [_rescue_figures(g) for g in groups],
        "overall": _rescue_figures(overall),
    }


# One definition with the alerts sweep: semon/store/maintenance_due.py.
_MAINT_OVERDUE = f"""
SELECT {{key}} AS key, GROUPING({{key}}) AS overall, count(*) AS total,
       count(*) FILTER (WHERE {due.OVERDUE}) AS overdue
  FROM elevators e
  {due.JOINS}
 WHERE {due.IN_SERVICE} AND ({{scope}})
 GROUP BY GROUPING SETS (({{key}}), ())
"""


async def maintenance_overdue(
    conn: AsyncConnection, *, group_by: str, at: date, default_days: int, scope: Scoped
) -> dict[str, Any]:
    where, params = scope
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        sql.SQL(_MAINT_OVERDUE).format(key=sql.SQL(MAINTENANCE_GROUPS[group_by]), scope=where),
        {**params, "at": at, "default_days": default_days},
    )
    return {"group_by": group_by, "at": at, **_rated(await cur.fetchall())}


_IN_SCOPE = "SELECT e.elevator_id FROM elevators e WHERE e.elevator_id = ANY(%(ids)s) AND ({scope})"
_INSERT_RECORDS = """
INSERT INTO maintenance_records (elevator_id, done_on, kind, firm_id)
SELECT * FROM unnest(%(ids)s::text[], %(dates)s::date[], %(kinds)s::text[], %(firms)s::text[])
ON CONFLICT (elevator_id, done_on, kind) DO NOTHING
"""


async def elevators_in_scope(
    conn: AsyncConnection, ids: list[str], *, scope: sql.Composable, params: dict[str, Any]
) -> set[str]:
    cur = await conn.execute(sql.SQL(_IN_SCOPE).format(scope=scope), {**params, "ids": ids})
    return {r[0] for r in await cur.fetchall()}


async def add_maintenance_records(
    conn: AsyncConnection, records: list[tuple[str, date, str, str]]
) -> int:
    """Insert (elevator_id, done_on, kind, firm_id) rows; a repeat is a no-op.
    Returns how many were new."""
    cur = await conn.execute(
        _INSERT_RECORDS,
        {
            "ids": [r[0] for r in records],
            "dates": [r[1] for r in records],
            "kinds": [r[2] for r in records],
            "firms": [r[3] for r in records],
        },
    )
    return cur.rowcount
