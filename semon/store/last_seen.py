"""Each elevator's newest status sample time (``elevator_last_seen``,
migration 0076), kept in ingest's write path: one upsert per batch, inside
the batch's transaction, so the figure and the samples commit together.

Sorted by elevator so that two writers upserting overlapping lifts take the
rows' locks in the same order (no deadlock); only ever forward, so that a
late or redelivered batch never moves a lift's time back (nor rewrites it).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from psycopg import Connection

UPSERT = """
INSERT INTO elevator_last_seen AS seen (elevator_id, ts)
SELECT * FROM unnest(%s::text[], %s::timestamptz[])
ON CONFLICT (elevator_id) DO UPDATE SET ts = excluded.ts WHERE seen.ts < excluded.ts
"""


def newest(samples: Iterable[tuple[Any, ...]]) -> dict[str, datetime]:
    """Elevator -> its newest sample time, of status rows (elevator_id, ts, ...)."""
    out: dict[str, datetime] = {}
    for row in samples:
        eid, ts = row[0], row[1]
        seen = out.get(eid)
        if seen is None or ts > seen:
            out[eid] = ts
    return out


def note_last_seen(conn: Connection[Any], samples: Iterable[tuple[Any, ...]]) -> None:
    """Move each lift's last-seen time up to its newest sample of the batch
    (inside the caller's transaction)."""
    times = newest(samples)
    if times:
        ids = sorted(times)
        conn.execute(UPSERT, (ids, [times[i] for i in ids]))
