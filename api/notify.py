"""Wakes alert streams when the alert store commits: one LISTEN connection for
the whole app, fanned out to every open stream.

Streams never rely on it alone: each also polls (a NOTIFY lost while the
listener reconnects only delays an event by one poll, never loses it,
because streams read from `alert_events` by id).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import psycopg

from semon.store.event_feed import ALERT_EVENTS_CHANNEL

log = logging.getLogger(__name__)


class AlertWaker:
    def __init__(self) -> None:
        self._event = asyncio.Event()

    def wake(self) -> None:
        # Swap the event so every waiter wakes once and later waiters wait anew.
        event, self._event = self._event, asyncio.Event()
        event.set()

    def ticket(self) -> asyncio.Event:
        """Take before reading the store, wait on it after: a commit notified
        while the read ran then wakes the wait at once instead of being missed."""
        return self._event

    async def wait(self, poll_s: float, ticket: asyncio.Event | None = None) -> None:
        event = ticket or self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), poll_s)

    async def listen(self, dsn: str, *, retry_s: float = 1.0) -> None:
        """LISTEN until cancelled, reconnecting after a lost connection."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {ALERT_EVENTS_CHANNEL}")
                    self.wake()  # anything committed while we were away
                    async for _ in conn.notifies():
                        self.wake()
            except psycopg.OperationalError as exc:
                log.warning("alert listener lost its connection: %s; retrying", exc)
                await asyncio.sleep(retry_s)
