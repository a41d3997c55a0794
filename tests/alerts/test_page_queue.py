"""The writer's routing of ops: live trapped-passenger and fault raises go to
the page queue ahead of everything queued, and a condition's changes are
still stored in the order they were judged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alerts.drafts import trapped_draft
from alerts.elevator_state import Elevator
from alerts.ops import Checkpoint, Close, Raise
from alerts.writer import Writer
from semon.clock import ManualClock
from semon.settings import Settings

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def raise_for(eid: str, *, live: bool = True) -> Raise:
    car = Elevator(eid)
    car.episode_start, car.episode_reason = T0, "the terminal reports a trapped passenger"
    return Raise(trapped_draft(car, T0, None, live=live))


def writer() -> Writer:
    # Routing touches neither the pool nor the broker: none is given.
    none: Any = None
    return Writer(Settings(), none, none, ManualClock(T0), none)


def queued(w: Writer) -> list[Any]:
    return list(w.queue._queue)  # type: ignore[attr-defined]


def paged(w: Writer) -> list[Any]:
    return [op for op, _ in w.pages._queue]  # type: ignore[attr-defined]


def test_a_page_goes_ahead_and_its_close_follows_it() -> None:
    w = writer()
    mark = Checkpoint(T0)
    w.put(mark)
    page = raise_for("E1")
    w.put(page)
    close = Close("trapped_passenger:E1", "self_released", ended_at=T0)
    w.put(close)  # behind its raise, not in the queue where it could pass it
    assert queued(w) == [mark]
    assert paged(w) == [page, close]
    assert w.paging
    # a raise that is no page (a backlog's) waits in the queue
    late = raise_for("E2", live=False)
    w.put(late)
    assert queued(w) == [mark, late]


def test_a_raise_whose_condition_has_a_change_queued_stays_behind_it() -> None:
    w = writer()
    close = Close("trapped_passenger:E3", "self_released", ended_at=T0)
    w.put(close)
    again = raise_for("E3")
    w.put(again)
    assert queued(w) == [close, again]
    assert paged(w) == []
    assert w.take() is close
    w.put(raise_for("E4"))
    assert len(paged(w)) == 1
