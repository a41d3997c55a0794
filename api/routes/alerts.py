"""Alerts: the list, the live stream (SSE) and the state changes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.auth import require_roles
from api.deps import PoolDep, ReaderDep, SettingsDep
from api.notify import AlertWaker
from api.paging import CURSOR_PATTERN, decode_cursor, encode_cursor
from api.query_time import QueryTime
from api.schemas import ALERT_EXAMPLE, AlertOut, AlertPage, Problem, speaking
from api.scope import Scope, ScopeDep
from semon.domain.alerts import (
    Action,
    ActionBody,
    AlertKind,
    AlertState,
    ResolveBody,
    stored_summary,
)
from semon.i18n import Message, Reader, msg
from semon.store.alert_reads import alert_in_scope, events_after, last_event_id, list_alerts
from semon.store.alerts import AlertNotFound, IllegalTransition, apply_action
from semon.store.event_feed import RESCUE_EVENT

router = APIRouter(prefix="/alerts", tags=["alerts"])

ALERT_ID_PATTERN = r"^[A-Za-z0-9_.:\-]{1,128}$"
AlertId = Annotated[str, Path(pattern=ALERT_ID_PATTERN, examples=["al_01HZX3K9TRAP"])]
# Who may move an alert along: dispatch centres, and maintenance firms (their
# technicians report arrival and resolution); regulators and stations read.
CHANGERS = require_roles("admin", "dispatcher", "maintenance")
STREAM_BATCH = 500


@router.get(
    "",
    response_model=AlertPage,
    summary="Alerts in scope, most recently changed first (paged)",
)
async def get_alerts(
    scope: ScopeDep,
    pool: PoolDep,
    settings: SettingsDep,
    speaker: ReaderDep,
    state: Annotated[AlertState | None, Query(description="Only alerts in this state")] = None,
    kind: Annotated[AlertKind | None, Query(description="Only alerts of this kind")] = None,
    since: Annotated[
        QueryTime | None,
        Query(
            description="Only alerts changed at or after this time",
            examples=["2026-11-21T00:00:00Z"],
        ),
    ] = None,
    equipment_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")] = None,
    limit: Annotated[
        int | None, Query(ge=1, description="Page size (capped by the server)")
    ] = None,
    cursor: Annotated[
        str | None,
        Query(max_length=400, pattern=CURSOR_PATTERN, description="From `next_cursor`"),
    ] = None,
) -> AlertPage:
    page = min(limit or settings.api.page_size_default, settings.api.page_size_max)
    before = decode_cursor(cursor)
    where, params = scope.alerts("a")
    async with pool.connection() as conn:
        rows = await list_alerts(
            conn,
            where,
            params,
            state=state,
            kind=kind,
            since=since,
            equipment_id=equipment_id,
            before=before,
            limit=page + 1,
        )
    more = len(rows) > page
    rows = rows[:page]
    return AlertPage(
        items=[AlertOut.model_validate(r, context=speaking(speaker)) for r in rows],
        next_cursor=encode_cursor(rows[-1]["updated_at"], rows[-1]["alert_id"]) if more else None,
    )


@router.get(
    "/stream",
    response_class=EventSourceResponse,
    responses={
        200: {
            "content": {
                "text/event-stream": {
                    "example": f"id: 42\nevent: alert\ndata: {json.dumps(ALERT_EXAMPLE)}\n\n"
                }
            },
            "description": "One `alert` event per alert change in scope and one `rescue` "
            "event per rescue change, `id:` = the event id; send it back as "
            "`Last-Event-ID` to resume with nothing missed.",
        }
    },
    summary="Server-Sent Events: every alert change in scope",
)
async def stream_alerts(
    request: Request,
    scope: ScopeDep,
    pool: PoolDep,
    settings: SettingsDep,
    speaker: ReaderDep,
    last_event_id_header: Annotated[
        str | None, Header(alias="Last-Event-ID", description="Resume after this event id")
    ] = None,
    after: Annotated[
        int | None,
        Query(
            ge=0,
            le=2**62,
            description="Resume after this event id (for clients that cannot "
            "set headers); 0 replays everything kept",
        ),
    ] = None,
) -> EventSourceResponse:
    start = _resume_point(last_event_id_header, after)
    if start is None:
        async with pool.connection() as conn:
            start = await last_event_id(conn)
    waker: AlertWaker = request.app.state.alert_waker
    return EventSourceResponse(
        _events(pool, waker, scope, start, settings.api.stream_poll_s, speaker),
        ping=settings.api.stream_ping_s,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _resume_point(header: str | None, after: int | None) -> int | None:
    if header is not None and header.strip():
        try:
            value = int(header.strip())
        except ValueError:
            raise HTTPException(422, msg("api.problem.last_event_id_invalid")) from None
        if not 0 <= value <= 2**62:
            raise HTTPException(422, msg("api.problem.last_event_id_range"))
        return value
    return after


async def _events(
    pool: PoolDep, waker: AlertWaker, scope: Scope, after: int, poll_s: float, speaker: Reader
) -> AsyncIterator[ServerSentEvent]:
    where, params = scope.alerts("a")
    while True:
        ticket = waker.ticket()
        async with pool.connection() as conn:
            rows = await events_after(conn, after, where, params, STREAM_BATCH)
        for row in rows:
            after = row["event_id"]
            message: dict[str, Any] = dict(row["message"])
            message.setdefault("event_id", after)
            message.setdefault("action", row["action"])
            # Rescue changes share the feed (and so the ids and the resume).
            event = "rescue" if row["action"] == RESCUE_EVENT else "alert"
            # Published in the platform's language; shown in the reader's.
            stored = stored_summary(row) if event == "alert" else None
            if stored is not None:
                message["summary"] = speaker.render(
                    Message.from_json(stored), fallback=message.get("summary")
                )
            yield ServerSentEvent(
                data=json.dumps(message, separators=(",", ":")), event=event, id=str(after)
            )
        if len(rows) < STREAM_BATCH:
            await waker.wait(poll_s, ticket)


_ACTION_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such alert in your scope"},
    409: {"model": Problem, "description": "Illegal transition from the alert's state"},
}


# Resolve first: its body needs `resolution`, which the schema can then say
# (one route with the action as a parameter could only refuse it in code).
@router.post(
    "/{alert_id}/resolve",
    response_model=AlertOut,
    responses=_ACTION_RESPONSES,
    summary="Resolve an alert, saying how it ended",
    dependencies=[CHANGERS],
)
async def resolve_alert(
    alert_id: AlertId, body: ResolveBody, scope: ScopeDep, pool: PoolDep, speaker: ReaderDep
) -> AlertOut:
    return await _act(alert_id, "resolve", body, scope, pool, speaker)


@router.post(
    "/{alert_id}/{action}",
    response_model=AlertOut,
    responses=_ACTION_RESPONSES,
    summary="Acknowledge, dispatch or arrive at an alert",
    dependencies=[CHANGERS],
)
async def act_on_alert(
    alert_id: AlertId,
    action: Annotated[
        Literal["ack", "dispatch", "arrive"], Path(description="ack, dispatch or arrive")
    ],
    body: ActionBody,
    scope: ScopeDep,
    pool: PoolDep,
    speaker: ReaderDep,
) -> AlertOut:
    return await _act(alert_id, action, body, scope, pool, speaker)


async def _act(
    alert_id: str, action: Action, body: ActionBody, scope: Scope, pool: PoolDep, speaker: Reader
) -> AlertOut:
    if action == "resolve" and body.resolution is None:  # ResolveBody makes it so; kept whole
        raise HTTPException(422, msg("api.problem.resolution_required"))
    where, params = scope.alerts("a")
    async with pool.connection() as conn, conn.transaction():
        if not await alert_in_scope(conn, alert_id, where, params):
            raise HTTPException(404, msg("api.problem.alert_not_found"))
        try:
            message = await apply_action(conn, alert_id, action, body, now=datetime.now(UTC))
        except AlertNotFound:
            raise HTTPException(404, msg("api.problem.alert_not_found")) from None
        except IllegalTransition as exc:
            raise HTTPException(
                409,
                msg(
                    "api.problem.illegal_transition",
                    alert_id=alert_id,
                    state=exc.state,
                    action=exc.action,
                ),
            ) from None
    return AlertOut.of(message, speaker)
