"""Reads for a cylinder's trace: record, inspections, fillings (paged)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, sql

from semon.store.equipment_record import fetch_record
from semon.store.rows import Row, fetch_all, fetch_one


async def fetch_cylinder(
    conn: AsyncConnection, cylinder_id: str, scope: sql.Composable, params: dict[str, Any]
) -> Row | None:
    return await fetch_record(conn, "cylinder", cylinder_id, scope, params)


_INSPECTIONS = """
SELECT inspected_on, result, inspector, recorded_at FROM inspections
WHERE equipment_type = %s AND equipment_id = %s ORDER BY inspected_on LIMIT 1000
"""


async def fetch_inspections(
    conn: AsyncConnection, equipment_type: str, equipment_id: str
) -> list[Row]:
    return await fetch_all(conn, _INSPECTIONS, (equipment_type, equipment_id))


# Oldest first; the page after a cursor is (ended_at, filling_id) > the cursor,
# read from the (cylinder_id, ended_at) index.
_FILLINGS = """
SELECT f.filling_id, f.station_id, s.name AS station_name, s.district AS station_district,
       f.cylinder_id, f.gas, f.operator_id, f.started_at, f.ended_at, f.result, f.net_kg,
       f.tare_kg, f.pressure_mpa, f.temperature_c, f.precheck, f.postcheck
FROM fillings f LEFT JOIN stations s ON s.station_id = f.station_id
WHERE f.cylinder_id = %(cylinder_id)s
  AND (%(after_ts)s::timestamptz IS NULL
       OR (f.ended_at, f.filling_id) > (%(after_ts)s, %(after_id)s))
ORDER BY f.ended_at, f.filling_id
LIMIT %(limit)s
"""


async def fetch_fillings(
    conn: AsyncConnection, cylinder_id: str, after: tuple[datetime, str] | None, limit: int
) -> list[Row]:
    params = {
        "cylinder_id": cylinder_id,
        "after_ts": after[0] if after else None,
        "after_id": after[1] if after else "",
        "limit": limit,
    }
    return await fetch_all(conn, _FILLINGS, params)


# Deliveries of the cylinder with ts in (after, until], oldest first, from
# delivery_items' (cylinder_id, ts) key.
_DELIVERIES = """
SELECT d.delivery_id, d.station_id, s.name AS station_name, d.ts, d.direction,
       d.customer, d.address, d.district
FROM delivery_items i
JOIN deliveries d ON d.delivery_id = i.delivery_id
LEFT JOIN stations s ON s.station_id = d.station_id
WHERE i.cylinder_id = %(cylinder_id)s
  AND (%(after)s::timestamptz IS NULL OR i.ts > %(after)s)
  AND (%(until)s::timestamptz IS NULL OR i.ts <= %(until)s)
ORDER BY i.ts, i.delivery_id
LIMIT %(limit)s
"""


async def fetch_deliveries(
    conn: AsyncConnection,
    cylinder_id: str,
    after: datetime | None,
    until: datetime | None,
    limit: int,
) -> list[Row]:
    params = {"cylinder_id": cylinder_id, "after": after, "until": until, "limit": limit}
    return await fetch_all(conn, _DELIVERIES, params)


_LAST_FILLING = """
SELECT station_id, ended_at FROM fillings
WHERE cylinder_id = %s AND result = 'filled'
ORDER BY ended_at DESC LIMIT 1
"""
_LAST_DELIVERY = """
SELECT d.delivery_id, d.station_id, d.ts, d.direction, d.customer, d.address, d.district
FROM delivery_items i JOIN deliveries d ON d.delivery_id = i.delivery_id
WHERE i.cylinder_id = %s
ORDER BY i.ts DESC, i.delivery_id DESC LIMIT 1
"""


async def fetch_last_moves(
    conn: AsyncConnection, cylinder_id: str
) -> tuple[Row | None, Row | None]:
    """The cylinder's last filling (filled) and last delivery, for where it is now."""
    filling = await fetch_one(conn, _LAST_FILLING, (cylinder_id,))
    return filling, await fetch_one(conn, _LAST_DELIVERY, (cylinder_id,))
