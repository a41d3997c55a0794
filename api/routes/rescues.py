"""Rescues (the 96333 work order): a call taken, the list, one rescue, each
step. Who may do what is the table ``ACTION_ROLES``; what they may see is
the scope (api/scope.py), out of scope answering 404 like a missing rescue."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Path, Query, Response
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, Field

from api.auth import CurrentPrincipal, Principal, require_roles
from api.deps import PoolDep, SettingsDep
from api.limits import TEXT_PATTERN
from api.paging import decode_cursor, encode_cursor
from api.query_time import QueryTime
from api.schemas import Problem
from api.scope import Scope, ScopeDep
from semon.domain.rescue import (
    CallbackIn,
    CallIn,
    CauseIn,
    CloseIn,
    DispatchIn,
    FreeIn,
    NoBody,
    RescueAction,
    RescueOut,
    RescueState,
)
from semon.i18n import msg
from semon.settings import Settings
from semon.store import rescue_calls
from semon.store import rescues as store

router = APIRouter(tags=["rescues"])

RESCUE_ID_PATTERN = r"^[A-Za-z0-9_.:\-]{1,128}$"
RescueId = Annotated[str, Path(pattern=RESCUE_ID_PATTERN, examples=["rs_3f2a"])]
CALLERS = require_roles("admin", "dispatcher")

# Who may take each step: the centre runs the order; the firm's crew reports
# arrival and release; the firm (or admin) adds its cause report.
ACTION_ROLES: dict[RescueAction, frozenset[str]] = {
    "dispatch": frozenset({"admin", "dispatcher"}),
    "arrive": frozenset({"admin", "dispatcher", "maintenance"}),
    "free": frozenset({"admin", "dispatcher", "maintenance"}),
    "callback": frozenset({"admin", "dispatcher"}),
    "close": frozenset({"admin", "dispatcher"}),
    "cause": frozenset({"admin", "maintenance"}),
}


class RescuePage(BaseModel):
    items: list[RescueOut]
    next_cursor: str | None = None


class LiftHit(BaseModel):
    """A lift the call-intake form suggests, with what the dispatcher reads
    back to the caller to be sure it is theirs."""

    elevator_id: str = Field(examples=["E00001"])
    address: str = Field(description="from the registry", examples=["12 Tianhe Rd"])
    district: str = Field(examples=["Tianhe"])
    rescue_code: str | None = Field(None, description="the code posted in the car")
    use_unit: str | None = Field(None, description="the owner")
    firm_id: str | None = Field(None, description="the maintenance firm (tier 1)")


def _out(rescue: dict[str, Any], settings: Settings) -> RescueOut:
    due = rescue.get("due") or {}
    deadline = store.next_deadline(
        {**due, "tier": rescue["tier"]},
        dispatch_s=settings.rescue.dispatch_deadline_s,
        arrival_s=settings.rescue.arrival_deadline_s,
    )
    data = {k: v for k, v in rescue.items() if k != "due"}
    return RescueOut.model_validate({**data, "next_deadline": deadline})


@router.post(
    "/rescues",
    response_model=RescueOut,
    status_code=201,
    responses={
        200: {"model": RescueOut, "description": "Joined the rescue open for that lift"},
        404: {"model": Problem, "description": "No such lift in your scope"},
        409: {"model": Problem, "description": "Idempotency-Key reused for another call"},
    },
    summary="Take a call: open a rescue (and its alert) or join the one open for the lift",
    dependencies=[CALLERS],
)
async def take_call(
    body: CallIn,
    response: Response,
    principal: CurrentPrincipal,
    scope: ScopeDep,
    pool: PoolDep,
    settings: SettingsDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=200,
            pattern=r"^[\x21-\x7e]+$",
            description="A repeat with the same key is the same call",
        ),
    ] = None,
) -> RescueOut:
    where, params = scope.elevators("e")
    request_hash = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
    async with pool.connection() as conn:
        lift = await store.find_elevator(
            conn,
            elevator_id=body.elevator_id,
            rescue_code=body.rescue_code if body.elevator_id is None else None,
            scope=where,
            params=params,
        )
        if lift is None:
            field = "elevator_id" if body.elevator_id is not None else "rescue_code"
            raise HTTPException(422, msg("rescue.problem.lift_not_found", field=field))
        try:
            rescue, opened = await rescue_calls.take_call(
                conn,
                lift,
                body,
                now=datetime.now(UTC),
                by=principal.token_id,
                key=None if idempotency_key is None else f"{principal.token_id}:{idempotency_key}",
                request_hash=request_hash,
            )
        except rescue_calls.KeyReused as exc:
            raise HTTPException(409, exc.message) from None
    response.status_code = 201 if opened else 200
    return _out(rescue, settings)


@router.get(
    "/rescues",
    response_model=RescuePage,
    summary="Rescues in scope, newest first (paged)",
)
async def list_rescues(
    scope: ScopeDep,
    pool: PoolDep,
    settings: SettingsDep,
    state: Annotated[RescueState | None, Query(description="Only rescues in this state")] = None,
    since: Annotated[
        QueryTime | None, Query(alias="from", description="Opened at or after this time")
    ] = None,
    until: Annotated[QueryTime | None, Query(alias="to", description="Opened before this time")] = (
        None
    ),
    district: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    elevator_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")] = None,
    limit: Annotated[int | None, Query(ge=1, description="Page size (capped)")] = None,
    cursor: Annotated[str | None, Query(max_length=400, description="From `next_cursor`")] = None,
) -> RescuePage:
    page = min(limit or settings.api.page_size_default, settings.api.page_size_max)
    where, params = scope.rescues("r")
    async with pool.connection() as conn:
        rows = await store.list_rescues(
            conn,
            where,
            params,
            state=state,
            since=since,
            until=until,
            district=district,
            elevator_id=elevator_id,
            before=decode_cursor(cursor),
            limit=page + 1,
        )
    more = len(rows) > page
    rows = rows[:page]
    return RescuePage(
        items=[_out(r, settings) for r in rows],
        next_cursor=encode_cursor(rows[-1]["opened_at"], rows[-1]["rescue_id"]) if more else None,
    )


@router.get(
    "/rescues/lifts",
    response_model=list[LiftHit],
    summary="Find a lift by id, rescue code or address as a dispatcher types",
    dependencies=[CALLERS],
)
async def find_lifts(
    scope: ScopeDep,
    pool: PoolDep,
    q: Annotated[
        str, Query(min_length=1, max_length=100, pattern=TEXT_PATTERN, description="What was typed")
    ],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> list[LiftHit]:
    where, params = scope.elevators("e")
    async with pool.connection() as conn:
        rows = await store.lookup_elevators(
            conn, q.strip(), scope=where, params=params, limit=limit
        )
    return [LiftHit.model_validate(r) for r in rows]


@router.get(
    "/rescues/{rescue_id}",
    response_model=RescueOut,
    responses={404: {"model": Problem, "description": "No such rescue in your scope"}},
    summary="One rescue",
)
async def get_rescue(
    rescue_id: RescueId, scope: ScopeDep, pool: PoolDep, settings: SettingsDep
) -> RescueOut:
    where, params = scope.rescues("r")
    async with pool.connection() as conn:
        rescue = await store.get_rescue(conn, rescue_id, scope=where, params=params)
    if rescue is None:
        raise HTTPException(404, msg("api.problem.rescue_not_found"))
    return _out(rescue, settings)


@dataclass(frozen=True)
class Desk:
    """What every step needs besides its body: who takes it (a role that may),
    their scope, the pool and the settings."""

    action: RescueAction
    principal: Principal
    scope: Scope
    pool: AsyncConnectionPool[AsyncConnection]
    settings: Settings

    async def act(self, rescue_id: str, body: BaseModel) -> RescueOut:
        where, params = self.scope.rescues("r")
        async with self.pool.connection() as conn:
            try:
                rescue = await store.act(
                    conn,
                    rescue_id,
                    self.action,
                    body,
                    now=datetime.now(UTC),
                    by=self.principal.token_id,
                    scope=where,
                    params=params,
                )
            except store.RescueNotFound:
                raise HTTPException(404, msg("api.problem.rescue_not_found")) from None
            except store.IllegalStep as exc:
                raise HTTPException(409, exc.message) from None
        return _out(rescue, self.settings)


def _desk(action: RescueAction) -> Any:
    """`Depends` yielding the step's desk, 403 for a role that may not take
    ``action`` (checked before the body, as one route per action has it)."""

    async def desk(
        principal: CurrentPrincipal, scope: ScopeDep, pool: PoolDep, settings: SettingsDep
    ) -> Desk:
        if principal.role not in ACTION_ROLES[action]:
            raise HTTPException(
                403, msg("api.problem.rescue_role_forbidden", role=principal.role, action=action)
            )
        return Desk(action, principal, scope, pool, settings)

    return Depends(desk)


def _free_check(body: BaseModel) -> None:
    if isinstance(body, FreeIn) and body.injured_count > body.trapped_count:
        raise HTTPException(422, msg("rescue.problem.injured_exceed_trapped"))


@dataclass(frozen=True)
class Step:
    """One step's route: its body model (`optional`: the description of a
    body that may be left out), summary, extra answers and a check of the
    body before it is stored."""

    action: RescueAction
    body: type[BaseModel]
    summary: str
    optional: str | None = None
    responses: dict[int | str, dict[str, Any]] = field(default_factory=dict)
    check: Callable[[BaseModel], None] | None = None


# One route per step, each with its own body model, so the document says
# what each step needs (one route with the step as a parameter could only
# refuse a missing field in code).
STEPS = (
    Step("dispatch", DispatchIn, "Dispatch the tier due (a second dispatch sends the next tier)"),
    Step("arrive", NoBody, "The crew is on site", optional="no fields: `{}` or no body"),
    Step(
        "free",
        FreeIn,
        "Those trapped are out: how many, how many injured",
        responses={422: {"model": Problem, "description": "injured_count exceeds trapped_count"}},
        check=_free_check,
    ),
    Step(
        "callback",
        CallbackIn,
        "The centre called those inside back",
        optional="`{note?}` or no body",
    ),
    Step("close", CloseIn, "Close the rescue with its cause"),
    Step("cause", CauseIn, "The firm's cause report, within days of closing"),
)


def _step_route(step: Step) -> None:
    """Add `POST /rescues/{rescue_id}/<step>`: the path's rescue, the step's
    desk (403 first), the body as the step's model."""

    async def take_step(rescue_id: str, desk: Desk, body: BaseModel | None = None) -> RescueOut:
        parsed = body or step.body()
        if step.check is not None:
            step.check(parsed)
        return await desk.act(rescue_id, parsed)

    keyword = inspect.Parameter.KEYWORD_ONLY
    body = (
        inspect.Parameter("body", keyword, annotation=step.body, default=inspect.Parameter.empty)
        if step.optional is None
        else inspect.Parameter(
            "body",
            keyword,
            annotation=Annotated[step.body | None, Body(description=step.optional)],
            default=None,
        )
    )
    take_step.__name__ = step.action
    # FastAPI reads the parameters from the signature: the step's own types.
    setattr(  # noqa: B010 (a function's signature is no declared attribute)
        take_step,
        "__signature__",
        inspect.Signature(
            [
                inspect.Parameter("rescue_id", keyword, annotation=RescueId),
                inspect.Parameter("desk", keyword, annotation=Annotated[Desk, _desk(step.action)]),
                body,
            ],
            return_annotation=RescueOut,
        ),
    )
    router.post(
        f"/rescues/{{rescue_id}}/{step.action}",
        response_model=RescueOut,
        responses={**_STEP_RESPONSES, **step.responses},
        summary=step.summary,
    )(take_step)


_STEP_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such rescue in your scope"},
    409: {"model": Problem, "description": "Illegal step from the rescue's state"},
}
for _step in STEPS:
    _step_route(_step)


@router.post("/rescues/{rescue_id}/{action}", include_in_schema=False)
async def unknown_step(rescue_id: RescueId, action: str, principal: CurrentPrincipal) -> None:
    """A step that is not one: 422 naming it (the steps above are the routes)."""
    raise HTTPException(422, msg("rescue.problem.unknown_step", action=action[:40]))
