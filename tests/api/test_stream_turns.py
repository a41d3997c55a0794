"""The streams' turns (api/routes/alerts.py): a turn is given back after its
batch, when the stream ends, or by its timer, so a console that stops
reading mid-batch (its send never returns) keeps no turn."""

from __future__ import annotations

import asyncio

from api.routes.alerts import _Turn


async def test_a_stalled_stream_gives_its_turn_back_by_the_timer() -> None:
    turns = asyncio.Semaphore(1)
    stalled, other = _Turn(turns), _Turn(turns)
    await stalled.take()
    stalled.limit(0.05)  # read done; now "sending" forever
    waiting = asyncio.create_task(other.take())
    await asyncio.sleep(0.01)
    assert not waiting.done()  # one turn, taken
    await asyncio.wait_for(waiting, 1)  # the timer gave it back
    other.give()
    stalled.give()  # the stream ends later: nothing given twice
    assert turns._value == 1


async def test_a_turn_given_back_after_its_batch_cancels_its_timer() -> None:
    turns = asyncio.Semaphore(1)
    turn = _Turn(turns)
    await turn.take()
    turn.limit(0.05)
    turn.give()
    await turn.take()  # the next batch's turn, held past the old timer
    await asyncio.sleep(0.1)
    assert turns.locked()
    turn.give()
    assert not turns.locked()
