"""Paging an alert again: the ``escalate`` event a store call writes, stored
under the writer's lock like its own pages (so ``publish_pending`` cannot
publish the same row), then published and marked. Used by the re-page of
unacknowledged critical alerts (alerts/writer.py) and by the rescue deadlines
(alerts/rescue_deadlines.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from semon.domain.alerts import AlertMessage, message_json

if TYPE_CHECKING:
    from alerts.writer import Writer


async def page_again(
    writer: Writer, escalate: Callable[[], Awaitable[tuple[AlertMessage, int] | None]]
) -> bool:
    """Run ``escalate`` (the store call) under the lock and publish the
    message it stored; False when it stored none."""
    async with writer.lock:
        got = await escalate()
        if got is None:
            return False
        msg, event_id = got
        writer.inflight.add(event_id)
    writer.publish(message_json(msg, "escalate"))
    writer.to_mark.append(event_id)
    return True
