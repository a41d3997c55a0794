"""The map of a district's lifts as GeoJSON, built whole in the database
(one text value; 200,000 features never become Python objects)."""

from __future__ import annotations

from datetime import date
from typing import Any

from psycopg import AsyncConnection, sql

# Lifts in service with a position. Overdue and failed-in-use are the one
# definition of migration 0040; alert kinds are those of open alerts.
_MAP = """
WITH open_alerts AS (
    SELECT equipment_id, array_agg(DISTINCT kind ORDER BY kind) AS kinds
      FROM alerts WHERE state <> 'resolved' AND equipment_type = 'elevator'
     GROUP BY equipment_id
), lifts AS (
    SELECT e.elevator_id, e.lon, e.lat, e.address, e.district, e.use_unit, e.firm_id,
           semon_elevator_due(e.last_inspected_on, e.inspection_passed_on, e.inspection_failed_on,
                              e.installed_on, e.inspection_interval_months) AS due_on,
           semon_failed_in_use(e.inspection_failed_on, e.last_inspected_on) AS failed_in_use,
           coalesce(e.insured_until >= %(today)s, false) AS insured,
           s.grade, coalesce(a.kinds, '{{}}'::text[]) AS kinds
      FROM elevators e
      LEFT JOIN elevator_scores s ON s.elevator_id = e.elevator_id
      LEFT JOIN open_alerts a ON a.equipment_id = e.elevator_id
     WHERE e.status = 'in_service' AND e.lat IS NOT NULL AND e.lon IS NOT NULL AND ({scope})
)
SELECT json_build_object(
    'type', 'FeatureCollection',
    'features', coalesce(json_agg(json_build_object(
        'type', 'Feature',
        'id', l.elevator_id,
        'geometry', json_build_object('type', 'Point',
                                      'coordinates', json_build_array(l.lon, l.lat)),
        'properties', json_build_object(
            'elevator_id', l.elevator_id, 'address', l.address, 'district', l.district,
            'use_unit', l.use_unit, 'firm_id', l.firm_id,
            'inspection_overdue', l.due_on < %(today)s, 'inspection_due_on', l.due_on,
            'failed_in_use', l.failed_in_use, 'insured', l.insured,
            'grade', l.grade, 'alert_kinds', l.kinds)
    ) ORDER BY l.elevator_id), '[]'::json))::text
  FROM lifts l
 WHERE (%(kind)s::text IS NULL OR %(kind)s = ANY(l.kinds))
   AND (%(overdue)s::boolean IS NULL OR (l.due_on < %(today)s) = %(overdue)s)
"""


async def elevators_geojson(
    conn: AsyncConnection,
    *,
    today: date,
    alert_kind: str | None,
    overdue: bool | None,
    scope: sql.Composable,
    params: dict[str, Any],
) -> str:
    query = sql.SQL(_MAP).format(scope=scope)
    cur = await conn.execute(
        query, {**params, "today": today, "kind": alert_kind, "overdue": overdue}
    )
    row = await cur.fetchone()
    assert row is not None
    return str(row[0])
