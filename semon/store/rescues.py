"""Rescue reads and the steps of the work order (the alert follows each),
shared by the API, the alerts process and the simulators. A call taken is in
store/rescue_calls.py; missed deadlines and their escalations in
store/rescue_escalations.py.

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

from semon import i18n
from semon.domain.alerts import ActionBody
from semon.domain.rescue import (
    CAUSE_WINDOW_DAYS,
    TIER_FIRE,
    CallbackIn,
    CauseIn,
    CloseIn,
    DispatchIn,
    FreeIn,
    RescueAction,
    step,
)
from semon.store import alerts as alert_store
from semon.store.rescue_open import bare_rescue, rescue_event

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


def public(rescue: Row) -> Row:
    """The rescue as its ``rescue`` events carry it (without the deadline bookkeeping)."""
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
        await rescue_event(conn, public(rescue), action, at=now, by=by, note=note)
        return rescue
