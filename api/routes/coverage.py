"""`/stats/coverage`: in-service equipment covered by insurance, a tag or
IoT, per group, under the caller's scope (the monthly report reads it too)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response
from psycopg import AsyncConnection
from pydantic import BaseModel, Field

from api.deps import PoolDep
from api.routes.stats import as_json, equipment_rows
from api.scope import Scope, ScopeDep
from semon.domain.common import Day
from semon.i18n import msg
from semon.store import coverage as coverage_store

router = APIRouter(prefix="/stats", tags=["statistics"])


class Coverage(BaseModel):
    total: int = Field(description="in-service equipment in the group", examples=[120])
    covered: int = Field(examples=[112])
    rate: float = Field(description="covered / total (0 when total is 0)", examples=[0.933])


class CoverageGroup(Coverage):
    key: str | None


class CoverageStats(BaseModel):
    metric: Literal["insurance", "tag", "iot"]
    equipment: Literal["elevator", "cylinder"]
    group_by: str
    at: datetime
    groups: list[CoverageGroup]
    overall: Coverage


def coverage_moment(at: date | None) -> datetime:
    """The moment judged: the start of `at` (UTC), or now."""
    if at is None:
        return datetime.now(UTC)
    return datetime(at.year, at.month, at.day, tzinfo=UTC)


@router.get("/coverage", response_model=CoverageStats)
async def coverage(
    scope: ScopeDep,
    pool: PoolDep,
    metric: Literal["insurance", "tag", "iot"] = "insurance",
    equipment: Literal["elevator", "cylinder"] = "elevator",
    group_by: Literal["district", "firm_id", "use_unit", "station_id"] = "district",
    at: Annotated[
        Day | None, Query(description="the day judged, from its start (UTC); default now")
    ] = None,
) -> Response:
    """In-service equipment in scope covered by insurance (insured on `at`),
    a tag (cylinders: `qr` or `rfid`) or IoT (elevators whose terminal was
    heard from in the 24 h before `at`)."""
    async with pool.connection() as conn:
        result = await coverage_for(conn, scope, metric, equipment, group_by, coverage_moment(at))
    return as_json(result)


async def coverage_for(
    conn: AsyncConnection, scope: Scope, metric: str, equipment: str, group_by: str, at: datetime
) -> dict[str, Any]:
    """The store's coverage figures under the caller's scope (the report uses it too)."""
    if metric not in coverage_store.METRICS[equipment]:
        raise HTTPException(
            422, msg("regulator.problem.metric", metric=metric, equipment=equipment)
        )
    rows = equipment_rows(scope, equipment, group_by, problems="regulator")
    return await coverage_store.coverage(
        conn, metric=metric, equipment=equipment, group_by=group_by, at=at, scope=rows
    )
