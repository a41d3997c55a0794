"""Rescue reads and writes, shared by the API and the alerts process: a call
taken, each step of the work order (the alert follows it), the deadlines and
their escalations.

Every change writes the rescue and a ``rescue`` event on the shared feed in
one transaction (store/rescue_open.py); a step that moves the alert writes
the alert's own event too (store/alerts.py), left for the alerts process to
publish on MQTT.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from semon import i18n
from semon.domain.alerts import ActionBody, AlertDraft, AlertMessage
from semon.domain.rescue import (
    ACTIVE_STATES,
    CAUSE_WINDOW_DAYS,
    TIER_FIRE,
    CallbackIn,
    CallIn,
    CauseIn,
    CloseIn,
    DispatchIn,
    FreeIn,
    RescueAction,
    step,
)
from semon.store import alerts as alert_store
from semon.store.rescue_open import bare_rescue, open_for_alert, rescue_event

Row = dict[str, Any]


class RescueNotFound(LookupError):
    """No rescue with that id in scope (404)."""


class IllegalStep(ValueError):
    """The step is not legal now (409)."""

    def __init__(
        self, rescue_id: str, state: str, action: str, why: i18n.Message | None = None
    ) -> None:
        self.rescue_id, self.state, self.action = rescue_id, state, action
        # The catalog message (the API shows it in the reader's language).
        self.message = why or i18n.msg(
            "api.problem.rescue_illegal_step", rescue_id=rescue_id, state=state, action=action
        )
        super().__init__(i18n.reader("en").render(self.message))


# -- reads ----------------------------------------------------------------------

_ELEVATOR = """
SELECT e.elevator_id, e.address, e.district, e.lat, e.lon, e.firm_id, e.use_unit, e.rescue_code,
       f.name AS firm_name, f.phone AS firm_phone
FROM elevators e LEFT JOIN firms f ON f.firm_id = e.firm_id
WHERE {which} AND ({scope})
"""


async def find_elevator(
    conn: AsyncConnection,
    *,
    elevator_id: str | None,
    rescue_code: str | None,
    scope: sql.Composable,
    params: dict[str, Any],
) -> Row | None:
    """The elevator a caller names, by id or by the code in its car, in scope."""
    args: dict[str, Any]
    if elevator_id is not None:
        which, args = sql.SQL("e.elevator_id = %(f_eid)s"), {"f_eid": elevator_id}
    else:
        which, args = sql.SQL("e.rescue_code = %(f_code)s"), {"f_code": rescue_code}
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql.SQL(_ELEVATOR).format(which=which, scope=scope), {**params, **args})
        return await cur.fetchone()


_LOOKUP = """
SELECT e.elevator_id, e.address, e.district, e.rescue_code, e.use_unit, e.firm_id
FROM elevators e
WHERE ({scope}) AND (e.elevator_id ILIKE %(prefix)s OR e.rescue_code ILIKE %(prefix)s
      OR e.address ILIKE %(anywhere)s)
ORDER BY (e.elevator_id = %(q)s OR e.rescue_code = %(q)s) DESC, e.elevator_id
LIMIT %(limit)s
"""


async def lookup_elevators(
    conn: AsyncConnection, q: str, *, scope: sql.Composable, params: dict[str, Any], limit: int
) -> list[Row]:
    """Lifts whose id or rescue code starts with, or address contains, what a
    dispatcher typed (the call-intake form's suggestions)."""
    like = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            sql.SQL(_LOOKUP).format(scope=scope),
            {**params, "q": q, "prefix": like + "%", "anywhere": "%" + like + "%", "limit": limit},
        )
        return await cur.fetchall()


_RESCUE_COLUMNS = """
r.rescue_id, r.elevator_id, r.alert_id, r.source, r.state, r.tier, r.on_site_tier, r.district,
r.firm_id, r.use_unit, r.location, r.opened_at, r.dispatched_at, r.on_site_at, r.freed_at,
r.callback_at, r.callback_note, r.closed_at, r.trapped_count, r.injured_count, r.cause_category,
r.cause_note, r.updated_at, r.due_kind, r.due_ref, r.due_from
"""
_ALL = sql.SQL("TRUE")
_ONE = "SELECT {columns} FROM rescues r WHERE r.rescue_id = %(rid)s AND ({scope})"


