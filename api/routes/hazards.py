"""Hazards (found, rectified, verified) and the use unit's self-checks
(CONTRACT.md v1.1 "Inspections, hazards, self-checks")."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Body, HTTPException, Query
from pydantic import BaseModel, Field

from api.auth import require_roles
from api.deps import PoolDep, SettingsDep
from api.scope import Scope, ScopeDep
from semon.domain.common import Day, Line
from semon.domain.common import Text as AnyText
from semon.i18n import msg
from semon.store import hazards as store

router = APIRouter(tags=["hazards"])

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
# At most 2,000 characters, no NUL (PostgreSQL cannot store one), not empty.
Text = Annotated[AnyText, Field(min_length=1)]
Level = Literal["general", "serious"]
Source = Literal["inspection", "supervision", "self_check", "alert", "maintenance"]
State = Literal["open", "rectified", "verified"]


class HazardIn(BaseModel):
    equipment_type: Literal["elevator", "cylinder"]
    equipment_id: Id = Field(examples=["GZ-TH-000123"])
    source: Source
    level: Level
    description: Text = Field(examples=["landing door gap over 6 mm"])
    found_on: Day = Field(examples=["2026-11-20"])
    deadline: Day | None = Field(
        None,
        description="default: found_on plus the configured days (30); not before found_on"
        " (a 422 naming `deadline`)",
    )


class HazardOut(BaseModel):
    hazard_id: str
    equipment_type: str
    equipment_id: str
    source: Source
    level: Level
    description: str
    found_on: date
    deadline: date
    state: State
    overdue: bool = Field(description="open and its deadline passed")
    district: str | None
    firm_id: str | None
    use_unit: str | None
    station_id: str | None
    reported_by: str | None
    rectified_at: datetime | None
    rectified_note: str | None
    evidence: str | None
    verified_at: datetime | None
    verified_by: str | None
    reopened_at: datetime | None
    created_at: datetime
    updated_at: datetime


class HazardActionBody(BaseModel):
    note: Annotated[str, Field(max_length=2000)] | None = None
    # a reference to the proof (photo id, document number)
    evidence: AnyText | None = None
    by: Line | None = None
    # The day the work was done, where it is reported afterwards (default today);
    # not before the finding, not in the future.
    rectified_on: Day | None = None


class Finding(BaseModel):
    equipment_id: Id
    level: Level
    description: Text


class SelfCheckIn(BaseModel):
    use_unit: Line = Field(examples=["Jiefang Mansions"])
    kind: Literal["daily", "weekly", "monthly"]
    done_on: Day
    by: Annotated[Line, Field(min_length=1)]
    equipment_ids: list[Id] | None = Field(None, max_length=10_000)
    findings: list[Finding] | None = Field(None, max_length=1000)


class SelfCheckOut(BaseModel):
    self_check_id: int
    hazards: list[HazardOut] = Field(description="one per finding")


def _today() -> date:
    return datetime.now(UTC).date()


def _out(row: dict[str, object], today: date) -> HazardOut:
    overdue = row["state"] == "open" and row["deadline"] < today  # type: ignore[operator]
    return HazardOut.model_validate({**row, "overdue": overdue})


def _equipment_scope(scope: Scope, equipment_type: str) -> tuple[object, dict[str, object]]:
    if equipment_type == "elevator":
        return scope.elevators("e")
    return scope.cylinders("c")


@router.post(
    "/hazards",
    response_model=HazardOut,
    status_code=201,
    responses={404: {"description": "equipment not in scope"}},
    dependencies=[require_roles("admin", "regulator", "maintenance", "use_unit")],
)
async def post_hazard(
    body: HazardIn, scope: ScopeDep, pool: PoolDep, settings: SettingsDep
) -> HazardOut:
    """Record a hazard found on one piece of equipment in scope."""
    if body.deadline is not None and body.deadline < body.found_on:
        raise HTTPException(422, msg("regulator.problem.deadline_before_found"))
    where, params = _equipment_scope(scope, body.equipment_type)
    deadline = body.deadline or body.found_on + timedelta(
        days=settings.regulator.hazard_deadline_days
    )
    async with pool.connection() as conn, conn.transaction():
        known = await store.equipment_in_scope(
            conn,
            body.equipment_type,
            [body.equipment_id],
            where,  # type: ignore[arg-type]
            params,
        )
        if not known:
            raise HTTPException(
                404, msg("regulator.problem.no_equipment", equipment_type=body.equipment_type)
            )
        row = await store.add_hazard(
            conn,
            store.NewHazard(
                equipment_type=body.equipment_type,
                equipment_id=body.equipment_id,
                source=body.source,
                level=body.level,
                description=body.description,
                found_on=body.found_on,
                deadline=deadline,
                reported_by=scope.items[0] if scope.items else scope.role,
            ),
        )
    return _out(row, _today())


@router.get("/hazards", response_model=list[HazardOut])
async def list_hazards(
    scope: ScopeDep,
    pool: PoolDep,
    settings: SettingsDep,
    state: State | None = None,
    level: Level | None = None,
    overdue: Annotated[bool | None, Query(description="open with the deadline passed")] = None,
) -> list[HazardOut]:
    """Hazards in scope, newest found first."""
    today, page = _today(), settings.regulator.hazards_page
    async with pool.connection() as conn:
        rows = await store.list_hazards(
            conn,
            state=state,
            level=level,
            overdue=overdue,
            today=today,
            limit=page,
            scope=scope.hazards("h"),
        )
    return [_out(r, today) for r in rows]


_NOT_FOUND: dict[int | str, dict[str, str]] = {404: {"description": "not in scope or no such"}}


@router.get("/hazards/{hazard_id}", response_model=HazardOut, responses=_NOT_FOUND)
async def get_hazard(hazard_id: str, scope: ScopeDep, pool: PoolDep) -> HazardOut:
    where, params = scope.hazards("h")
    async with pool.connection() as conn:
        row = await store.get_hazard(conn, hazard_id, where, params)
    if row is None:
        raise HTTPException(404, msg("regulator.problem.no_hazard"))
    return _out(row, _today())


# Who may take each action (within their scope).
_ACTORS: dict[str, frozenset[str]] = {
    "rectify": frozenset({"admin", "use_unit", "maintenance"}),
    "verify": frozenset({"admin", "regulator"}),
    "reopen": frozenset({"admin", "regulator"}),
}


@router.post(
    "/hazards/{hazard_id}/{action}",
    response_model=HazardOut,
    responses={**_NOT_FOUND, 409: {"description": "illegal transition"}},
)
async def hazard_action(
    hazard_id: str,
    action: Literal["rectify", "verify", "reopen"],
    scope: ScopeDep,
    pool: PoolDep,
    body: Annotated[HazardActionBody | None, Body()] = None,
) -> HazardOut:
    """`rectify` (`{"note", "evidence"?}`), `verify`, `reopen`."""
    body = body or HazardActionBody()
    if action == "rectify" and not body.note:
        raise HTTPException(422, msg("regulator.problem.note_needed"))
    where, params = scope.hazards("h")
    today = _today()
    async with pool.connection() as conn, conn.transaction():
        found = await store.get_hazard(conn, hazard_id, where, params)
        if found is None:
            raise HTTPException(404, msg("regulator.problem.no_hazard"))
        if scope.role not in _ACTORS[action]:
            raise HTTPException(
                403, msg("regulator.problem.role_may_not", role=scope.role, action=action)
            )
        done_on = body.rectified_on
        if done_on is not None and not found["found_on"] <= done_on <= today:
            raise HTTPException(422, msg("regulator.problem.rectified_on"))
        row = await store.act(
            conn,
            hazard_id,
            action,
            note=body.note,
            evidence=body.evidence,
            by=body.by or (scope.items[0] if scope.items else scope.role),
            rectified_on=done_on,
        )
    if row is None:
        raise HTTPException(
            409,
            msg("regulator.problem.illegal_transition", action=action, state=str(found["state"])),
        )
    return _out(row, today)


@router.post(
    "/self-checks",
    response_model=SelfCheckOut,
    status_code=201,
    responses=_NOT_FOUND,
    dependencies=[require_roles("admin", "use_unit")],
)
async def post_self_check(
    body: SelfCheckIn, scope: ScopeDep, pool: PoolDep, settings: SettingsDep
) -> SelfCheckOut:
    """A use unit's daily, weekly or monthly self-check; each finding opens a
    hazard (source `self_check`) on one of the unit's elevators."""
    if scope.use_unit is not None and body.use_unit != scope.use_unit:
        raise HTTPException(404, msg("regulator.problem.no_use_unit"))
    named = sorted({*(body.equipment_ids or []), *(f.equipment_id for f in body.findings or [])})
    today = _today()
    async with pool.connection() as conn, conn.transaction():
        if named:
            known = await store.unit_elevators(conn, body.use_unit, named)
            missing = [i for i in named if i not in known]
            if missing:
                raise HTTPException(
                    404,
                    msg("regulator.problem.not_unit_elevators", ids=", ".join(missing[:20])),
                )
        check_id = await store.add_self_check(
            conn,
            use_unit=body.use_unit,
            kind=body.kind,
            done_on=body.done_on,
            by=body.by,
            equipment_ids=body.equipment_ids or [],
        )
        hazards = []
        for f in body.findings or []:
            row = await store.add_hazard(
                conn,
                store.NewHazard(
                    equipment_type="elevator",
                    equipment_id=f.equipment_id,
                    source="self_check",
                    level=f.level,
                    description=f.description,
                    found_on=body.done_on,
                    deadline=body.done_on + timedelta(days=settings.regulator.hazard_deadline_days),
                    reported_by=body.by,
                    self_check_id=check_id,
                ),
            )
            hazards.append(_out(row, today))
    return SelfCheckOut(self_check_id=check_id, hazards=hazards)
