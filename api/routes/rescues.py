"""Rescues (the 96333 work order): a call taken, the list, one rescue, each
step. Who may do what is the table ``ACTION_ROLES``; what they may see is
the scope (api/scope.py), out of scope answering 404 like a missing rescue."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, HTTPException, Path, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from api.auth import CurrentPrincipal, require_roles
from api.deps import PoolDep, SettingsDep
from api.limits import TEXT_PATTERN
from api.paging import decode_cursor, encode_cursor
from api.query_time import QueryTime
from api.schemas import Problem
from api.scope import ScopeDep
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
BODIES: dict[RescueAction, type[BaseModel]] = {
    "dispatch": DispatchIn,
    "arrive": NoBody,
    "free": FreeIn,
    "callback": CallbackIn,
    "close": CloseIn,
    "cause": CauseIn,
}


class RescuePage(BaseModel):
    items: list[RescueOut]
    next_cursor: str | None = None


class LiftHit(BaseModel):
    elevator_id: str
    address: str
    district: str
    rescue_code: str | None = None
    use_unit: str | None = None
    firm_id: str | None = None


def _out(rescue: dict[str, Any], settings: Settings) -> RescueOut:
    due = rescue.get("due") or {}
    deadline = store.next_deadline(
        {**due, "tier": rescue["tier"]},
        dispatch_s=settings.rescue.dispatch_deadline_s,
        arrival_s=settings.rescue.arrival_deadline_s,
    )
    data = {k: v for k, v in rescue.items() if k != "due"}
    return RescueOut.model_validate({**data, "next_deadline": deadline})


def _problem(name: str, kind: str, text: str, **ctx: Any) -> RequestValidationError:
    """A 422 naming the field, as FastAPI's validation errors are: `kind` is
    the error type its text is translated by (semon/i18n/validation.py)."""
    where = "query" if name == "q" else "body"
    return RequestValidationError([{"loc": (where, name), "msg": text, "type": kind, "ctx": ctx}])


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
            raise _problem(
                field, "lift_not_found", f"no elevator with that {field} in your scope", field=field
            )
        try:
            rescue, opened = await store.take_call(
                conn,
                lift,
                body,
                now=datetime.now(UTC),
                by=principal.token_id,
                key=None if idempotency_key is None else f"{principal.token_id}:{idempotency_key}",
                request_hash=request_hash,
            )
        except store.KeyReused as exc:
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


@router.post(
    "/rescues/{rescue_id}/{action}",
    response_model=RescueOut,
    responses={
        404: {"model": Problem, "description": "No such rescue in your scope"},
        409: {"model": Problem, "description": "Illegal step from the rescue's state"},
    },
    summary="A step: dispatch, arrive, free, callback, close, cause",
)
async def act(
    rescue_id: RescueId,
    action: Annotated[RescueAction, Path(description="dispatch arrive free callback close cause")],
    principal: CurrentPrincipal,
    scope: ScopeDep,
    pool: PoolDep,
    settings: SettingsDep,
    body: Annotated[
        dict[str, Any] | None,
        Body(
            description="dispatch `{tier, assignee, phone, eta_min?}`; free `{trapped_count, "
            "injured_count}`; callback `{note?}`; close `{cause_category, cause_note?}`; "
            "cause `{cause_category, cause_note}`; arrive `{}`",
            examples=[{"tier": 1, "assignee": "Pearl Lifts crew 3", "phone": "020-5555"}],
        ),
    ] = None,
) -> RescueOut:
    if principal.role not in ACTION_ROLES[action]:
        raise HTTPException(
            403, msg("api.problem.rescue_role_forbidden", role=principal.role, action=action)
        )
    try:
        parsed = BODIES[action].model_validate(body or {})
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        ) from None
    where, params = scope.rescues("r")
    async with pool.connection() as conn:
        try:
            rescue = await store.act(
                conn,
                rescue_id,
                action,
                parsed,
                now=datetime.now(UTC),
                by=principal.token_id,
                scope=where,
                params=params,
            )
        except store.RescueNotFound:
            raise HTTPException(404, msg("api.problem.rescue_not_found")) from None
        except store.IllegalStep as exc:
            raise HTTPException(409, exc.message) from None
    return _out(rescue, settings)
