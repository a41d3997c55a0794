"""The rescue work order's figures for `/stats/rescue` (CONTRACT.md v1.1):
per district or firm and overall, over rescues opened in the window.

Each leg is measured between the rescue's stored step times: opening to the
first dispatch, that dispatch to on site, on site to freed. Shares count every
rescue opened in the window (a step never reached counts as late); the tier
shares count rescues someone reached, by the tier that reached them; the cause
shares count rescues with a cause. One scan of ``rescues`` for the legs (all
percentiles of a leg from one sort), one for the shares.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

GROUPS = {"district": "r.district", "firm_id": "r.firm_id"}
# Sort memory of the figures query (1,000,000 rescues' legs sort in ~100 MB).
SORT_MEMORY = "128MB"

_LEGS = {
    "open_to_dispatch": ("opened_at", "dispatched_at"),
    "dispatch_to_on_site": ("dispatched_at", "on_site_at"),
    "on_site_to_freed": ("on_site_at", "freed_at"),
}


def _leg(name: str, start: str, end: str) -> str:
    return (
        f"percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP "
        f"(ORDER BY extract(epoch FROM r.{end} - r.{start})::float8) AS {name}"
    )


_FIGURES = f"""
SELECT {{key}} AS key, GROUPING({{key}}) AS overall,
       count(*) AS rescues,
       count(*) FILTER (WHERE r.dispatched_at <= r.opened_at + interval '5 minutes')
           AS dispatched_5,
       count(*) FILTER (WHERE r.on_site_at <= r.opened_at + interval '30 minutes') AS on_site_30,
       coalesce(sum(r.trapped_count) FILTER (WHERE r.freed_at IS NOT NULL), 0) AS people_freed,
       coalesce(sum(r.injured_count), 0) AS injured,
       {", ".join(_leg(n, s, e) for n, (s, e) in _LEGS.items())}
  FROM rescues r
 WHERE r.opened_at >= %(from)s AND r.opened_at < %(to)s AND ({{scope}})
 GROUP BY GROUPING SETS (({{key}}), ())
"""

# Cause and tier counts, and escalations, per group (the overall row too).
_SHARES = """
SELECT {key} AS key, GROUPING({key}) AS overall, 'cause' AS what, r.cause_category AS value,
       count(*) AS n
  FROM rescues r
 WHERE r.opened_at >= %(from)s AND r.opened_at < %(to)s AND ({scope})
   AND r.cause_category IS NOT NULL
 GROUP BY GROUPING SETS (({key}, r.cause_category), (r.cause_category))
UNION ALL
SELECT {key}, GROUPING({key}), 'tier', r.on_site_tier::text, count(*)
  FROM rescues r
 WHERE r.opened_at >= %(from)s AND r.opened_at < %(to)s AND ({scope})
   AND r.on_site_tier IS NOT NULL
 GROUP BY GROUPING SETS (({key}, r.on_site_tier), (r.on_site_tier))
UNION ALL
SELECT {key}, GROUPING({key}), 'escalations', NULL, count(*)
  FROM rescues r JOIN rescue_escalations x ON x.rescue_id = r.rescue_id
 WHERE r.opened_at >= %(from)s AND r.opened_at < %(to)s AND ({scope})
 GROUP BY GROUPING SETS (({key}), ())
"""


def _share(n: int, total: int) -> float | None:
    return round(n / total, 6) if total else None


def _empty() -> dict[str, Any]:
    return {
        "rescues": 0,
        "dispatched_5": 0,
        "on_site_30": 0,
        "people_freed": 0,
        "injured": 0,
        **dict.fromkeys(_LEGS),
    }


def _figures(
    r: dict[str, Any], shares: dict[str, dict[str, int]], escalations: int
) -> dict[str, Any]:
    total = int(r["rescues"])
    out: dict[str, Any] = {
        "rescues": total,
        "dispatched_within_5min": _share(int(r["dispatched_5"]), total),
        "on_site_within_30min": _share(int(r["on_site_30"]), total),
        "people_freed": int(r["people_freed"]),
        "injured": int(r["injured"]),
        "escalations": escalations,
    }
    for leg in _LEGS:
        pair = r.get(leg)
        median, p90 = (pair[0], pair[1]) if pair and pair[0] is not None else (None, None)
        out[f"{leg}_median_s"] = None if median is None else round(float(median), 3)
        out[f"{leg}_p90_s"] = None if p90 is None else round(float(p90), 3)
    for what, field in (("cause", "by_cause"), ("tier", "by_tier")):
        counts = shares.get(what, {})
        n = sum(counts.values())
        out[field] = {k: round(v / n, 6) for k, v in sorted(counts.items())} if n else {}
    return out


async def rescue_figures(
    conn: AsyncConnection,
    *,
    group_by: str,
    since: datetime,
    until: datetime,
    scope: sql.Composable,
    params: dict[str, Any],
) -> tuple[dict[str | None, dict[str, Any]], dict[str, Any]]:
    """The figures per group key and overall."""
    key = sql.SQL(GROUPS[group_by])
    args = {**params, "from": since, "to": until}
    async with conn.transaction():
        # The percentiles sort every leg of the window: in memory, not on disk.
        await conn.execute(f"SET LOCAL work_mem = '{SORT_MEMORY}'")
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(sql.SQL(_FIGURES).format(key=key, scope=scope), args)
        rows = await cur.fetchall()
        await cur.execute(sql.SQL(_SHARES).format(key=key, scope=scope), args)
        share_rows = await cur.fetchall()
    # (overall?, key) -> what -> value -> n
    shares: dict[tuple[bool, str | None], dict[str, dict[str, int]]] = {}
    escalations: dict[tuple[bool, str | None], int] = {}
    for s in share_rows:
        at = (bool(s["overall"]), None if s["overall"] else s["key"])
        if s["what"] == "escalations":
            escalations[at] = int(s["n"])
        else:
            shares.setdefault(at, {}).setdefault(s["what"], {})[str(s["value"])] = int(s["n"])
    groups: dict[str | None, dict[str, Any]] = {}
    overall = _figures(_empty(), {}, 0)
    for r in rows:
        at = (bool(r["overall"]), None if r["overall"] else r["key"])
        figures = _figures(r, shares.get(at, {}), escalations.get(at, 0))
        if r["overall"]:
            overall = figures
        else:
            groups[r["key"]] = figures
    return groups, overall