async def _lists(conn: AsyncConnection, rescue_id: str) -> tuple[list[Row], list[Row], list[Row]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT seq, tier, assignee, phone, eta_min, dispatched_at, arrived_at"
            " FROM rescue_assignments WHERE rescue_id = %s ORDER BY seq",
            (rescue_id,),
        )
        assignments = await cur.fetchall()
        await cur.execute(
            "SELECT at, caller_name, caller_phone, trapped_reported, note"
            " FROM rescue_calls WHERE rescue_id = %s ORDER BY call_id",
            (rescue_id,),
        )
        calls = await cur.fetchall()
        await cur.execute(
            "SELECT at, reason, from_tier, to_tier, due_at FROM rescue_escalations"
            " WHERE rescue_id = %s ORDER BY at, reason, ref",
            (rescue_id,),
        )
        escalations = await cur.fetchall()
    return assignments, calls, escalations


async def _ladder(conn: AsyncConnection, row: Row) -> tuple[list[Row], str | None]:
    """Who each tier is: the lift's firm, the district's rescue organisations,
    the fire service; and the code posted in the car."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT e.rescue_code, f.firm_id, f.name, f.phone FROM elevators e"
            " LEFT JOIN firms f ON f.firm_id = e.firm_id WHERE e.elevator_id = %s",
            (row["elevator_id"],),
        )
        lift = await cur.fetchone() or {}
        await cur.execute(
            "SELECT org_id, name, phone FROM rescue_orgs WHERE district = %s ORDER BY org_id",
            (row["district"],),
        )
        orgs = await cur.fetchall()
    ladder: list[Row] = [
        {
            "tier": 1,
            "who": "firm",
            "id": lift.get("firm_id") or row["firm_id"],
            "name": lift.get("name"),
            "phone": lift.get("phone"),
        }
    ]
    ladder += [
        {"tier": 2, "who": "rescue_org", "id": o["org_id"], "name": o["name"], "phone": o["phone"]}
        for o in orgs
    ]
    ladder.append({"tier": TIER_FIRE, "who": "fire", "id": None, "name": None, "phone": "119"})
    return ladder, lift.get("rescue_code")


def next_deadline(row: Row, *, dispatch_s: float, arrival_s: float) -> Row | None:
    """What is due next and by when, from the stored clock start."""
    if row.get("due_kind") is None or row.get("due_from") is None:
        return None
    length = dispatch_s if row["due_kind"] == "dispatch" else arrival_s
    return {
        "kind": row["due_kind"],
        "tier": row["tier"],
        "due_at": row["due_from"] + timedelta(seconds=length),
    }


async def _full(conn: AsyncConnection, row: Row) -> Row:
    assignments, calls, escalations = await _lists(conn, row["rescue_id"])
    ladder, code = await _ladder(conn, row)
    out = bare_rescue(row)
    out.update(
        assignments=assignments,
        calls=calls,
        escalations=escalations,
        ladder=ladder,
        rescue_code=code,
    )
    out["due"] = {k: row.get(k) for k in ("due_kind", "due_ref", "due_from")}
    return out


async def get_rescue(
    conn: AsyncConnection,
    rescue_id: str,
    *,
    scope: sql.Composable = _ALL,
    params: dict[str, Any] | None = None,
    lock: bool = False,
) -> Row | None:
    """One rescue with its assignments, calls, escalations and ladder; the
    deadline bookkeeping under ``due`` (see next_deadline)."""
    query = sql.SQL(_ONE + (" FOR UPDATE OF r" if lock else "")).format(
        columns=sql.SQL(_RESCUE_COLUMNS), scope=scope
    )
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, {**(params or {}), "rid": rescue_id})
        row = await cur.fetchone()
    return None if row is None else await _full(conn, row)


_LIST = """
SELECT {columns} FROM rescues r
WHERE ({scope}) AND ({filters})
ORDER BY r.opened_at DESC, r.rescue_id DESC
LIMIT %(limit)s
"""


async def list_rescues(
    conn: AsyncConnection,
    scope: sql.Composable,
    params: dict[str, Any],
    *,
    state: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    district: str | None = None,
    elevator_id: str | None = None,
    before: tuple[datetime, str] | None = None,
    limit: int = 50,
) -> list[Row]:
    """Rescues opened in the window, newest first; ``before`` is the previous
    page's last (opened_at, rescue_id)."""
    filters: list[sql.Composable] = [sql.SQL("TRUE")]
    args: dict[str, Any] = {**params, "limit": limit}
    for value, clause, name in (
        (state, "r.state = %(f_state)s", "f_state"),
        (since, "r.opened_at >= %(f_since)s", "f_since"),
        (until, "r.opened_at < %(f_until)s", "f_until"),
        (district, "r.district = %(f_district)s", "f_district"),
        (elevator_id, "r.elevator_id = %(f_eid)s", "f_eid"),
    ):
        if value is not None:
            filters.append(sql.SQL(clause))
            args[name] = value
    if before is not None:
        filters.append(sql.SQL("(r.opened_at, r.rescue_id) < (%(c_ts)s, %(c_id)s)"))
        args["c_ts"], args["c_id"] = before
    query = sql.SQL(_LIST).format(
        columns=sql.SQL(_RESCUE_COLUMNS), scope=scope, filters=sql.SQL(" AND ").join(filters)
    )
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, args)
        rows = await cur.fetchall()
    return [await _full(conn, r) for r in rows]


