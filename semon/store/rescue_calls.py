"""A call to the rescue centre: it opens a rescue and its trapped-passenger
alert, or joins the rescue open for that lift; an Idempotency-Key makes a
call sent twice one call (store/rescues.py holds the rescue itself)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from semon import i18n
from semon.domain.alerts import AlertDraft
from semon.domain.rescue import ACTIVE_STATES, CallIn
from semon.store import alerts as alert_store
from semon.store.rescue_open import open_for_alert, rescue_event
from semon.store.rescues import Row, get_rescue, public

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
        await rescue_event(conn, public(rescue), "call", at=now, by=by)
        return rescue, opened
