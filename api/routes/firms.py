"""Firm scorecards: one firm's card with every deduction and the events
behind it, and the cards of every firm (or district) in scope.

A firm sees its own card only (another firm's is 404, as if it did not
exist); a regulator sees firms over the lifts of its districts; the sheet
is ``settings.scorecard`` (semon/settings_firms.py).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field

from api.auth import require_roles
from api.deps import PoolDep, ReaderDep, SettingsDep
from api.query_time import QueryTime
from api.scope import ScopeDep
from semon.domain.common import ID_PATTERN
from semon.i18n import Reader, msg
from semon.settings import Settings
from semon.store.scorecards import firm_scorecard, group_figures

router = APIRouter(tags=["firms"])
READERS = require_roles("admin", "maintenance", "regulator")


class Deduction(BaseModel):
    name: str = Field(examples=["contradicted_records"])
    value: float | None = Field(description="the figure the line judges", examples=[4.5])
    label: str = Field(default="", description="the line's name in the reader's language")
    unit: str = Field(examples=["percent_of_checked_records"])
    unit_label: str = Field(default="", examples=["% of checked records"])
    points: float = Field(description="points deducted (0 to cap)", examples=[9.0])
    cap: float = Field(description="the most this line can deduct", examples=[30.0])
    events: list[dict[str, Any]] | None = Field(
        default=None, description="what the deduction rests on (one firm's card only)"
    )


class Figures(BaseModel):
    maintenance_overdue: int
    maintenance_overdue_rate: float
    records_checked: int
    records_contradicted: int
    contradicted_share: float
    traps: int
    traps_per_100_per_year: float
    caused_traps: int = Field(description="traps with cause equipment or human")
    median_arrival_s: float | None
    inspections: int
    failed_inspections: int
    failed_inspection_rate: float
    faults_per_1000_trips: float | None = Field(
        description="mean of the lifts' score factor (last 30 days)"
    )


class Card(BaseModel):
    key: str | None = Field(description="the firm or district")
    elevators: int = Field(description="in-service lifts held (in scope)")
    figures: Figures
    score: float = Field(description="100 less the deductions")
    grade: Literal["A", "B", "C", "D"]
    deductions: list[Deduction]


class Scorecard(Card):
    firm_id: str
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    at: date = Field(description="the day maintenance overdue is judged at")


class FirmStats(BaseModel):
    group_by: str
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    groups: list[Card]
    overall: Card | None


def _labelled(card: dict[str, Any], say: Reader) -> dict[str, Any]:
    for line in card["deductions"]:
        line["label"] = say.label("scorecard.deduction", line["name"])
        line["unit_label"] = say.label("scorecard.unit", line["unit"])
    return card


def _window(
    settings: Settings, start: datetime | None, end: datetime | None
) -> tuple[datetime, datetime, date]:
    now = datetime.now(UTC)
    end = end or now
    start = start or end - timedelta(days=settings.scorecard.window_days)
    if end <= start:
        raise HTTPException(422, msg("firms.problem.window_order"))
    if end - start > timedelta(days=3660):
        raise HTTPException(422, msg("firms.problem.window_too_long", years=10))
    return start, end, min(end, now).date()


From = Annotated[
    QueryTime | None, Query(alias="from", description="Window start (default: `to` less a year)")
]
To = Annotated[QueryTime | None, Query(alias="to", description="Window end (default: now)")]


@router.get(
    "/firms/{firm_id}/scorecard",
    response_model=Scorecard,
    response_model_by_alias=True,
    responses={404: {"description": "no such firm with lifts in your scope"}},
    dependencies=[READERS],
)
async def get_scorecard(
    firm_id: Annotated[str, Path(pattern=ID_PATTERN, examples=["firm-01"])],
    scope: ScopeDep,
    pool: PoolDep,
    settings: SettingsDep,
    say: ReaderDep,
    start: From = None,
    end: To = None,
) -> Any:
    """The firm's figures, grade and every deduction with its events."""
    if scope.firm_id is not None and scope.firm_id != firm_id:
        raise HTTPException(404, msg("firms.problem.firm_not_found", firm_id=firm_id))
    since, until, at = _window(settings, start, end)
    where, params = scope.elevators("e")
    async with pool.connection() as conn:
        out = await firm_scorecard(
            conn,
            settings.scorecard,
            firm_id,
            since=since,
            until=until,
            at=at,
            default_days=settings.alerts.default_maintenance_interval_days,
            scope=where,
            params=params,
        )
    if out is None:
        raise HTTPException(404, msg("firms.problem.firm_not_found", firm_id=firm_id))
    return _labelled(out, say)


@router.get(
    "/stats/firms",
    response_model=FirmStats,
    response_model_by_alias=True,
    dependencies=[READERS],
)
async def get_firm_stats(
    scope: ScopeDep,
    pool: PoolDep,
    settings: SettingsDep,
    say: ReaderDep,
    group_by: Literal["firm_id", "district"] = "firm_id",
    start: From = None,
    end: To = None,
) -> Any:
    """Every firm's (or district's) card over the lifts in scope, worst first."""
    since, until, at = _window(settings, start, end)
    where, params = scope.elevators("e")
    kw: dict[str, Any] = {
        "since": since,
        "until": until,
        "at": at,
        "default_days": settings.alerts.default_maintenance_interval_days,
        "scope": where,
        "params": params,
    }
    async with pool.connection() as conn:
        groups = await group_figures(conn, settings.scorecard, group_by=group_by, **kw)
        overall = await group_figures(conn, settings.scorecard, group_by="all", **kw)
    groups.sort(key=lambda c: (c["score"], str(c["key"])))
    return {
        "group_by": group_by,
        "from": since,
        "to": until,
        "groups": [_labelled(g, say) for g in groups],
        "overall": _labelled(overall[0], say) if overall else None,
    }
