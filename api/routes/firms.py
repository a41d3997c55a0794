"""Firm scorecards: one firm's card with every deduction and the events
behind it, and the cards of every firm (or district) in scope.

A firm sees its own card only (another firm's is 404, as if it did not
exist); a regulator sees firms over the lifts of its districts; the sheet
is ``settings.scorecard`` (semon/settings_firms.py).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, Field

from api.auth import require_roles
from api.deps import PoolDep, ReaderDep, SettingsDep
from api.query_time import QueryTime
from api.scope import ScopeDep
from semon.domain.common import ID_PATTERN
from semon.i18n import Reader, msg
from semon.store.scorecards import CardWindow, firm_scorecard, groups_and_overall

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
    maintenance_overdue: int = Field(description="in-service lifts overdue on `at`")
    maintenance_overdue_rate: float = Field(description="their share of the lifts held")
    records_checked: int = Field(description="records in the window with a verdict")
    records_contradicted: int = Field(description="of them, contradicted by the terminal")
    contradicted_share: float
    traps: int = Field(description="trapped-passenger alerts started in the window")
    traps_per_100_per_year: float
    caused_traps: int = Field(description="traps with cause equipment or human")
    median_arrival_s: float | None = Field(description="alert to on site; null: no arrival")
    inspections: int = Field(description="inspections of the lifts in the window")
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


async def card_window(
    scope: ScopeDep,
    settings: SettingsDep,
    start: Annotated[
        QueryTime | None,
        Query(alias="from", description="Window start (default: `to` less a year)"),
    ] = None,
    end: Annotated[
        QueryTime | None, Query(alias="to", description="Window end (default: now)")
    ] = None,
) -> CardWindow:
    """The window asked for (default the last ``scorecard.window_days``) over
    the lifts in the reader's scope."""
    now = datetime.now(UTC)
    end = end or now
    start = start or end - timedelta(days=settings.scorecard.window_days)
    if end <= start:
        raise HTTPException(422, msg("firms.problem.window_order"))
    if end - start > timedelta(days=3660):
        raise HTTPException(422, msg("firms.problem.window_too_long", years=10))
    where, params = scope.elevators("e")
    return CardWindow(
        since=start,
        until=end,
        at=min(end, now).date(),
        default_days=settings.alerts.default_maintenance_interval_days,
        scope=where,
        params=params,
    )


WindowDep = Annotated[CardWindow, Depends(card_window)]


async def own_firm(
    firm_id: Annotated[str, Path(pattern=ID_PATTERN, examples=["firm-01"])], scope: ScopeDep
) -> str:
    """The firm asked for; a firm asking for another's is told it does not exist."""
    if scope.firm_id is not None and scope.firm_id != firm_id:
        raise HTTPException(404, msg("firms.problem.firm_not_found", firm_id=firm_id))
    return firm_id


@router.get(
    "/firms/{firm_id}/scorecard",
    response_model=Scorecard,
    response_model_by_alias=True,
    responses={404: {"description": "no such firm with lifts in your scope"}},
    dependencies=[READERS],
)
async def get_scorecard(
    firm_id: Annotated[str, Depends(own_firm)],
    window: WindowDep,
    pool: PoolDep,
    settings: SettingsDep,
    say: ReaderDep,
) -> Any:
    """The firm's figures, grade and every deduction with its events."""
    async with pool.connection() as conn:
        out = await firm_scorecard(conn, settings.scorecard, firm_id, window)
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
    window: WindowDep,
    pool: PoolDep,
    settings: SettingsDep,
    say: ReaderDep,
    group_by: Literal["firm_id", "district"] = "firm_id",
) -> Any:
    """Every firm's (or district's) card over the lifts in scope, worst first."""
    async with pool.connection() as conn:
        groups, overall = await groups_and_overall(
            conn, settings.scorecard, window, group_by=group_by
        )
    groups.sort(key=lambda c: (c["score"], str(c["key"])))
    return {
        "group_by": group_by,
        "from": window.since,
        "to": window.until,
        "groups": [_labelled(g, say) for g in groups],
        "overall": _labelled(overall, say) if overall else None,
    }
