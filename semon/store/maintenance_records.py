"""Maintenance records and inspections: filing records, and each elevator's
file of them read page by page (newest first, keyset cursors).

A record is filed with the terminal's verdict on its window in the same
transaction (semon/store/verification.py), so a reader never sees a record
with a window that was not checked.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson
from psycopg import AsyncConnection
from psycopg.rows import dict_row

Row = dict[str, Any]

# One JSON document in, one set of rows out: a record's items and technicians
# are arrays themselves, which unnest() over parallel arrays cannot carry.
_INSERT = """
INSERT INTO maintenance_records (elevator_id, done_on, kind, firm_id, started_at, ended_at,
                                 items, technicians, signed_by, signed_at)
SELECT x.elevator_id, x.done_on, x.kind, x.firm_id, x.started_at, x.ended_at,
       coalesce(x.items, '{}'), coalesce(x.technicians, '[]'), x.signed_by, x.signed_at
  FROM jsonb_to_recordset(%(rows)s::jsonb) AS x(
       elevator_id text, done_on date, kind text, firm_id text, started_at timestamptz,
       ended_at timestamptz, items text[], technicians jsonb, signed_by text,
       signed_at timestamptz)
ON CONFLICT (elevator_id, done_on, kind) DO NOTHING
RETURNING record_id, elevator_id, done_on, kind
"""


async def file_records(conn: AsyncConnection, records: list[dict[str, Any]]) -> list[Row]:
    """Insert records (dicts of the columns above, JSON-able); a repeat of
    (elevator_id, done_on, kind) is a no-op. Returns the new records'
    record_id, elevator_id, done_on and kind."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_INSERT, {"rows": orjson.dumps(records).decode()})
        return await cur.fetchall()


_RECORDS_PAGE = """
SELECT record_id, elevator_id, done_on, kind, firm_id, started_at, ended_at, items,
       technicians, signed_by, signed_at, verification, verified_at,
       verification_evidence, recorded_at
  FROM maintenance_records
 WHERE elevator_id = %(id)s
   AND (%(after_d)s::date IS NULL OR (done_on, record_id) < (%(after_d)s, %(after_id)s))
 ORDER BY done_on DESC, record_id DESC
 LIMIT %(limit)s
"""

_INSPECTIONS_PAGE = """
SELECT inspection_id, equipment_type, equipment_id, inspected_on, result, inspector,
       recorded_at
  FROM inspections
 WHERE equipment_type = 'elevator' AND equipment_id = %(id)s
   AND (%(after_d)s::date IS NULL
        OR (inspected_on, inspection_id) < (%(after_d)s, %(after_id)s))
 ORDER BY inspected_on DESC, inspection_id DESC
 LIMIT %(limit)s
"""


async def records_page(
    conn: AsyncConnection, elevator_id: str, *, after: tuple[date, int] | None, limit: int
) -> list[Row]:
    """One page of an elevator's maintenance records, newest first, after
    the cursor (done_on, record_id)."""
    return await _page(conn, _RECORDS_PAGE, elevator_id, after, limit)


async def inspections_page(
    conn: AsyncConnection, elevator_id: str, *, after: tuple[date, int] | None, limit: int
) -> list[Row]:
    """One page of an elevator's inspections, newest first."""
    return await _page(conn, _INSPECTIONS_PAGE, elevator_id, after, limit)


async def _page(
    conn: AsyncConnection, query: str, eid: str, after: tuple[date, int] | None, limit: int
) -> list[Row]:
    params = {
        "id": eid,
        "after_d": after[0] if after else None,
        "after_id": after[1] if after else None,
        "limit": limit,
    }
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()
