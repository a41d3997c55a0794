"""Maintenance records the terminal contradicts: ``maintenance_unverified``.

On the sweep clock (partition 0): re-check the records whose window got late
samples (semon/store/verification.py, the same SQL the API runs on filing),
then raise one alert per ``contradicted`` record that never had one, and
close the open ones whose record is no longer contradicted (a late upload
showed the technician after all). An alert someone resolved by hand is not
raised again for the same record.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from psycopg import AsyncConnection

from alerts.ops import Close, Op, Raise
from semon.domain.alerts import AlertDraft
from semon.i18n import msg
from semon.settings_firms import VerificationSettings
from semon.store.verification import recheck_late

KIND = "maintenance_unverified"

_NEW = """
SELECT m.record_id, m.elevator_id, m.firm_id, m.done_on, m.kind, m.started_at, m.ended_at,
       m.verification_evidence
  FROM maintenance_records m
 WHERE m.verification = 'contradicted' AND m.verified_at >= %(since)s
   AND NOT EXISTS (SELECT 1 FROM alerts a
                    WHERE a.equipment_id = m.elevator_id AND a.kind = 'maintenance_unverified'
                      AND a.condition_key = 'maintenance_unverified:' || m.record_id)
 LIMIT 10000
"""
_STALE = """
SELECT a.condition_key
  FROM alerts a
  LEFT JOIN maintenance_records m ON m.record_id = (a.details->>'record_id')::bigint
 WHERE a.kind = 'maintenance_unverified' AND a.state <> 'resolved'
   AND m.verification IS DISTINCT FROM 'contradicted'
"""


def unverified_key(record_id: int) -> str:
    return f"{KIND}:{record_id}"


async def verification_ops(
    conn: AsyncConnection, cfg: VerificationSettings, now: datetime
) -> list[Op]:
    await recheck_late(conn, cfg, now=now)
    ops: list[Op] = []
    # Verdicts are (re)computed within recheck_days of a window's end; a day
    # more covers a sweep that was away (partial index on verified_at).
    since = now - timedelta(days=cfg.recheck_days + 1)
    cur = await conn.execute(_NEW, {"since": since})
    for rid, eid, firm, done_on, kind, started, ended, evidence in await cur.fetchall():
        ops.append(
            Raise(
                AlertDraft(
                    condition_key=unverified_key(rid),
                    kind=KIND,
                    equipment_type="elevator",
                    equipment_id=eid,
                    started_at=started,
                    summary=msg(
                        "alert.maintenance_unverified.summary",
                        elevator_id=eid,
                        record_id=rid,
                        done_on=done_on,
                        started_at=started,
                        ended_at=ended,
                    ),
                    details={
                        "record_id": rid,
                        "record_firm_id": firm,
                        "done_on": done_on.isoformat(),
                        "record_kind": kind,
                        "window": [started.isoformat(), ended.isoformat()],
                        "evidence": evidence or {},
                    },
                    live=True,
                )
            )
        )
    cur = await conn.execute(_STALE)
    for (key,) in await cur.fetchall():
        ops.append(
            Close(
                str(key),
                "other",
                ended_at=now,
                details={"closed_by": "verification: the terminal vouched for the record"},
            )
        )
    return ops
