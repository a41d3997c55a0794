"""Delivery bookkeeping of alert events: which rows still wait to be published
to MQTT, and marking them published.

``published_at`` NULL: not yet published. ``publisher`` names the alerts
worker that publishes the row itself; NULL (the API wrote it): partition 0
publishes it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

_UNPUBLISHED = """
SELECT event_id, publisher, message FROM alert_events
WHERE published_at IS NULL AND (publisher = %(me)s OR %(fleet)s)
ORDER BY (publisher IS NULL OR publisher = %(me)s) DESC, event_id
LIMIT %(limit)s
"""


async def unpublished_events(
    conn: AsyncConnection, *, publisher: str, fleet: bool, limit: int = 500
) -> list[tuple[int, str | None, dict[str, Any]]]:
    """Rows not yet published: ``publisher``'s own (a previous run of it died
    before publishing them) and, for the ``fleet`` worker (partition 0), every
    other row too, the API's (publisher NULL) and own ones first: another
    worker's rows are the caller's to publish only once they stay unpublished."""
    cur = await conn.execute(_UNPUBLISHED, {"me": publisher, "fleet": fleet, "limit": limit})
    return [(int(r[0]), r[1], r[2]) for r in await cur.fetchall()]


async def mark_published(conn: AsyncConnection, event_ids: list[int], *, now: datetime) -> None:
    await conn.execute(
        "UPDATE alert_events SET published_at = %s"
        " WHERE event_id = ANY(%s) AND published_at IS NULL",
        (now, event_ids),
    )
