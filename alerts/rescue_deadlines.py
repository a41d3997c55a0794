"""Rescue deadlines, checked by the fleet worker (partition 0) beside
escalation: each missed deadline is recorded once (the store's unique key),
the rescue's alert paged again on MQTT, and, for a missed arrival, the next
tier made due. Deadlines are read from stored timestamps each time, so a
restart (kill -9 included) neither loses nor repeats one."""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial

from psycopg import AsyncConnection

from alerts.paging import page_again
from alerts.writer import Writer
from semon.domain.alerts import AlertMessage
from semon.store import rescue_escalations
from semon.store.pool import DB_UNAVAILABLE

log = logging.getLogger(__name__)


async def _escalate(
    writer: Writer, conn: AsyncConnection, rescue_id: str, now: datetime
) -> tuple[AlertMessage, int] | None:
    """Record the rescue's missed deadline and store its alert's page, committed."""
    cfg = writer.settings.rescue
    paged = await rescue_escalations.escalate_rescue(
        conn,
        rescue_id,
        now=now,
        dispatch_s=cfg.dispatch_deadline_s,
        arrival_s=cfg.arrival_deadline_s,
        worker=writer.me,
    )
    await conn.commit()
    return paged


async def escalate_rescues(writer: Writer) -> int:
    """Escalate every rescue whose deadline has passed; returns how many."""
    if not writer.db_ok:
        return 0
    cfg = writer.settings.rescue
    now = writer.clock.now()
    done = 0
    try:
        async with writer.pool.connection(timeout=writer.cfg.db_timeout_s) as conn:
            due = await rescue_escalations.due_rescues(
                conn,
                now=now,
                dispatch_s=cfg.dispatch_deadline_s,
                arrival_s=cfg.arrival_deadline_s,
            )
            await conn.commit()
            for rescue_id in due:
                if not await writer.room():
                    break  # the broker is behind: the rest on the next round
                await page_again(writer, partial(_escalate, writer, conn, rescue_id, now))
                done += 1
    except DB_UNAVAILABLE as exc:
        log.debug("rescue deadline check failed: %s", exc)
    return done