# -- a call ------------------------------------------------------------------------

_BY_KEY = "SELECT rescue_id, request_hash, opened FROM rescue_calls WHERE idempotency_key = %s"
_ACTIVE = """
SELECT rescue_id FROM rescues
WHERE elevator_id = %s AND state = ANY(%s)
ORDER BY opened_at DESC LIMIT 1 FOR UPDATE
"""
_INSERT_CALL = """
INSERT INTO rescue_calls (rescue_id, at, caller_name, caller_phone, trapped_reported, note, by,
    idempotency_key, request_hash, opened)
VALUES (%(rid)s, %(at)s, %(name)s, %(phone)s, %(trapped)s, %(note)s, %(by)s, %(key)s, %(hash)s,
    %(opened)s)
"""


class KeyReused(ValueError):
    """An Idempotency-Key sent again with a different request (422)."""

    message = i18n.msg("api.problem.idempotency_key_reused")


def call_draft(lift: Row, body: CallIn, now: datetime) -> AlertDraft:
    """The trapped-passenger alert a call raises (the terminal's condition, so
    a terminal report and a call about one lift are one alert)."""
    details: dict[str, Any] = {"source": "call", "reason": "a caller reports a trapped passenger"}
    if body.trapped_reported is not None:
        details["trapped_reported"] = body.trapped_reported
    if lift["firm_id"]:
        details["firm"] = {
            "firm_id": lift["firm_id"],
            "name": lift["firm_name"],
            "phone": lift["firm_phone"],
        }
    return AlertDraft(
        condition_key=f"trapped_passenger:{lift['elevator_id']}",
        kind="trapped_passenger",
        equipment_type="elevator",
        equipment_id=lift["elevator_id"],
        started_at=now,
        summary=i18n.msg(
            "alert.trapped_passenger.summary.called",
            elevator_id=lift["elevator_id"],
            address=lift["address"],
        ),
        details=details,
        district=lift["district"],
        firm_id=lift["firm_id"],
        use_unit=lift["use_unit"],
        location={
            "address": lift["address"],
            "district": lift["district"],
            "lat": lift["lat"],
            "lon": lift["lon"],
        },
    )


