"""An elevator's file: registry record, latest status, history."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query

from api.deps import PoolDep, ReaderDep, SettingsDep
from api.query_time import QueryTime
from api.schemas import ElevatorFile, ElevatorHistory, Problem, RescueTime, speaking
from api.scope import ScopeDep
from semon.domain.common import ID_PATTERN
from semon.i18n import msg
from semon.store.alert_reads import alerts_for_equipment
from semon.store.elevator_file import (
    fetch_elevator,
    fetch_events,
    fetch_latest_status,
    fetch_samples,
)

router = APIRouter(prefix="/elevators", tags=["elevators"])
ElevatorId = Annotated[str, Path(pattern=ID_PATTERN, examples=["EL-000123"])]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such elevator in your scope"}
}
MAX_EVENTS = 5000
MAX_RAW_SAMPLES = 20_000


def _secs(later: datetime | None, earlier: datetime) -> float | None:
    return None if later is None else (later - earlier).total_seconds()


def rescue_times(alerts: list[dict[str, Any]]) -> list[RescueTime]:
    out = []
    for a in alerts:
        if a["kind"] != "trapped_passenger":
            continue
        held = a["details"].get("held_s") if isinstance(a["details"], dict) else None
        if not isinstance(held, int | float) and a["ended_at"] is not None:
            held = (a["ended_at"] - a["started_at"]).total_seconds()
        out.append(
            RescueTime(
                alert_id=a["alert_id"],
                state=a["state"],
                started_at=a["started_at"],
                raised_at=a["raised_at"],
                to_acknowledge_s=_secs(a["acknowledged_at"], a["raised_at"]),
                to_on_site_s=_secs(a["on_site_at"], a["raised_at"]),
                to_resolved_s=_secs(a["resolved_at"], a["raised_at"]),
                held_s=float(held) if isinstance(held, int | float) else None,
                resolution=a["resolution"],
            )
        )
    return out


@router.get(
    "/{elevator_id}",
    response_model=ElevatorFile,
    responses=NOT_FOUND,
    summary="Registry record, firm, latest status and open alerts",
)
async def get_elevator(
    elevator_id: ElevatorId, scope: ScopeDep, pool: PoolDep, speaker: ReaderDep
) -> ElevatorFile:
    where, params = scope.elevators("e")
    alert_where, alert_params = scope.alerts("a")
    async with pool.connection() as conn:
        row = await fetch_elevator(conn, elevator_id, where, params)
        if row is None:
            raise HTTPException(404, msg("api.problem.elevator_not_found"))
        latest = await fetch_latest_status(conn, elevator_id)
        open_alerts = await alerts_for_equipment(
            conn, "elevator", elevator_id, alert_where, alert_params, open_only=True, limit=200
        )
    firm = row.pop("firm")
    return ElevatorFile.model_validate(
        {
            "elevator": row,
            "firm": firm,
            "latest_status": latest,
            "open_alerts": open_alerts,
        },
        context=speaking(speaker),
    )


def _window_edge(name: str, description: str, example: str) -> Any:
    """The `Query` of `?from=` or `?to=`, the history window's edges."""
    return Query(alias=name, description=description, examples=[example])


@router.get(
    "/{elevator_id}/history",
    response_model=ElevatorHistory,
    responses={**NOT_FOUND, 422: {"description": "Window out of bounds"}},
    summary="Samples (downsampled with date_bin for long windows), events, alerts, rescue times",
)
async def get_history(
    elevator_id: ElevatorId,
    scope: ScopeDep,
    pool: PoolDep,
    settings: SettingsDep,
    speaker: ReaderDep,
    start: Annotated[
        QueryTime | None,
        _window_edge("from", "Window start (default: `to` minus 24 h)", "2026-11-21T00:00:00Z"),
    ] = None,
    end: Annotated[
        QueryTime | None,
        _window_edge("to", "Window end, exclusive (default: now)", "2026-11-22T00:00:00Z"),
    ] = None,
) -> ElevatorHistory:
    end = end or datetime.now(UTC)
    start = start or end - timedelta(hours=24)
    span = (end - start).total_seconds()
    if span <= 0:
        raise HTTPException(422, msg("api.problem.window_reversed"))
    if span > settings.api.history_max_days * 86400:
        raise HTTPException(
            422, msg("api.problem.window_too_long", days=settings.api.history_max_days)
        )
    step: int | None = None
    if span > settings.api.history_raw_max_s:
        step = max(1, math.ceil(span / settings.api.history_max_points))
    where, params = scope.elevators("e")
    alert_where, alert_params = scope.alerts("a")
    async with pool.connection() as conn:
        if await fetch_elevator(conn, elevator_id, where, params) is None:
            raise HTTPException(404, msg("api.problem.elevator_not_found"))
        limit = MAX_RAW_SAMPLES if step is None else settings.api.history_max_points
        samples = await fetch_samples(conn, elevator_id, start, end, step_s=step, limit=limit + 1)
        events = await fetch_events(conn, elevator_id, start, end, MAX_EVENTS)
        alerts = await alerts_for_equipment(
            conn, "elevator", elevator_id, alert_where, alert_params, start=start, end=end
        )
    return ElevatorHistory.model_validate(
        {
            "elevator_id": elevator_id,
            "from": start,
            "to": end,
            "resolution_s": step,
            "samples": samples[:limit],
            "samples_truncated": len(samples) > limit,
            "events": events,
            "alerts": alerts,
            "rescues": rescue_times(alerts),
        },
        context=speaking(speaker),
    )
