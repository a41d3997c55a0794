"""Alert reads for the API: lists, an equipment's alerts, the event feed.

Each takes a scope predicate on `alerts a` (named parameters), so what a
principal may not see is never read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

Row = dict[str, Any]

ALERT_COLUMNS = """
a.alert_id, a.kind, a.severity, a.state, a.equipment_type, a.equipment_id, a.district,
a.firm_id, a.use_unit, a.station_id, a.started_at, a.ended_at, a.raised_at, a.updated_at,
a.acknowledged_at, a.dispatched_at, a.on_site_at, a.resolved_at, a.resolution, a.live,
a.summary, a.summary_key, a.summary_args, a.details, a.location
"""

_LIST = """
SELECT {columns} FROM alerts a
WHERE ({scope}) AND ({filters})
ORDER BY a.updated_at DESC, a.alert_id DESC
LIMIT %(limit)s
"""


async def list_alerts(
    conn: AsyncConnection,
    scope: sql.Composable,
    params: dict[str, Any],
    *,
    state: str | None,
    kind: str | None,
    since: datetime | None,
    equipment_id: str | None,
    before: tuple[datetime, str] | None,
    limit: int,
) -> list[Row]:
    """Newest change first; `before` is the (updated_at, alert_id) of the
    previous page's last row."""
    filters: list[sql.Composable] = [sql.SQL("TRUE")]
    args: dict[str, Any] = {**params, "limit": limit}
    if state is not None:
        filters.append(sql.SQL("a.state = %(f_state)s"))
        args["f_state"] = state
    if kind is not None:
        filters.append(sql.SQL("a.kind = %(f_kind)s"))
        args["f_kind"] = kind
    if since is not None:
        filters.append(sql.SQL("a.updated_at >= %(f_since)s"))
        args["f_since"] = since
    if equipment_id is not None:
        filters.append(sql.SQL("a.equipment_id = %(f_equipment)s"))
        args["f_equipment"] = equipment_id
    if before is not None:
        filters.append(sql.SQL("(a.updated_at, a.alert_id) < (%(c_ts)s, %(c_id)s)"))
        args["c_ts"], args["c_id"] = before
    query = sql.SQL(_LIST).format(
        columns=sql.SQL(ALERT_COLUMNS), scope=scope, filters=sql.SQL(" AND ").join(filters)
    )
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, args)
        return await cur.fetchall()


_FOR_EQUIPMENT = """
SELECT {columns} FROM alerts a
WHERE a.equipment_type = %(etype)s AND a.equipment_id = %(eid)s AND ({scope}) AND ({window})
ORDER BY a.started_at, a.alert_id
LIMIT %(limit)s
"""


async def alerts_for_equipment(
    conn: AsyncConnection,
    equipment_type: str,
    equipment_id: str,
    scope: sql.Composable,
    params: dict[str, Any],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    open_only: bool = False,
    limit: int = 1000,
) -> list[Row]:
    """Alerts of one piece of equipment, oldest first; with a window, those
    that overlap it."""
    window: list[sql.Composable] = [sql.SQL("TRUE")]
    args: dict[str, Any] = {**params, "etype": equipment_type, "eid": equipment_id, "limit": limit}
    if end is not None:
        window.append(sql.SQL("a.started_at < %(w_end)s"))
        args["w_end"] = end
    if start is not None:
        window.append(
            sql.SQL("(a.state <> 'resolved' OR COALESCE(a.ended_at, a.resolved_at) >= %(w_start)s)")
        )
        args["w_start"] = start
    if open_only:
        window.append(sql.SQL("a.state <> 'resolved'"))
    query = sql.SQL(_FOR_EQUIPMENT).format(
        columns=sql.SQL(ALERT_COLUMNS), scope=scope, window=sql.SQL(" AND ").join(window)
    )
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, args)
        return await cur.fetchall()


_IN_SCOPE = "SELECT a.alert_id FROM alerts a WHERE a.alert_id = %(alert_id)s AND ({scope})"


async def alert_in_scope(
    conn: AsyncConnection, alert_id: str, scope: sql.Composable, params: dict[str, Any]
) -> bool:
    query = sql.SQL(_IN_SCOPE).format(scope=scope)
    cur = await conn.execute(query, {**params, "alert_id": alert_id})
    return await cur.fetchone() is not None


# The stream's rows as the text it sends: the message with its event id and
# action (the message's own win), serialised by the server, so the API
# neither parses nor re-encodes the JSON of every event of a replay; with the
# summary's key and arguments for a reader in another language than the
# platform's (the stored message speaks the platform's).
_FEED_TEXT = """
SELECT e.event_id, e.action, (jsonb_build_object('event_id', e.event_id, 'action', e.action)
                               || e.message)::text AS data,
       a.summary_key, a.summary_args
FROM alert_events e
JOIN alerts a ON a.alert_id = e.alert_id
WHERE e.event_id > %(after)s AND ({scope})
ORDER BY e.event_id
LIMIT %(limit)s
"""


class FeedRow(NamedTuple):
    event_id: int
    action: str
    data: str  # the message as JSON text, with event_id and action
    summary_key: str | None
    summary_args: dict[str, Any] | None


async def event_texts_after(
    conn: AsyncConnection, after: int, scope: sql.Composable, params: dict[str, Any], limit: int
) -> list[FeedRow]:
    """The alert_events in scope with ids above `after`, in id order, as text."""
    cur = await conn.execute(
        sql.SQL(_FEED_TEXT).format(scope=scope), {**params, "after": after, "limit": limit}
    )
    return [FeedRow(int(r[0]), str(r[1]), str(r[2]), r[3], r[4]) for r in await cur.fetchall()]


_LAST_EVENT = "SELECT COALESCE(max(event_id), 0) FROM alert_events"


async def last_event_id(conn: AsyncConnection) -> int:
    cur = await conn.execute(_LAST_EVENT)
    row = await cur.fetchone()
    return int(row[0]) if row else 0