async def take_call(
    conn: AsyncConnection,
    lift: Row,
    body: CallIn,
    *,
    now: datetime,
    by: str | None,
    key: str | None,
    request_hash: str | None,
) -> tuple[Row, bool]:
    """Open a rescue (and its alert) for the call, or add the call to the
    rescue open for that lift. Returns the rescue and whether it was opened.
    A repeat of an Idempotency-Key answers as the first request did."""
    async with conn.transaction():
        if key is not None:
            # Two requests of one key at once: the second waits and finds the first.
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))", ("rescue-call:" + key,)
            )
            cur = await conn.execute(_BY_KEY, (key,))
            seen = await cur.fetchone()
            if seen is not None:
                if seen[1] != request_hash:
                    raise KeyReused("Idempotency-Key was used for a different call")
                rescue = await get_rescue(conn, seen[0])
                assert rescue is not None
                return rescue, bool(seen[2])
        # One lift's calls one at a time: two first calls cannot both open.
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", ("rescue-lift:" + lift["elevator_id"],)
        )
        cur = await conn.execute(_ACTIVE, (lift["elevator_id"], list(ACTIVE_STATES)))
        active = await cur.fetchone()
        opened = False
        if active is not None:
            rescue_id = str(active[0])
        else:
            msg, event_id = await alert_store.raise_alert(
                conn, call_draft(lift, body, now), now=now, worker=None
            )
            cur = await conn.execute(
                "SELECT rescue_id FROM rescues WHERE alert_id = %s", (msg.alert_id,)
            )
            got = await cur.fetchone()
            # A new alert opened its rescue with it; a repeat (the lift's trap
            # alert was already open) has its rescue, or, for an alert raised
            # before rescues existed, gets it from this call.
            opened = event_id is not None
            if got is None:
                made = await open_for_alert(conn, msg.alert_id, source="call", by=by)
                assert made is not None
                got, opened = (made["rescue_id"],), True
            rescue_id = str(got[0])
        await conn.execute(
            _INSERT_CALL,
            {
                "rid": rescue_id,
                "at": now,
                "name": body.caller_name,
                "phone": body.caller_phone,
                "trapped": body.trapped_reported,
                "note": body.note,
                "by": by,
                "key": key,
                "hash": request_hash,
                "opened": opened,
            },
        )
        await conn.execute(
            "UPDATE rescues SET updated_at = %s WHERE rescue_id = %s", (now, rescue_id)
        )
        rescue = await get_rescue(conn, rescue_id)
        assert rescue is not None
        await rescue_event(conn, _public(rescue), "call", at=now, by=by)
        return rescue, opened


def _public(rescue: Row) -> Row:
    return {k: v for k, v in rescue.items() if k != "due"}


# -- the steps ----------------------------------------------------------------------


async def _follow_alert(
    conn: AsyncConnection, alert_id: str, action: str, body: ActionBody, now: datetime
) -> None:
    """Move the rescue's alert along where its state allows (an alert already
    further on, or resolved by the terminal, stays as it is)."""
    with contextlib.suppress(alert_store.IllegalTransition):
        await alert_store.apply_action(conn, alert_id, action, body, now=now)  # type: ignore[arg-type]


