"""The rescue work order's figures for `/stats/rescue` (CONTRACT.md v1.1):
per district or firm and overall, over rescues opened in the window.

Each leg is measured between the rescue's stored step times: opening to the
first dispatch, that dispatch to on site, on site to freed (stored on the row
in seconds, 0031). Shares count every rescue opened in the window (a step
never reached counts as late); the tier shares count rescues someone reached,
by the tier that reached them; the cause shares count rescues with a cause.
Everything comes from one sorted pass over ``rescues``, groups and overall
together (GROUPING SETS), each leg's median and p90 from one sort
(semon/store/leg_percentiles.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, get_args

from psycopg import AsyncConnection, sql

from semon.domain.rescue import CauseCategory
from semon.store.leg_percentiles import Figures, leg_figures

GROUPS = {"district": "r.district", "firm_id": "r.firm_id"}
LEGS = ("open_to_dispatch", "dispatch_to_on_site", "on_site_to_freed")
CAUSES: tuple[str, ...] = get_args(CauseCategory)
TIERS = (1, 2, 3)

_COUNTS = f"""
count(*) AS rescues,
count(*) FILTER (WHERE r.dispatched_at <= r.opened_at + interval '5 minutes') AS dispatched_5,
count(*) FILTER (WHERE r.on_site_at <= r.opened_at + interval '30 minutes') AS on_site_30,
coalesce(sum(r.trapped_count) FILTER (WHERE r.freed_at IS NOT NULL), 0) AS people_freed,
coalesce(sum(r.injured_count), 0) AS injured,
coalesce(sum(r.escalation_count), 0) AS escalations,
{", ".join(f"count(*) FILTER (WHERE r.cause_category = '{c}') AS cause_{c}" for c in CAUSES)},
{", ".join(f"count(*) FILTER (WHERE r.on_site_tier = {t}) AS tier_{t}" for t in TIERS)}
"""
_QUERY = Figures(
    _COUNTS,
    "FROM rescues r WHERE r.opened_at >= %(from)s AND r.opened_at < %(to)s AND ({scope})",
    GROUPS,
    {leg: f"r.{leg}_s" for leg in LEGS},
)


def _share(n: int, total: int) -> float | None:
    return round(n / total, 6) if total else None


def _shares(counts: dict[str, int]) -> dict[str, float]:
    n = sum(counts.values())
    return {k: round(v / n, 6) for k, v in sorted(counts.items()) if v} if n else {}


def _figures(r: dict[str, Any]) -> dict[str, Any]:
    total = int(r.get("rescues") or 0)
    out: dict[str, Any] = {
        "rescues": total,
        "dispatched_within_5min": _share(int(r.get("dispatched_5") or 0), total),
        "on_site_within_30min": _share(int(r.get("on_site_30") or 0), total),
        "people_freed": int(r.get("people_freed") or 0),
        "injured": int(r.get("injured") or 0),
        "escalations": int(r.get("escalations") or 0),
        "by_cause": _shares({c: int(r.get(f"cause_{c}") or 0) for c in CAUSES}),
        "by_tier": _shares({str(t): int(r.get(f"tier_{t}") or 0) for t in TIERS}),
    }
    leg_figures(out, LEGS, r)
    return out


async def rescue_figures(
    conn: AsyncConnection,
    *,
    group_by: str,
    scope: sql.Composable,
    params: dict[str, Any],
    since: datetime,
    until: datetime,
) -> tuple[dict[str | None, dict[str, Any]], dict[str, Any]]:
    """The figures per group key and overall."""
    rows = await _QUERY.run(conn, group_by, scope, {**params, "from": since, "to": until})
    groups: dict[str | None, dict[str, Any]] = {}
    overall = _figures({})
    for r in rows:
        if r["overall"]:
            overall = _figures(r)
        else:
            groups[r["key"]] = _figures(r)
    return groups, overall
