"""Regulator statistics: overdue inspections, illegal fillings, rescue times,
overdue maintenance, hazards (coverage: api/routes/coverage.py). Role and
scope go into each query's WHERE clause."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Generic, Literal, TypeVar

import orjson
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from pydantic import BaseModel, Field

from api.deps import PoolDep, SettingsDep
from api.query_time import QueryTime
from api.scope import Predicate, Scope, ScopeDep
from semon.domain.common import Day
from semon.i18n import msg
from semon.store import hazards as hazard_store
from semon.store import stats as store
from semon.store.rescue_stats import rescue_figures

router = APIRouter(prefix="/stats", tags=["statistics"])

# How long /stats/rescue and /stats/hazards wait for a second connection
# before running their two scans one after the other.
SECOND_CONNECTION_WAIT_S = 0.05
Pool = AsyncConnectionPool[AsyncConnection]


def as_json(result: dict[str, Any]) -> Response:
    """A statistics answer as the store shaped it (the response model's
    fields), encoded once by orjson. By use unit a city has 20,000 groups:
    validating and serializing them through pydantic cost several times the
    query."""
    return Response(
        orjson.dumps(result, option=orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS),
        media_type="application/json",
    )


# Windows longer than this are refused: statistics read alerts by started_at.
MAX_WINDOW_DAYS = 3660

When = TypeVar("When", datetime, date)
GroupT = TypeVar("GroupT", bound=BaseModel)
FiguresT = TypeVar("FiguresT", bound=BaseModel)


# Figures over a window [from, to), per group and overall (no docstring: the
# document describes each answer by its own class).
class InWindow(BaseModel, Generic[When, GroupT, FiguresT]):
    group_by: str
    from_: When = Field(alias="from")
    to: When
    groups: list[GroupT]
    overall: FiguresT


class Rate(BaseModel):
    total: int = Field(examples=[120])
    overdue: int = Field(examples=[6])
    rate: float = Field(description="overdue / total (0 when total is 0)", examples=[0.05])


class RateGroup(Rate):
    key: str | None = Field(
        description="the group's value (null: not recorded)", examples=["Tianhe"]
    )


class InspectionRate(Rate):
    failed_in_use: int = Field(
        description="in service with its latest inspection failed (no later pass)", examples=[1]
    )
    failed_in_use_rate: float = Field(description="failed_in_use / total", examples=[0.008])


class InspectionRateGroup(InspectionRate):
    key: str | None = Field(
        description="the group's value (null: not recorded)", examples=["Tianhe"]
    )


class OverdueInspections(BaseModel):
    equipment: Literal["elevator", "cylinder"]
    group_by: str
    at: date
    groups: list[InspectionRateGroup]
    overall: InspectionRate


class MaintenanceOverdue(BaseModel):
    group_by: str
    at: date
    groups: list[RateGroup]
    overall: Rate


class StationFillings(BaseModel):
    station_id: str | None
    total: int
    by_kind: dict[str, int] = Field(examples=[{"overfill": 2, "gas_mismatch": 1}])


class IllegalFillings(BaseModel):
    from_: datetime = Field(alias="from")
    to: datetime
    stations: list[StationFillings]
    by_kind: dict[str, int]
    total: int


class RescueFigures(BaseModel):
    count: int = Field(description="trapped-passenger alerts started in the window")
    ack_median_s: float | None = Field(description="seconds from raised to acknowledged")
    ack_p90_s: float | None
    on_site_median_s: float | None = Field(description="seconds from raised to on site")
    on_site_p90_s: float | None
    resolved_median_s: float | None = Field(description="seconds from raised to resolved")
    resolved_p90_s: float | None
    on_site_within_30min_share: float | None = Field(
        description="live alerts with someone on site within 30 min of raising", examples=[0.93]
    )
    false_alarm_share: float | None = Field(description="resolved as false_alarm", examples=[0.1])
    # The work order's figures (v1.1), over rescues opened in the window.
    rescues: int = Field(0, description="rescues opened in the window")
    dispatched_within_5min: float | None = Field(
        None, description="share of rescues dispatched within 5 min of opening", examples=[0.97]
    )
    open_to_dispatch_median_s: float | None = Field(None, description="opening to dispatch")
    open_to_dispatch_p90_s: float | None = None
    dispatch_to_on_site_median_s: float | None = Field(None, description="dispatch to on site")
    dispatch_to_on_site_p90_s: float | None = None
    on_site_to_freed_median_s: float | None = Field(None, description="on site to freed")
    on_site_to_freed_p90_s: float | None = None
    on_site_within_30min: float | None = Field(
        None, description="share of rescues with someone on site within 30 min of opening"
    )
    people_freed: int = Field(0, description="people freed (trapped_count of freed rescues)")
    injured: int = Field(0, description="people injured")
    by_cause: dict[str, float] = Field(
        default_factory=dict,
        description="share of each cause among rescues with one",
        examples=[{"external": 0.6, "door_system": 0.3, "human": 0.1}],
    )
    by_tier: dict[str, float] = Field(
        default_factory=dict,
        description="share of rescues reached by each tier (1 firm, 2 rescue organisation, 3 fire)",
        examples=[{"1": 0.9, "2": 0.08, "3": 0.02}],
    )
    escalations: int = Field(0, description="missed deadlines of these rescues")


class RescueGroup(RescueFigures):
    key: str | None


class Rescue(InWindow[datetime, RescueGroup, RescueFigures]):
    pass


def _window(since: When | None, until: When | None, default_until: When) -> tuple[When, When]:
    """[from, to): default the 30 days up to `default_until`; refused reversed
    or longer than MAX_WINDOW_DAYS."""
    until = until or default_until
    since = since or until - timedelta(days=30)
    if since >= until:
        raise HTTPException(422, msg("api.problem.window_reversed"))
    if until - since > timedelta(days=MAX_WINDOW_DAYS):
        raise HTTPException(422, msg("api.problem.window_too_long", days=MAX_WINDOW_DAYS))
    return since, until


FromQ = Annotated[QueryTime | None, Query(alias="from", description="default: 30 days before to")]
ToQ = Annotated[QueryTime | None, Query(alias="to", description="default: now")]


@router.get("/overdue-inspections", response_model=OverdueInspections)
async def overdue_inspections(
    scope: ScopeDep,
    pool: PoolDep,
    equipment: Literal["elevator", "cylinder"] = "elevator",
    group_by: Literal["district", "firm_id", "use_unit", "station_id"] = "district",
    at: Annotated[
        Day | None, Query(description="the date judged (YYYY-MM-DD); default today (UTC)")
    ] = None,
) -> Response:
    """In-service equipment in scope whose base date (latest pass or
    conditional inspection, else installation or manufacture; a fail never
    renews it) plus its interval is before `at`; and those whose latest
    inspection failed (`failed_in_use`)."""
    day = at or datetime.now(UTC).date()
    rows = equipment_rows(scope, equipment, group_by, problems="api")
    async with pool.connection() as conn:
        result = await store.overdue_inspections(
            conn, equipment=equipment, group_by=group_by, at=day, scope=rows
        )
    return as_json(result)


@router.get("/illegal-fillings", response_model=IllegalFillings)
async def illegal_fillings(
    scope: ScopeDep, pool: PoolDep, since: FromQ = None, until: ToQ = None
) -> IllegalFillings:
    """Illegal or unsafe fillings (the filling alert kinds) by station and kind."""
    if scope.role == "maintenance":
        raise HTTPException(403, msg("api.problem.firm_sees_no_fillings"))
    start, end = _window(since, until, datetime.now(UTC))
    async with pool.connection() as conn:
        result = await store.illegal_fillings(conn, since=start, until=end, scope=scope.alerts("a"))
    return IllegalFillings.model_validate(result)


@router.get("/rescue", response_model=Rescue)
async def rescue(
    scope: ScopeDep,
    pool: PoolDep,
    group_by: Literal["district", "firm_id"] = "district",
    since: FromQ = None,
    until: ToQ = None,
) -> Rescue:
    """Trapped-passenger response: times to acknowledge, to on site and to
    resolved (median, p90), the 30-minute on-site share, the false-alarm share."""
    if scope.role == "station":
        raise HTTPException(403, msg("api.problem.station_sees_no_elevators"))
    start, end = _window(since, until, datetime.now(UTC))
    where, params = scope.alerts("a")
    r_where, r_params = scope.rescues("r")
    async with pool.connection() as conn, spare_connection(pool) as second:
        alerts_part = store.rescue(
            conn, group_by=group_by, since=start, until=end, scope=where, params=params
        )

        def orders(c: AsyncConnection) -> Awaitable[tuple[dict[str | None, Any], Any]]:
            return rescue_figures(
                c, group_by=group_by, since=start, until=end, scope=r_where, params=r_params
            )

        # The alert figures and the work order's are independent scans: side
        # by side on the second connection (two cores) where there is one.
        if second is None:
            result = await alerts_part
            groups, overall = await orders(conn)
        else:
            result, (groups, overall) = await asyncio.gather(alerts_part, orders(second))
    # The alert figures and the work order's, side by side for each group.
    by_key = {g["key"]: g for g in result["groups"]}
    for key, figures in groups.items():
        none = dict.fromkeys(RescueFigures.model_fields)  # no alert in the window
        by_key.setdefault(key, {**none, "key": key, "count": 0}).update(figures)
    result["groups"] = sorted(by_key.values(), key=lambda g: (g["key"] is None, g["key"] or ""))
    result["overall"].update(overall)
    return Rescue.model_validate(result)


@router.get("/maintenance-overdue", response_model=MaintenanceOverdue)
async def maintenance_overdue(
    scope: ScopeDep,
    pool: PoolDep,
    settings: SettingsDep,
    group_by: Literal["district", "firm_id"] = "district",
    at: Annotated[
        Day | None, Query(description="the date judged (YYYY-MM-DD); default today (UTC)")
    ] = None,
) -> MaintenanceOverdue:
    """In-service elevators whose last maintenance (installation where none)
    plus their current interval (elevator_scores; 15 days unscored) is before `at`."""
    if scope.role == "station":
        raise HTTPException(403, msg("api.problem.station_sees_no_elevators"))
    async with pool.connection() as conn:
        result = await store.maintenance_overdue(
            conn,
            group_by=group_by,
            at=at or datetime.now(UTC).date(),
            default_days=settings.alerts.default_maintenance_interval_days,
            scope=scope.elevators("e"),
        )
    return MaintenanceOverdue.model_validate(result)


class HazardFigures(BaseModel):
    found: int = Field(description="hazards found in the window")
    rectified: int = Field(description="of those, rectified or verified")
    overdue: int = Field(description="of those, deadline passed before rectification")
    serious_found: int
    serious_rectified: int
    serious_rectification_rate: float | None = Field(
        description="serious_rectified / serious_found (null: none found)", examples=[1.0]
    )
    use_units: int = Field(description="use units with an elevator in service")
    use_units_complete: int = Field(
        description="of those, with every daily, weekly and monthly check of the window"
    )
    self_check_rate: float | None = Field(
        description="use_units_complete / use_units (null: no use units)", examples=[0.975]
    )


class HazardGroup(HazardFigures):
    key: str | None


class HazardStats(InWindow[date, HazardGroup, HazardFigures]):
    pass


@router.get("/hazards", response_model=HazardStats)
async def hazards(
    scope: ScopeDep,
    pool: PoolDep,
    group_by: Literal["district", "use_unit", "firm_id"] = "district",
    since: Annotated[
        Day | None, Query(alias="from", description="first day (default: 30 days before to)")
    ] = None,
    until: Annotated[
        Day | None, Query(alias="to", description="day after the last (default: tomorrow)")
    ] = None,
) -> Response:
    """Hazards found in [from, to) per group: found, rectified, overdue, the
    serious-rectification rate; and the self-check rate (use units with every
    daily, weekly and monthly check of the window recorded)."""
    # In days: the 30 days up to today.
    start, end = _window(since, until, datetime.now(UTC).date() + timedelta(days=1))
    async with pool.connection() as conn, spare_connection(pool) as second:
        result = await hazard_stats_for(conn, scope, group_by, start, end, second)
    return as_json(result)


@asynccontextmanager
async def spare_connection(pool: Pool) -> AsyncIterator[AsyncConnection | None]:
    """A second pooled connection when one is free at once, else None: never
    waiting for it (requests each holding one and waiting for a second could
    starve the pool). Given back as pool.connection() gives it back."""
    async with AsyncExitStack() as stack:
        try:
            conn = await stack.enter_async_context(
                pool.connection(timeout=SECOND_CONNECTION_WAIT_S)
            )
        except PoolTimeout:
            conn = None
        yield conn


async def hazard_stats_for(
    conn: AsyncConnection,
    scope: Scope,
    group_by: str,
    start: date,
    end: date,
    second: AsyncConnection | None = None,
) -> dict[str, Any]:
    """The store's figures under the caller's scope (the monthly report uses it
    too); the self-checks side by side on `second` where given."""
    h_where, h_params = scope.hazards("h")
    e_where, e_params = scope.elevators("e")
    return await hazard_store.hazard_stats(
        conn,
        group_by=group_by,
        since=start,
        until=end,
        today=datetime.now(UTC).date(),
        hazard_scope=h_where,
        elevator_scope=e_where,
        params={**h_params, **e_params},
        units_conn=second,
    )


def equipment_rows(
    scope: Scope, equipment: str, group_by: str, *, problems: Literal["api", "regulator"]
) -> Predicate:
    """The caller's scope over the equipment's rows (``e`` elevators, ``c``
    cylinders), once the grouping is one the equipment has (422) and the role
    sees the equipment (403: a station no elevators; a firm no cylinders,
    nor a use unit where the regulator's problems are said)."""
    regulator = problems == "regulator"
    if equipment == "elevator":
        if group_by not in store.ELEVATOR_GROUPS:
            if regulator:
                raise HTTPException(422, msg("regulator.problem.elevator_groups"))
            raise HTTPException(422, msg("api.problem.elevator_groups"))
        if scope.role == "station":
            raise HTTPException(403, msg("api.problem.station_sees_no_elevators"))
        return scope.elevators("e")
    if group_by not in store.CYLINDER_GROUPS:
        if regulator:
            raise HTTPException(422, msg("regulator.problem.cylinder_groups"))
        raise HTTPException(422, msg("api.problem.cylinder_groups"))
    if regulator and scope.role in ("maintenance", "use_unit"):
        raise HTTPException(403, msg("regulator.problem.no_cylinders", role=scope.role))
    if scope.role == "maintenance":
        raise HTTPException(403, msg("api.problem.firm_sees_no_cylinders"))
    return scope.cylinders("c")