async def act(
    conn: AsyncConnection,
    rescue_id: str,
    action: RescueAction,
    body: Any,
    *,
    now: datetime,
    by: str,
    scope: sql.Composable,
    params: dict[str, Any],
) -> Row:
    """One step of the work order. Raises RescueNotFound (404) or IllegalStep (409)."""
    async with conn.transaction():
        rescue = await get_rescue(conn, rescue_id, scope=scope, params=params, lock=True)
        if rescue is None:
            raise RescueNotFound(rescue_id)
        state = rescue["state"]
        target = step(state, action)
        if target is None:
            raise IllegalStep(rescue_id, state, action)
        alert_id = rescue["alert_id"]
        sets: dict[str, Any] = {"state": target, "updated_at": now}
        note: str | None = None
        if action == "dispatch":
            assert isinstance(body, DispatchIn)
            if body.tier < rescue["tier"]:
                raise IllegalStep(
                    rescue_id,
                    state,
                    action,
                    i18n.msg("api.problem.rescue_tier_below", tier=body.tier, due=rescue["tier"]),
                )
            seq = len(rescue["assignments"]) + 1
            await conn.execute(
                "INSERT INTO rescue_assignments (rescue_id, seq, tier, assignee, phone, eta_min,"
                " dispatched_at, by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (rescue_id, seq, body.tier, body.assignee, body.phone, body.eta_min, now, by),
            )
            sets.update(
                tier=body.tier,
                dispatched_at=rescue["dispatched_at"] or now,
                due_kind="arrival",
                due_ref=seq,
                due_from=now,
            )
            note = f"tier {body.tier}: {body.assignee} {body.phone}"
            await _follow_alert(conn, alert_id, "dispatch", ActionBody(by=by, note=note), now)
        elif action == "arrive":
            seq = len(rescue["assignments"])
            await conn.execute(
                "UPDATE rescue_assignments SET arrived_at = %s WHERE rescue_id = %s AND seq = %s",
                (now, rescue_id, seq),
            )
            sets.update(
                on_site_at=now,
                on_site_tier=rescue["assignments"][-1]["tier"],
                due_kind=None,
                due_ref=None,
                due_from=None,
            )
            await _follow_alert(conn, alert_id, "arrive", ActionBody(by=by), now)
        elif action == "free":
            assert isinstance(body, FreeIn)
            sets.update(
                freed_at=now, trapped_count=body.trapped_count, injured_count=body.injured_count
            )
            note = f"freed {body.trapped_count}, injured {body.injured_count}"
            await _follow_alert(
                conn, alert_id, "resolve", ActionBody(by=by, note=note, resolution="rescued"), now
            )
        elif action == "callback":
            assert isinstance(body, CallbackIn)
            sets.update(callback_at=rescue["callback_at"] or now)
            if body.note is not None:
                sets["callback_note"] = note = body.note
        elif action == "close":
            assert isinstance(body, CloseIn)
            sets.update(
                closed_at=now,
                cause_category=body.cause_category,
                cause_note=body.cause_note,
                cause_by=by,
                cause_at=now,
                due_kind=None,
                due_ref=None,
                due_from=None,
            )
            note = body.cause_note
            await _follow_alert(
                conn,
                alert_id,
                "resolve",
                ActionBody(by=by, note=note, resolution=body.resolution),
                now,
            )
        else:  # cause: the firm's report, within the window after closing
            assert isinstance(body, CauseIn)
            closed = rescue["closed_at"]
            if closed is None or now > closed + timedelta(days=CAUSE_WINDOW_DAYS):
                raise IllegalStep(
                    rescue_id,
                    state,
                    action,
                    i18n.msg("api.problem.rescue_cause_window", days=CAUSE_WINDOW_DAYS),
                )
            sets.update(
                cause_category=body.cause_category,
                cause_note=body.cause_note,
                cause_by=by,
                cause_at=now,
            )
            note = body.cause_note
        assignments = sql.SQL(", ").join(
            sql.SQL("{} = %({})s").format(sql.Identifier(k), sql.SQL(k)) for k in sets
        )
        await conn.execute(
            sql.SQL("UPDATE rescues SET {} WHERE rescue_id = %(rid)s").format(assignments),
            {**sets, "rid": rescue_id},
        )
        rescue = await get_rescue(conn, rescue_id)
        assert rescue is not None
        await rescue_event(conn, _public(rescue), action, at=now, by=by, note=note)
        return rescue


# -- deadlines -------------------------------------------------------------------------

_DUE = """
SELECT rescue_id FROM rescues
WHERE due_kind IS NOT NULL
  AND due_from + make_interval(secs => CASE due_kind WHEN 'dispatch' THEN %(d)s ELSE %(a)s END)
      <= %(now)s
ORDER BY due_from LIMIT 500
"""


