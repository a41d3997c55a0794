"""Alert lifecycle writes, shared by the alerts process and the API: raise,
record an episode already over, resolve, a console's action, escalation.

Every change is one UPDATE/INSERT on ``alerts`` plus one ``alert_events`` row
(the message as published; ``event_id`` is the SSE id), written under
``ALERT_EVENTS_LOCK`` and notified on ``ALERT_EVENTS_CHANNEL`` (README,
"Alerts: rules on device time").
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from semon.domain.alerts import (
    ACTION_TARGET,
    SEVERITY,
    Action,
    ActionBody,
    AlertDraft,
    AlertMessage,
    draft_message,
    late_alert_id,
    message_from_row,
    message_json,
    new_alert_id,
    summary_text,
    transition_allowed,
)
from semon.store.event_feed import ALERT_EVENTS_CHANNEL, ALERT_EVENTS_LOCK
from semon.store.rescue_open import alert_resolved, open_for_alert
from semon.store.rows import Row, fetch_one

if TYPE_CHECKING:
    from semon.i18n import Reader


class AlertNotFound(LookupError):
    """No alert with that id (the API answers 404)."""


class IllegalTransition(ValueError):
    """The action is not legal from the alert's state (the API answers 409)."""

    def __init__(self, alert_id: str, state: str, action: str, why: str = "") -> None:
        self.alert_id, self.state, self.action = alert_id, state, action
        super().__init__(why or f"alert {alert_id} is {state}: {action!r} is not allowed")


_SELECT = "SELECT * FROM alerts WHERE alert_id = %s"
# The event row, its lock and its NOTIFY in one statement: a page's store time
# under load is its round trips, each waiting for a busy server's turn.
# pg_advisory_xact_lock runs before the row (and so its event_id) is made.
_INSERT_EVENT = f"""
WITH locked AS (SELECT pg_advisory_xact_lock({ALERT_EVENTS_LOCK}))
, ev AS (
    INSERT INTO alert_events
        (alert_id, state, action, at, by, note, message, published_at, publisher)
    SELECT %s::text, %s::text, %s::text, %s::timestamptz, %s::text, %s::text, %s::jsonb,
        %s::timestamptz, %s::text
    FROM locked
    RETURNING event_id
)
SELECT event_id, pg_notify('{ALERT_EVENTS_CHANNEL}', event_id::text) FROM ev
"""


async def _row(conn: AsyncConnection, alert_id: str, *, lock: bool = False) -> Row | None:
    return await fetch_one(conn, _SELECT + (" FOR UPDATE" if lock else ""), (alert_id,))


async def _event(
    conn: AsyncConnection,
    row: Row,
    action: Action | Literal["record", "escalate"],
    *,
    at: datetime,
    by: str | None = None,
    note: str | None = None,
    published_at: datetime | None = None,
    publisher: str | None = None,
) -> tuple[AlertMessage, int]:
    msg = message_from_row(row)
    cur = await conn.execute(
        _INSERT_EVENT,
        (
            row["alert_id"],
            row["state"],
            action,
            at,
            by,
            note,
            Jsonb(message_json(msg, action)),
            published_at,
            publisher,
        ),
    )
    got = await cur.fetchone()
    assert got is not None
    return msg, int(got[0])


# The event writer, for rescue steps that page the alert (store/rescues.py,
# store/rescue_escalations.py).
write_event = _event

_INSERT_ALERT = """
INSERT INTO alerts (alert_id, condition_key, kind, severity, state, equipment_type, equipment_id,
    district, firm_id, use_unit, station_id, started_at, ended_at, raised_at, updated_at,
    resolved_at, resolution, live, summary, summary_key, summary_args, details, location, paged_at)
VALUES (%(alert_id)s, %(condition_key)s, %(kind)s, %(severity)s, %(state)s, %(equipment_type)s,
    %(equipment_id)s, %(district)s, %(firm_id)s, %(use_unit)s, %(station_id)s, %(started_at)s,
    %(ended_at)s, %(now)s, %(now)s, %(resolved_at)s, %(resolution)s, %(live)s, %(summary)s,
    %(summary_key)s, %(summary_args)s, %(details)s, %(location)s, %(paged_at)s)
ON CONFLICT DO NOTHING
RETURNING alert_id
"""
# A new alert with its event in one statement (one round trip): the common
# case of a page. ON CONFLICT (one open alert per condition, or an outbox
# replay of the same alert_id) inserts nothing and returns no row.
_RAISE_NEW = f"""
WITH ins AS ({_INSERT_ALERT})
, locked AS (SELECT pg_advisory_xact_lock({ALERT_EVENTS_LOCK}) FROM ins)
, ev AS (
    INSERT INTO alert_events (alert_id, state, action, at, by, message, published_at, publisher)
    SELECT ins.alert_id, 'open', 'raise', %(now)s::timestamptz, %(worker)s::text,
        %(message)s::jsonb, %(published_at)s::timestamptz, %(worker)s::text
    FROM ins, locked
    RETURNING event_id
)
SELECT event_id, pg_notify('{ALERT_EVENTS_CHANNEL}', event_id::text) FROM ev
"""
_OPEN_BY_KEY = "SELECT alert_id FROM alerts WHERE condition_key = %s AND state <> 'resolved'"
_UPDATE_DETAILS = """
UPDATE alerts SET details = details || %s WHERE alert_id = %s
"""


