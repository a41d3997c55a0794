"""A read answers within ``settings.api.request_deadline_s`` or 503.

The statement timeout bounds a query on a database that answers; it does
nothing when the database stops answering at all (a frozen server, a
network path that drops packets: TCP retries for many minutes), and every
read would hang with it, the token lookup first. A GET or HEAD whose answer
has not started by the deadline gets a 503 with Retry-After; its handler is
left to end on its own, not cancelled (cancelling a query on a frozen server
sends a cancel request that hangs too), and whatever it says later goes
nowhere. Once an answer starts (the alert stream, an export) the deadline no
longer applies. Writes are not cut short: a client told "unknown" about a
write it cannot see the outcome of would only retry it blind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

from api.errors import RETRY_AFTER_S, problem
from api.limits import reader_of
from semon.i18n import msg

log = logging.getLogger(__name__)

READS = ("GET", "HEAD")
# Handlers past their deadline, held until they end (the event loop keeps
# only weak references to tasks).
_ABANDONED: set[asyncio.Future[Any]] = set()


def _forget(task: asyncio.Future[Any]) -> None:
    _ABANDONED.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.info("a read answered 503 at its deadline ended later: %r", task.exception())


class RequestDeadline:
    def __init__(self, app: ASGIApp, *, deadline_s: float) -> None:
        self.app = app
        self.deadline_s = deadline_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in READS or self.deadline_s <= 0:
            await self.app(scope, receive, send)
            return
        started = asyncio.Event()
        late = False

        async def send_unless_late(message: AsgiMessage) -> None:
            if late:
                return  # answered 503 already: the late handler's answer goes nowhere
            if message["type"] == "http.response.start":
                started.set()
            await send(message)

        handler = asyncio.ensure_future(self.app(scope, receive, send_unless_late))
        answering = asyncio.ensure_future(started.wait())
        try:
            await asyncio.wait(
                (handler, answering), timeout=self.deadline_s, return_when=asyncio.FIRST_COMPLETED
            )
        except asyncio.CancelledError:
            handler.cancel()
            raise
        finally:
            answering.cancel()
        if handler.done() or started.is_set():
            await handler  # its answer, however long it streams; its error, if any
            return
        late = True
        _ABANDONED.add(handler)
        handler.add_done_callback(_forget)
        log.warning(
            "%s %s: no answer within %.1f s, 503", scope["method"], scope["path"], self.deadline_s
        )
        answer = problem(
            reader_of(scope),
            503,
            msg("api.problem.deadline", seconds=f"{self.deadline_s:g}"),
            headers={"Retry-After": RETRY_AFTER_S},
        )
        with contextlib.suppress(OSError):
            await answer(scope, receive, send)
