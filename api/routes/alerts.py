"""Alerts: the list, the live stream (SSE) and the state changes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request
from fastapi.types import DecoratedCallable
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.auth import require_roles
from api.deps import PoolDep, ReaderDep, SettingsDep
from api.notify import AlertWaker
from api.paging import PageDep
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
from semon.store.alert_reads import (
    FeedRow,
    alert_in_scope,
    event_texts_after,
    last_event_id,
    list_alerts,
)
from semon.store.alerts import AlertNotFound, IllegalTransition, apply_action
from semon.store.event_feed import RESCUE_EVENT

router = APIRouter(prefix="/alerts", tags=["alerts"])

ALERT_ID_PATTERN = r"^[A-Za-z0-9_.:\-]{1,128}$"
AlertId = Annotated[str, Path(pattern=ALERT_ID_PATTERN, examples=["al_01HZX3K9TRAP"])]
# Who may move an alert along: dispatch centres, and maintenance firms (their
# technicians report arrival and resolution); regulators and stations read.
CHANGERS = require_roles("admin", "dispatcher", "maintenance")


@router.get("", summary="Alerts in scope, most recently changed first (paged)")
async def get_alerts(
    scope: ScopeDep,
    pool: PoolDep,
    speaker: ReaderDep,
    page: PageDep,
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
) -> AlertPage:
    before = page.after
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
            limit=page.size + 1,
        )
    rows, next_cursor = page.cut(rows, lambda r: (r["updated_at"], r["alert_id"]))
    return AlertPage(
        items=[AlertOut.model_validate(r, context=speaking(speaker)) for r in rows],
        next_cursor=next_cursor,
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
    api = settings.api
    feed = _Feed(pool, request.app.state.stream_turns, api.stream_turn_s, scope, api.stream_batch)
    return EventSourceResponse(
        _events(
            feed,
            waker,
            start,
            settings.api.stream_poll_s,
            # Stored messages speak the platform's language: re-rendered only
            # for a reader of another (a replay otherwise sends the rows' text).
            None if speaker.language == settings.i18n.language else speaker,
        ),
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


@dataclass(frozen=True, slots=True)
class _Feed:
    """What one stream reads from: the pool, a batch at a time, in its scope,
    and the turns all streams share (``stream_turns``)."""

    pool: PoolDep
    turns: asyncio.Semaphore
    turn_s: float
    scope: Scope
    batch: int

    async def after(self, event_id: int) -> list[FeedRow]:
        where, params = self.scope.alerts("a")
        async with self.pool.connection() as conn:
            return await event_texts_after(conn, event_id, where, params, self.batch)


class _Turn:
    """One stream's turn among the streams' shared turns. Given back after
    its batch, when the stream ends, or by a timer ``turn_s`` after the read:
    a client that stops reading (its send never returns) keeps no turn."""

    __slots__ = ("_held", "_timer", "_turns")

    def __init__(self, turns: asyncio.Semaphore) -> None:
        self._turns = turns
        self._held = False
        self._timer: asyncio.TimerHandle | None = None

    async def take(self) -> None:
        await self._turns.acquire()
        self._held = True

    def limit(self, turn_s: float) -> None:
        self._timer = asyncio.get_running_loop().call_later(turn_s, self.give)

    def give(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._held:
            self._held = False
            self._turns.release()


# Within a turn, events sent in a row before other work runs (sending does not
# wait for a fast client): short stretches of the loop keep an ack's awaits quick.
_YIELD_EVERY = 16


def _spoken(row: FeedRow, speaker: Reader) -> str:
    """The event's JSON with its summary in the reader's language."""
    stored = stored_summary({"summary_key": row.summary_key, "summary_args": row.summary_args})
    if stored is None:
        return row.data
    message = json.loads(row.data)
    message["summary"] = speaker.render(Message.from_json(stored), fallback=message.get("summary"))
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


async def _events(
    feed: _Feed, waker: AlertWaker, after: int, poll_s: float, speaker: Reader | None
) -> AsyncIterator[ServerSentEvent]:
    """A stream reads and sends one batch per turn: 100 consoles replaying at
    once take turns (a few at a time) instead of taking every pooled
    connection and every turn of the loop, so acks, the alert list and
    /healthz are served meanwhile. A turn ends after its batch or ``turn_s``
    after its read (a slow client then finishes its batch without one)."""
    turn = _Turn(feed.turns)
    while True:
        ticket = waker.ticket()
        await turn.take()
        try:
            rows = await feed.after(after)
            turn.limit(feed.turn_s)
            for i, row in enumerate(rows, 1):
                after = row.event_id
                # Rescue changes share the feed (and so the ids and the resume).
                event = "rescue" if row.action == RESCUE_EVENT else "alert"
                data = row.data if speaker is None or event != "alert" else _spoken(row, speaker)
                yield ServerSentEvent(data=data, event=event, id=str(after))
                if i % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)
        finally:
            # Also when the client goes away mid-batch (the generator is closed).
            turn.give()
        if len(rows) < feed.batch:
            await waker.wait(poll_s, ticket)


_ACTION_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such alert in your scope"},
    409: {"model": Problem, "description": "Illegal transition from the alert's state"},
}


def _action_route(path: str, summary: str) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """A route that moves an alert along: who may, and what it may answer."""
    return router.post(
        path,
        response_model=AlertOut,
        responses=_ACTION_RESPONSES,
        summary=summary,
        dependencies=[CHANGERS],
    )


# Resolve first: its body needs `resolution`, which the schema can then say
# (one route with the action as a parameter could only refuse it in code).
@_action_route("/{alert_id}/resolve", "Resolve an alert, saying how it ended")
async def resolve_alert(
    alert_id: AlertId, body: ResolveBody, scope: ScopeDep, pool: PoolDep, speaker: ReaderDep
) -> AlertOut:
    return await _act(alert_id, "resolve", body, scope, pool, speaker)


@_action_route("/{alert_id}/{action}", "Acknowledge, dispatch or arrive at an alert")
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
