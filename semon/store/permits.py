"""Fill permits in the database: what a permit is judged on (the station and
the cylinder's registry row, in one round trip), the answers kept in
batches, and the last answer a station got for a cylinder before a fill."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

Row = dict[str, Any]

# One round trip: the station's existence and the cylinder's row (or NULLs),
# with the inspection base date exactly as the alerts service reads it
# (alerts/registry.py; migration 0040).
_LOOKUP = """
SELECT s.station_id AS known_station, c.*,
       semon_inspection_base(c.last_inspected_on, c.inspection_passed_on,
                             c.inspection_failed_on, c.manufactured_on) AS inspection_base_on
FROM (SELECT 1) one
LEFT JOIN stations s ON s.station_id = %(station_id)s
LEFT JOIN cylinders c ON c.cylinder_id = %(cylinder_id)s
"""


@dataclass(frozen=True, slots=True)
class PermitFacts:
    station_known: bool
    cylinder: Row | None  # the registry row; None: unregistered


async def permit_facts(conn: AsyncConnection, station_id: str, cylinder_id: str) -> PermitFacts:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_LOOKUP, {"station_id": station_id, "cylinder_id": cylinder_id})
        row = await cur.fetchone()
    assert row is not None
    known = row.pop("known_station") is not None
    return PermitFacts(known, row if row["cylinder_id"] is not None else None)


@dataclass(frozen=True, slots=True)
class PermitAnswer:
    permit_id: str
    station_id: str
    cylinder_id: str
    gas: str
    allow: bool | None
    reasons: tuple[str, ...]
    asked_at: datetime
    asked_by: str | None


# One statement per batch, the columns as arrays; reasons travel comma-joined
# (unnest would flatten a 2-D array; kind names hold no comma).
_INSERT = """
INSERT INTO fill_permits
    (permit_id, station_id, cylinder_id, gas, allow, reasons, asked_at, asked_by)
SELECT permit_id, station_id, cylinder_id, gas, allow,
       CASE WHEN reasons = '' THEN '{}'::text[] ELSE string_to_array(reasons, ',') END,
       asked_at, asked_by
FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::boolean[], %s::text[],
            %s::timestamptz[], %s::text[])
     AS u(permit_id, station_id, cylinder_id, gas, allow, reasons, asked_at, asked_by)
ON CONFLICT (permit_id) DO NOTHING
"""


async def insert_permits(conn: AsyncConnection, answers: list[PermitAnswer]) -> None:
    """Keep a batch of answers; the caller commits."""
    rows = [
        (
            a.permit_id,
            a.station_id,
            a.cylinder_id,
            a.gas,
            a.allow,
            ",".join(a.reasons),
            a.asked_at,
            a.asked_by,
        )
        for a in answers
    ]
    await conn.execute(_INSERT, [list(col) for col in zip(*rows, strict=True)])


# The latest answer the station got for the cylinder inside the window: a
# deny followed by an allow (the registry was put right) is no deny.
_LAST_ANSWER = """
SELECT permit_id, allow, reasons, asked_at FROM fill_permits
WHERE cylinder_id = %(cylinder_id)s AND station_id = %(station_id)s
  AND asked_at >= %(since)s AND asked_at <= %(until)s AND allow IS NOT NULL
ORDER BY asked_at DESC LIMIT 1
"""


async def last_answer(
    conn: AsyncConnection, station_id: str, cylinder_id: str, since: datetime, until: datetime
) -> Row | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            _LAST_ANSWER,
            {"station_id": station_id, "cylinder_id": cylinder_id, "since": since, "until": until},
        )
        return await cur.fetchone()
