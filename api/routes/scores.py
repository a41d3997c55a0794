"""Maintenance scores: one elevator's, and the fleet's worst first.

Scores are computed for the whole fleet at once (semon/store/scores.py) and
stored; a request refreshes them first when any is missing or older than
``settings.score.stale_after_s``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field

from api.auth import require_roles
from api.deps import PoolDep, SettingsDep
from api.scope import ScopeDep
from semon.domain.common import ID_PATTERN
from semon.i18n import msg
from semon.store.scores import ensure_fresh, score_of, worst_scores

router = APIRouter(tags=["scores"])

# Scores are the firms' and the regulators' business; dispatch and stations have none.
SCORE_READERS = require_roles("admin", "maintenance", "regulator")


class Factor(BaseModel):
    name: str = Field(examples=["age_years"])
    value: float | str | None = Field(
        description="the factor's input (null: unknown, counted as average)", examples=[17.2]
    )
    weight: float = Field(description="the most points this factor can deduct", examples=[15])
    contribution: float = Field(description="points deducted (<= 0)", examples=[-9.75])


class Score(BaseModel):
    elevator_id: str = Field(examples=["GZ-TH-000123"])
    firm_id: str | None = Field(default=None, examples=["firm-01"])
    district: str | None = Field(default=None, examples=["Tianhe"])
    score: float = Field(ge=0, le=100, description="100 plus the contributions", examples=[72.5])
    grade: str = Field(pattern="^[ABCD]$", examples=["B"])
    interval_days: int = Field(description="maintenance interval, days", examples=[60])
    factors: list[Factor]
    vetoes: list[str] = Field(
        description="veto items that force the 15-day default interval",
        examples=[["inspection_overdue"]],
    )
    computed_at: datetime


class ScorePage(BaseModel):
    items: list[Score]
    total: int = Field(description="elevators in scope (and firm, if given)")
    limit: int
    offset: int


def _score(row: dict[str, Any]) -> Score:
    return Score.model_validate(row)


@router.get(
    "/elevators/{elevator_id}/score",
    response_model=Score,
    responses={404: {"description": "no such elevator in scope"}},
    dependencies=[SCORE_READERS],
)
async def elevator_score(
    elevator_id: Annotated[str, Path(pattern=ID_PATTERN, examples=["GZ-TH-000123"])],
    scope: ScopeDep,
    pool: PoolDep,
    settings: SettingsDep,
) -> Score:
    """The elevator's score, grade, interval and every factor behind them."""
    async with pool.connection() as conn:
        await ensure_fresh(conn, settings, now=datetime.now(UTC))
        where, params = scope.elevators("e")
        row = await score_of(conn, elevator_id, scope=where, params=params)
    if row is None:
        raise HTTPException(404, msg("api.problem.elevator_not_found"))
    return _score(row)


@router.get("/maintenance/scores", response_model=ScorePage, dependencies=[SCORE_READERS])
async def fleet_scores(
    scope: ScopeDep,
    pool: PoolDep,
    settings: SettingsDep,
    firm_id: Annotated[
        str | None, Query(pattern=ID_PATTERN, max_length=64, description="only this firm's")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> ScorePage:
    """Every elevator in scope, worst score first, one page at a time."""
    where, params = scope.elevators("e")
    limit = min(limit, settings.api.page_size_max)
    async with pool.connection() as conn:
        await ensure_fresh(conn, settings, now=datetime.now(UTC))
        total, rows = await worst_scores(
            conn, scope=where, params=params, firm_id=firm_id, limit=limit, offset=offset
        )
    return ScorePage(items=[_score(r) for r in rows], total=total, limit=limit, offset=offset)
