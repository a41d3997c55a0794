"""An elevator's or a cylinder's registry record as its file shows it: the
record, its firm or owning station (as JSON), and its inspection state
(migration 0040: base date, due date, failed in use), read in the caller's
scope (a WHERE fragment on `elevators e` or `cylinders c`)."""

from __future__ import annotations

from typing import Any, Literal

from psycopg import AsyncConnection, sql

from semon.store.rows import Row, fetch_one

_RECORD = """
SELECT {record}, i.base_on AS inspection_base_on, i.due_on AS inspection_due_on, i.failed_in_use
FROM {tables}
JOIN inspection_state i ON i.equipment_type = {equipment_type} AND i.equipment_id = {id_column}
WHERE {id_column} = %(equipment_id)s AND ({scope})
"""
# Per type: the record's columns, its tables, its id column.
_OF = {
    "elevator": (
        "e.*, to_jsonb(f) - 'updated_at' AS firm",
        "elevators e LEFT JOIN firms f ON f.firm_id = e.firm_id",
        "e.elevator_id",
    ),
    "cylinder": (
        "c.*, to_jsonb(s) - 'updated_at' AS owner_station",
        "cylinders c LEFT JOIN stations s ON s.station_id = c.owner_station_id",
        "c.cylinder_id",
    ),
}


async def fetch_record(
    conn: AsyncConnection,
    equipment_type: Literal["elevator", "cylinder"],
    equipment_id: str,
    scope: sql.Composable,
    params: dict[str, Any],
) -> Row | None:
    """The record, None when there is none in scope."""
    record, tables, id_column = _OF[equipment_type]
    query = sql.SQL(_RECORD).format(
        record=sql.SQL(record),
        tables=sql.SQL(tables),
        equipment_type=sql.Literal(equipment_type),
        id_column=sql.SQL(id_column),
        scope=scope,
    )
    return await fetch_one(conn, query, {**params, "equipment_id": equipment_id})
