"""Reads for one elevator's file: registry record, latest status, history.

Every entry point takes the caller's scope predicate (a WHERE fragment on
`elevators e` with named parameters), so an elevator out of scope is not
found, exactly like a missing one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, sql

from semon.store.equipment_record import fetch_record
from semon.store.rows import Row, fetch_all, fetch_one


async def fetch_elevator(
    conn: AsyncConnection, elevator_id: str, scope: sql.Composable, params: dict[str, Any]
) -> Row | None:
    return await fetch_record(conn, "elevator", elevator_id, scope, params)


# Newest sample by the (elevator_id, ts) primary key: a backward index scan
# per partition, never a scan of the history.
_LATEST = """
SELECT ts, 1 AS samples, floor, speed, speed AS speed_max, direction, door, door_zone,
       occupied, load_kg, mode, alarm, power, trips, door_cycles, run_s
FROM elevator_status WHERE elevator_id = %s ORDER BY ts DESC LIMIT 1
"""


async def fetch_latest_status(conn: AsyncConnection, elevator_id: str) -> Row | None:
    return await fetch_one(conn, _LATEST, (elevator_id,))


_RAW = """
SELECT ts, 1 AS samples, floor, speed, speed AS speed_max, direction, door, door_zone,
       occupied, load_kg, mode, alarm, power, trips, door_cycles, run_s
FROM elevator_status
WHERE elevator_id = %(id)s AND ts >= %(from)s AND ts < %(to)s
ORDER BY ts LIMIT %(limit)s
"""

# One row per date_bin bucket: the bucket's last state, mean and max speed.
_BINNED = """
SELECT date_bin(make_interval(secs => %(step)s), ts, %(from)s) AS ts,
       count(*)::int AS samples,
       (array_agg(floor ORDER BY ts DESC))[1] AS floor,
       avg(speed)::float8 AS speed,
       max(speed)::float8 AS speed_max,
       (array_agg(direction ORDER BY ts DESC))[1] AS direction,
       (array_agg(door ORDER BY ts DESC))[1] AS door,
       (array_agg(door_zone ORDER BY ts DESC))[1] AS door_zone,
       (array_agg(occupied ORDER BY ts DESC))[1] AS occupied,
       max(load_kg)::float8 AS load_kg,
       (array_agg(mode ORDER BY ts DESC))[1] AS mode,
       bool_or(alarm) AS alarm,
       (array_agg(power ORDER BY ts DESC))[1] AS power,
       max(trips) AS trips, max(door_cycles) AS door_cycles, max(run_s) AS run_s
FROM elevator_status
WHERE elevator_id = %(id)s AND ts >= %(from)s AND ts < %(to)s
GROUP BY 1 ORDER BY 1 LIMIT %(limit)s
"""


async def fetch_samples(
    conn: AsyncConnection,
    elevator_id: str,
    start: datetime,
    end: datetime,
    *,
    step_s: int | None,
    limit: int,
) -> list[Row]:
    """Raw samples (step_s None) or date_bin buckets of step_s seconds."""
    params = {"id": elevator_id, "from": start, "to": end, "limit": limit, "step": step_s}
    return await fetch_all(conn, _RAW if step_s is None else _BINNED, params)


_EVENTS = """
SELECT ts, code, gov_code, detail, data FROM elevator_events
WHERE elevator_id = %s AND ts >= %s AND ts < %s ORDER BY ts, code LIMIT %s
"""


async def fetch_events(
    conn: AsyncConnection, elevator_id: str, start: datetime, end: datetime, limit: int
) -> list[Row]:
    return await fetch_all(conn, _EVENTS, (elevator_id, start, end, limit))
