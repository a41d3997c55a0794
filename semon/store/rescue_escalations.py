"""Rescue deadlines missed: each recorded once (the escalations table's key),
the next tier made due after a missed arrival, and the rescue's alert paged
again. Deadlines are read from stored timestamps, so a restart neither loses
nor repeats one."""

from __future__ import annotations

from datetime import datetime

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from semon.domain.alerts import AlertMessage
from semon.domain.rescue import TIER_FIRE
from semon.store import alerts as alert_store
from semon.store.rescue_open import rescue_event
from semon.store.rescues import get_rescue, next_deadline, public

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
        await rescue_event(conn, public(rescue), "escalate", at=now, by=worker, note=note)
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