def _params(
    d: AlertDraft, alert_id: str, now: datetime, speaker: Reader | None, **over: Any
) -> dict[str, Any]:
    summary = d.summary.to_json()
    p: dict[str, Any] = {
        "alert_id": alert_id,
        "condition_key": d.condition_key,
        "kind": d.kind,
        "severity": d.severity or SEVERITY[d.kind],
        "state": "open",
        "equipment_type": d.equipment_type,
        "equipment_id": d.equipment_id,
        "district": d.district,
        "firm_id": d.firm_id,
        "use_unit": d.use_unit,
        "station_id": d.station_id,
        "started_at": d.started_at,
        "ended_at": d.ended_at,
        "now": now,
        "resolved_at": None,
        "resolution": None,
        "live": d.live,
        # The text in the platform's language; the key and arguments for readers.
        "summary": summary_text(d.summary, speaker),
        "summary_key": summary["key"],
        "summary_args": Jsonb(summary["args"]),
        "details": Jsonb(d.details),
        "location": Jsonb(d.location) if d.location is not None else None,
        "paged_at": now,
    }
    p.update(over)
    return p


async def raise_alert(
    conn: AsyncConnection,
    d: AlertDraft,
    *,
    now: datetime,
    published_at: datetime | None = None,
    worker: str | None = None,
    speaker: Reader | None = None,
) -> tuple[AlertMessage, int | None]:
    """Open the alert for ``d.condition_key``, or, when one is open already,
    merge the new evidence into its details (no new event: a repeat is not a
    state change). Returns the message and the new event id (None on repeat).
    ``worker``: the alerts worker raising it, recorded as the event's author
    and publisher. ``speaker``: the platform's reader, the language of the
    stored and published summary (default zh-CN)."""
    alert_id = d.alert_id or new_alert_id()
    # The message as the row will read: a new alert's row is the draft's.
    msg = draft_message(d, alert_id, now=now, speaker=speaker)
    async with conn.transaction():
        params = _params(d, alert_id, now, speaker)
        params.update(
            worker=worker,
            message=Jsonb(message_json(msg, "raise")),
            published_at=published_at,
        )
        cur = await conn.execute(_RAISE_NEW, params)
        got = await cur.fetchone()
        if got is not None:
            if d.kind == "trapped_passenger" and d.live:
                # Every live trap opens its rescue in the same transaction:
                # no crash can leave the alert without it.
                source = "call" if d.details.get("source") == "call" else "terminal"
                await open_for_alert(conn, alert_id, source=source, by=worker)
            return msg, int(got[0])
        cur = await conn.execute(_OPEN_BY_KEY, (d.condition_key,))
        got = await cur.fetchone()
        if got is None:  # the same alert_id already stored (an outbox replay)
            row = await _row(conn, alert_id)
            if row is None:
                raise RuntimeError(f"could not raise {d.condition_key}")
            return message_from_row(row), None
        await conn.execute(_UPDATE_DETAILS, (Jsonb(d.details), got[0]))
        row = await _row(conn, str(got[0]))
        assert row is not None
        return message_from_row(row), None


_SAME_EPISODE = """
SELECT * FROM alerts
WHERE condition_key = %(key)s AND alert_id <> %(alert_id)s AND started_at <= %(until)s
  AND coalesce(ended_at, resolved_at, 'infinity') >= %(since)s
ORDER BY started_at DESC LIMIT 1
"""


async def record_resolved(
    conn: AsyncConnection,
    d: AlertDraft,
    *,
    now: datetime,
    resolution: str,
    worker: str | None = None,
    speaker: Reader | None = None,
) -> tuple[AlertMessage, int | None]:
    """Store an episode that is already over (late backlog, debounced fault):
    resolved, ``live`` false, its event marked published so it is never paged.

    Idempotent on ``d.alert_id``, and nothing is stored when an alert of the
    same condition already covers part of the episode: a backlog re-judged
    after a restart finds episodes the previous process raised live and
    closed (or a dispatcher resolved), and those are the same episode.
    Returns None as the event id when nothing new was stored."""
    alert_id = d.alert_id or late_alert_id(d.condition_key, d.started_at)
    async with conn.transaction():
        same = await fetch_one(
            conn,
            _SAME_EPISODE,
            {
                "key": d.condition_key,
                "alert_id": alert_id,
                "since": d.started_at,
                "until": d.ended_at or d.started_at,
            },
        )
        if same is not None:
            return message_from_row(same), None
        cur = await conn.execute(
            _INSERT_ALERT,
            _params(
                d,
                alert_id,
                now,
                speaker,
                state="resolved",
                resolved_at=now,
                resolution=resolution,
                live=False,
                paged_at=None,
            ),
        )
        inserted = await cur.fetchone() is not None
        row = await _row(conn, alert_id)
        assert row is not None
        if not inserted:
            return message_from_row(row), None
        msg, event_id = await _event(
            conn, row, "record", at=now, by=worker, published_at=now, publisher=worker
        )
        return msg, event_id


