"""Checking maintenance records against the terminal in the car.

A record with a window (``started_at``, ``ended_at``) gets one of:

- ``terminal``: the terminal reported ``maintenance`` or ``inspection`` mode
  at least once between ``started_at - slack`` and ``ended_at + slack`` (a
  technician's times may be off by minutes). Final: a later sample cannot
  take that report back.
- ``contradicted``: inside the window itself the terminal reported, and
  every sample said ``normal`` service, and the samples cover at least
  ``min_coverage`` of the window's ``bucket_s`` buckets: the car was in
  service and watched the whole time, and nobody switched it over.
- ``no_terminal_data``: anything else (silent, partly silent, or in another
  mode such as ``out_of_service``): the terminal cannot vouch either way.

The verdict is computed when a record is filed (the API, in the same
transaction) and again when samples of its window arrive late: a terminal
uploading its buffer writes rows whose ``received_at`` is later than the
record's ``verified_at``, and ``recheck_late`` (run by the alerts process on
its sweep clock) re-checks exactly those records. Ingest knows nothing of
this: it only writes samples. Each check is one index range scan of
``elevator_status`` on its primary key (elevator_id, ts) per record.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection

from semon.settings_firms import VerificationSettings
from semon.store.jit import without_jit

WORK_MODES = ("maintenance", "inspection")

# The verdict of each record in `ids`, written back. `inside`: samples in the
# window itself; `buckets`: distinct bucket_s slices of it holding a sample.
_VERIFY = """
WITH r AS (
    SELECT record_id, elevator_id, started_at, ended_at,
           greatest(1, ceil(extract(epoch FROM ended_at - started_at) / %(bucket_s)s))::int
               AS slots
      FROM maintenance_records
     WHERE record_id = ANY(%(ids)s) AND started_at IS NOT NULL
),
v AS (
    SELECT r.record_id, r.slots, x.*
      FROM r CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE s.mode IN ('maintenance', 'inspection')) AS work,
               min(s.ts) FILTER (WHERE s.mode IN ('maintenance', 'inspection')) AS work_from,
               max(s.ts) FILTER (WHERE s.mode IN ('maintenance', 'inspection')) AS work_to,
               count(*) FILTER (WHERE s.ts >= r.started_at AND s.ts <= r.ended_at) AS inside,
               count(*) FILTER (WHERE s.ts >= r.started_at AND s.ts <= r.ended_at
                                  AND s.mode = 'normal') AS normal,
               count(DISTINCT floor(extract(epoch FROM s.ts - r.started_at) / %(bucket_s)s))
                   FILTER (WHERE s.ts >= r.started_at AND s.ts <= r.ended_at) AS buckets,
               max(s.received_at) AS last_received
          FROM elevator_status s
         WHERE s.elevator_id = r.elevator_id
           AND s.ts >= r.started_at - %(slack)s AND s.ts <= r.ended_at + %(slack)s
      ) x
)
UPDATE maintenance_records m
   SET verification = CASE
           WHEN v.work > 0 THEN 'terminal'
           WHEN v.inside > 0 AND v.normal = v.inside
                AND v.buckets >= %(min_coverage)s * v.slots THEN 'contradicted'
           ELSE 'no_terminal_data' END,
       verified_at = %(now)s,
       verification_evidence = jsonb_build_object(
           'work_samples', v.work, 'work_from', v.work_from, 'work_to', v.work_to,
           'samples_in_window', v.inside, 'normal_samples', v.normal,
           'coverage', round(least(1.0, v.buckets::numeric / v.slots), 3),
           'slack_s', %(slack_s)s, 'last_received_at', v.last_received)
  FROM v
 WHERE m.record_id = v.record_id
RETURNING m.record_id, m.verification
"""

# Records not yet vouched for whose window holds samples received since they
# were last checked (less the margin), or never checked at all.
_LATE = """
SELECT m.record_id
  FROM maintenance_records m
 WHERE m.started_at IS NOT NULL
   AND m.verification IS DISTINCT FROM 'terminal'
   AND m.ended_at >= %(since)s
   AND (m.verified_at IS NULL
        OR EXISTS (SELECT 1 FROM elevator_status s
                    WHERE s.elevator_id = m.elevator_id
                      AND s.ts >= m.started_at - %(slack)s AND s.ts <= m.ended_at + %(slack)s
                      AND s.received_at > m.verified_at - %(margin)s))
 ORDER BY m.ended_at DESC
 LIMIT %(limit)s
"""


def _params(cfg: VerificationSettings) -> dict[str, Any]:
    return {
        "slack": timedelta(seconds=cfg.slack_s),
        "slack_s": cfg.slack_s,
        "bucket_s": cfg.bucket_s,
        "min_coverage": cfg.min_coverage,
    }


async def verify_records(
    conn: AsyncConnection, ids: list[int], cfg: VerificationSettings, *, now: datetime
) -> dict[int, str]:
    """Check the records ``ids`` (those with a window) and store the verdicts;
    returns record_id -> verdict."""
    if not ids:
        return {}
    # JIT compiled the per-record scan over every day partition: 1.5 s of
    # compiling for 2,000 records whose checks then took 0.2 s.
    async with without_jit(conn):
        cur = await conn.execute(_VERIFY, {**_params(cfg), "ids": ids, "now": now})
        return {int(r[0]): str(r[1]) for r in await cur.fetchall()}


async def recheck_late(
    conn: AsyncConnection, cfg: VerificationSettings, *, now: datetime
) -> dict[int, str]:
    """Re-check records whose window got samples after their last check (and
    records never checked); returns the verdicts of those re-checked."""
    cur = await conn.execute(
        _LATE,
        {
            **_params(cfg),
            "since": now - timedelta(days=cfg.recheck_days),
            "margin": timedelta(seconds=cfg.received_margin_s),
            "limit": cfg.recheck_batch,
        },
    )
    ids = [int(r[0]) for r in await cur.fetchall()]
    return await verify_records(conn, ids, cfg, now=now)
