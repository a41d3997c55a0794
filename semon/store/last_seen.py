"""Each elevator's last-seen time (``elevator_last_seen``, migration 0076),
kept in ingest's write path: one statement per batch, inside the batch's
transaction, so the figure and the samples commit together.

A lift's time moves only forward, and only by `STEP` or more: its newest
sample is always at or after the time kept and less than `STEP` after it
(the coverage query, semon/store/coverage.py, probes the samples of the few
lifts that leaves in doubt). A lift reporting every second is written once a
minute rather than in every batch; the rest of the batch's lifts cost one
index probe each and take no lock. Sorted by elevator, so that two writers
upserting overlapping lifts take the rows' locks in the same order.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from psycopg import Connection

# How far behind a lift's newest sample its kept time may be.
STEP = timedelta(seconds=60)

UPSERT = """
INSERT INTO elevator_last_seen AS seen (elevator_id, ts)
SELECT b.elevator_id, b.ts
  FROM unnest(%(ids)s::text[], %(times)s::timestamptz[]) AS b (elevator_id, ts)
 WHERE NOT EXISTS (SELECT 1 FROM elevator_last_seen kept
                    WHERE kept.elevator_id = b.elevator_id AND kept.ts > b.ts - %(step)s)
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
    where that is `STEP` or more after it (inside the caller's transaction)."""
    times = newest(samples)
    if times:
        ids = sorted(times)
        conn.execute(UPSERT, {"ids": ids, "times": [times[i] for i in ids], "step": STEP})