# SET expressions read the row as it was: `state` is the state before resolving.
_RESOLVE = """
UPDATE alerts SET state = 'resolved', resolved_at = %(now)s, updated_at = %(now)s,
    resolution = CASE WHEN state = 'on_site' AND %(if_on_site)s::text IS NOT NULL
                      THEN %(if_on_site)s ELSE %(resolution)s END,
    ended_at = coalesce(%(ended_at)s, ended_at),
    details = details || %(details)s
WHERE condition_key = %(key)s AND state <> 'resolved'
RETURNING *
"""


async def resolve_condition(
    conn: AsyncConnection,
    condition_key: str,
    *,
    now: datetime,
    resolution: str,
    ended_at: datetime | None = None,
    details: dict[str, Any] | None = None,
    by: str = "semon-alerts",
    note: str | None = None,
    resolution_if_on_site: str | None = None,
    published_at: datetime | None = None,
    publisher: str | None = None,
) -> tuple[AlertMessage, int] | None:
    """Resolve the open alert of a condition that ended by itself; None if none is open."""
    async with conn.transaction():
        row = await fetch_one(
            conn,
            _RESOLVE,
            {
                "now": now,
                "resolution": resolution,
                "if_on_site": resolution_if_on_site,
                "ended_at": ended_at,
                "details": Jsonb(details or {}),
                "key": condition_key,
            },
        )
        if row is None:
            return None
        if row["kind"] == "trapped_passenger":
            await alert_resolved(conn, row["alert_id"], at=now, by=by)
        return await _event(
            conn,
            row,
            "resolve",
            at=now,
            by=by,
            note=note,
            published_at=published_at,
            publisher=publisher,
        )


_TRANSITION = {
    "acknowledged": "acknowledged_at",
    "dispatched": "dispatched_at",
    "on_site": "on_site_at",
    "resolved": "resolved_at",
}


async def apply_action(
    conn: AsyncConnection, alert_id: str, action: Action, body: ActionBody, *, now: datetime
) -> AlertMessage:
    """A console's state change (ack, dispatch, arrive, resolve).

    Raises AlertNotFound (404) or IllegalTransition (409: the state does not
    allow it, or `resolve` without a resolution). The new event row is left
    unpublished; the alerts process publishes it to MQTT.
    """
    async with conn.transaction():
        row = await _row(conn, alert_id, lock=True)
        if row is None:
            raise AlertNotFound(alert_id)
        if not transition_allowed(row["state"], action):
            raise IllegalTransition(alert_id, row["state"], action)
        if action == "resolve" and body.resolution is None:
            raise IllegalTransition(alert_id, row["state"], action, "resolve needs a resolution")
        target = ACTION_TARGET[action]
        column = _TRANSITION[target]
        await conn.execute(
            f"UPDATE alerts SET state = %s, {column} = %s, updated_at = %s,"
            " resolution = coalesce(%s, resolution) WHERE alert_id = %s",
            (target, now, now, body.resolution if action == "resolve" else None, alert_id),
        )
        row = await _row(conn, alert_id)
        assert row is not None
        if target == "resolved" and row["kind"] == "trapped_passenger":
            await alert_resolved(conn, alert_id, at=now, by=body.by)
        msg, _ = await _event(conn, row, action, at=now, by=body.by, note=body.note)
        return msg


# An alert with a rescue under way is paged again by the rescue's deadlines
# (alerts/rescue_deadlines.py), not here: one cause, one page.
_DUE_ESCALATIONS = """
SELECT alert_id FROM alerts a
WHERE state = 'open' AND severity = 'critical' AND live AND paged_at <= %s
  AND NOT EXISTS (SELECT FROM rescues r WHERE r.alert_id = a.alert_id
                     AND r.state IN ('open', 'dispatched', 'on_site'))
ORDER BY paged_at LIMIT 500
"""


async def due_escalations(conn: AsyncConnection, *, before: datetime) -> list[str]:
    cur = await conn.execute(_DUE_ESCALATIONS, (before,))
    return [str(r[0]) for r in await cur.fetchall()]


async def escalate(
    conn: AsyncConnection, alert_id: str, *, now: datetime, worker: str | None = None
) -> tuple[AlertMessage, int] | None:
    """Page an unacknowledged critical alert again (an 'escalate' event)."""
    async with conn.transaction():
        row = await _row(conn, alert_id, lock=True)
        if row is None or row["state"] != "open":
            return None
        await conn.execute(
            "UPDATE alerts SET escalations = escalations + 1, paged_at = %s WHERE alert_id = %s",
            (now, alert_id),
        )
        row = await _row(conn, alert_id)
        assert row is not None
        return await _event(conn, row, "escalate", at=now, by=worker, publisher=worker)
