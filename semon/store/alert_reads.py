"""Alert reads for the API: lists, an equipment's alerts, the event feed.

Each takes a scope predicate on `alerts a` (named parameters), so what a
principal may not see is never read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, LiteralString, NamedTuple

from psycopg import AsyncConnection, sql

from semon.store.rows import Filters, Row, fetch_all

ALERT_COLUMNS = """
a.alert_id, a.kind, a.severity, a.state, a.equipment_type, a.equipment_id, a.district,
a.firm_id, a.use_unit, a.station_id, a.started_at, a.ended_at, a.raised_at, a.updated_at,
a.acknowledged_at, a.dispatched_at, a.on_site_at, a.resolved_at, a.resolution, a.live,
a.summary, a.summary_key, a.summary_args, a.details, a.location
"""

# Alerts in scope that pass the filters, in `order`, a page at a time.
_PAGE = """
SELECT {columns} FROM alerts a
WHERE ({scope}) AND ({filters})
ORDER BY {order}
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
    filters = Filters({**params, "limit": limit})
    filters.add("a.state = %(f_state)s", f_state=state)
    filters.add("a.kind = %(f_kind)s", f_kind=kind)
    filters.add("a.updated_at >= %(f_since)s", f_since=since)
    filters.add("a.equipment_id = %(f_equipment)s", f_equipment=equipment_id)
    if before is not None:
        c_ts, c_id = before
        filters.add("(a.updated_at, a.alert_id) < (%(c_ts)s, %(c_id)s)", c_ts=c_ts, c_id=c_id)
    return await _page(conn, scope, filters, "a.updated_at DESC, a.alert_id DESC")


async def alerts_for_equipment(
    conn: AsyncConnection,
    equipment_type: str,
    equipment_id: str,
    scope: sql.Composable,
    params: dict[str, Any],
    *,
    open_only: bool = False,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 1000,
) -> list[Row]:
    """Alerts of one piece of equipment, oldest first: the open ones, or with
    a window those that overlap it."""
    filters = Filters({**params, "limit": limit})
    filters.add(
        "a.equipment_type = %(etype)s AND a.equipment_id = %(eid)s",
        etype=equipment_type,
        eid=equipment_id,
    )
    filters.add("a.started_at < %(w_end)s", w_end=end)
    filters.add(
        "(a.state <> 'resolved' OR COALESCE(a.ended_at, a.resolved_at) >= %(w_start)s)",
        w_start=start,
    )
    if open_only:
        filters.add("a.state <> 'resolved'")
    return await _page(conn, scope, filters, "a.started_at, a.alert_id")


async def _page(
    conn: AsyncConnection, scope: sql.Composable, filters: Filters, order: LiteralString
) -> list[Row]:
    query = sql.SQL(_PAGE).format(
        columns=sql.SQL(ALERT_COLUMNS), scope=scope, filters=filters.where(), order=sql.SQL(order)
    )
    return await fetch_all(conn, query, filters.args)


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
