"""Opening a rescue for a trapped-passenger alert, inside the alert's own
transaction (store/alerts.py raise_alert calls it), and the rescue events of
the shared feed (``alert_events`` rows whose action is ``rescue``).

Kept apart from store/rescues.py, which uses the alert store: this module
needs nothing of it, so the alert store can call it with no import cycle.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from semon.domain.rescue import new_rescue_id
from semon.store.event_feed import ALERT_EVENTS_CHANNEL, ALERT_EVENTS_LOCK, RESCUE_EVENT

# The rescue event: never published to MQTT (published_at set at once), only
# streamed; numbered under the same lock as alert events.
_INSERT_RESCUE_EVENT = f"""
WITH locked AS (SELECT pg_advisory_xact_lock({ALERT_EVENTS_LOCK}))
, ev AS (
    INSERT INTO alert_events (alert_id, state, action, at, by, note, message, published_at)
    SELECT %s::text, %s::text, '{RESCUE_EVENT}', %s::timestamptz, %s::text, %s::text, %s::jsonb,
        %s::timestamptz
    FROM locked
    RETURNING event_id
)
SELECT event_id, pg_notify('{ALERT_EVENTS_CHANNEL}', event_id::text) FROM ev
"""

_OPEN = """
INSERT INTO rescues (rescue_id, elevator_id, alert_id, source, state, tier, district, firm_id,
    use_unit, location, opened_at, updated_at, due_kind, due_ref, due_from)
SELECT %(rescue_id)s, a.equipment_id, a.alert_id, %(source)s, 'open', 1, a.district, a.firm_id,
    a.use_unit, a.location, a.raised_at, a.raised_at, 'dispatch', 1, a.raised_at
FROM alerts a WHERE a.alert_id = %(alert_id)s
ON CONFLICT (alert_id) DO NOTHING
RETURNING *
"""


def _jsonable(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value, default=str))


async def rescue_event(
    conn: AsyncConnection,
    rescue: dict[str, Any],
    action: str,
    *,
    at: datetime,
    by: str | None = None,
    note: str | None = None,
) -> int:
    """Append a rescue change to the feed; ``rescue`` is the rescue as read
    (``RescueOut`` fields). Returns the event id."""
    message = _jsonable({**rescue, "event": action})
    cur = await conn.execute(
        _INSERT_RESCUE_EVENT,
        (rescue["alert_id"], rescue["state"], at, by, note, Jsonb(message), at),
    )
    got = await cur.fetchone()
    assert got is not None
    return int(got[0])


# Bookkeeping columns that are not part of the rescue as read.
_NOT_SHOWN = frozenset(
    {
        "cause_by",
        "escalation_count",
        "open_to_dispatch_s",
        "dispatch_to_on_site_s",
        "on_site_to_freed_s",
    }
)


def bare_rescue(row: dict[str, Any]) -> dict[str, Any]:
    """A just-opened rescue as read: the row, no assignments, calls or escalations."""
    out = {k: v for k, v in row.items() if not k.startswith("due_") and k not in _NOT_SHOWN}
    out.update(assignments=[], calls=[], escalations=[])
    return out


async def open_for_alert(
    conn: AsyncConnection, alert_id: str, *, source: str = "terminal", by: str | None = None
) -> dict[str, Any] | None:
    """Open the rescue of a trapped-passenger alert just stored (caller's
    transaction). None when the alert has one already."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            _OPEN, {"rescue_id": new_rescue_id(), "source": source, "alert_id": alert_id}
        )
        row = await cur.fetchone()
    if row is None:
        return None
    rescue = bare_rescue(row)
    await rescue_event(conn, rescue, "open", at=row["opened_at"], by=by)
    return rescue


_STOP_CLOCK = """
UPDATE rescues SET due_kind = NULL, due_ref = NULL, due_from = NULL, updated_at = %s
WHERE alert_id = %s AND state = 'open' AND due_kind IS NOT NULL
RETURNING *
"""


async def alert_resolved(
    conn: AsyncConnection, alert_id: str, *, at: datetime, by: str | None = None
) -> None:
    """The alert of a rescue nobody was dispatched to was resolved (the
    passenger got out, or a false alarm): the dispatch clock stops. The rescue
    stays for the centre's call-back and close."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_STOP_CLOCK, (at, alert_id))
        row = await cur.fetchone()
    if row is not None:
        await rescue_event(conn, bare_rescue(row), "alert_resolved", at=at, by=by)