async def due_rescues(
    conn: AsyncConnection, *, now: datetime, dispatch_s: float, arrival_s: float
) -> list[str]:
    """Rescues with a deadline passed and not yet escalated."""
    cur = await conn.execute(_DUE, {"now": now, "d": dispatch_s, "a": arrival_s})
    return [str(r[0]) for r in await cur.fetchall()]


_RECORD_ESCALATION = """
INSERT INTO rescue_escalations (rescue_id, reason, ref, at, due_at, from_tier, to_tier)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT DO NOTHING
RETURNING rescue_id
"""


async def escalate_rescue(
    conn: AsyncConnection,
    rescue_id: str,
    *,
    now: datetime,
    dispatch_s: float,
    arrival_s: float,
    worker: str | None,
) -> tuple[AlertMessage, int] | None:
    """Record a missed deadline once, make the next tier due (a missed
    arrival), and page the alert again: its ``escalate`` event is returned for
    the caller to publish (left unpublished in the store until then, so a
    crash after commit still publishes it on restart). None when nothing was due."""
    async with conn.transaction():
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute("SELECT * FROM rescues WHERE rescue_id = %s FOR UPDATE", (rescue_id,))
            row = await cur.fetchone()
        if row is None:
            return None
        deadline = next_deadline(row, dispatch_s=dispatch_s, arrival_s=arrival_s)
        if deadline is None or deadline["due_at"] > now:
            return None
        due_at: datetime = deadline["due_at"]
        from_tier = int(row["tier"])
        if row["due_kind"] == "dispatch":
            reason, ref, to_tier = "dispatch_overdue", from_tier, from_tier
            nxt: tuple[str | None, int | None, datetime | None] = (None, None, None)
        else:
            cur2 = await conn.execute(
                "SELECT tier FROM rescue_assignments WHERE rescue_id = %s AND seq = %s",
                (rescue_id, row["due_ref"]),
            )
            got = await cur2.fetchone()
            from_tier = int(got[0]) if got else from_tier
            reason, ref, to_tier = (
                "arrival_overdue",
                int(row["due_ref"]),
                min(from_tier + 1, TIER_FIRE),
            )
            # The next tier is due: its dispatch clock starts at the missed deadline.
            nxt = ("dispatch", to_tier, due_at) if to_tier > from_tier else (None, None, None)
        cur3 = await conn.execute(
            _RECORD_ESCALATION, (rescue_id, reason, ref, now, due_at, from_tier, to_tier)
        )
        recorded = await cur3.fetchone() is not None
        await conn.execute(
            "UPDATE rescues SET tier = greatest(tier, %s), due_kind = %s, due_ref = %s,"
            " due_from = %s, updated_at = %s, escalation_count = escalation_count + %s"
            " WHERE rescue_id = %s",
            (to_tier, *nxt, now, int(recorded), rescue_id),
        )
        if not recorded:
            return None
        rescue = await get_rescue(conn, rescue_id)
        assert rescue is not None
        note = f"{reason}: tier {from_tier} -> {to_tier}"
        await rescue_event(conn, _public(rescue), "escalate", at=now, by=worker, note=note)
        return await page_again(conn, row["alert_id"], now=now, worker=worker, note=note)


async def page_again(
    conn: AsyncConnection, alert_id: str, *, now: datetime, worker: str | None, note: str
) -> tuple[AlertMessage, int] | None:
    """The rescue's alert paged again (an ``escalate`` event), whatever its
    step, unless it is resolved."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "UPDATE alerts SET escalations = escalations + 1, paged_at = %s,"
            " details = details || %s WHERE alert_id = %s AND state <> 'resolved' RETURNING *",
            (now, Jsonb({"rescue_escalation": note}), alert_id),
        )
        row = await cur.fetchone()
    if row is None:
        return None
    msg, event_id = await alert_store.write_event(
        conn, row, "escalate", at=now, by=worker, note=note, publisher=worker
    )
    return msg, event_id
