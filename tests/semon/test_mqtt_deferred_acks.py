"""`mqtt.connect(on_message_deferred=...)`: acknowledged when the future is done,
never when it is cancelled, and no more than the window read ahead."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from semon import mqtt
from tests.ingest.support import publish
from tests.support import services

# asyncio reads a socket 256 KiB at a time: one read that was under way when
# reading paused holds at most seven of these (a busy machine lets the
# kernel's buffer fill, so a read is often that full: 10 arrived once)
PAYLOAD = b"x" * 40_000
READ_AHEAD = 7


class Holder:
    """Hands out one future per message and keeps them."""

    def __init__(self) -> None:
        self.futures: list[asyncio.Future[int]] = []
        self.topics: list[str] = []
        self.arrived = asyncio.Event()

    def __call__(self, topic: str, payload: bytes, qos: int, props: Any) -> asyncio.Future[int]:
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.futures.append(fut)
        self.topics.append(topic)
        self.arrived.set()
        return fut

    async def wait_for(self, n: int, timeout: float = 10.0) -> None:
        async def loop() -> None:
            while len(self.futures) < n:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(loop(), timeout)


async def test_window_bounds_reading_and_acks_follow_the_futures() -> None:
    # MQTT 3.1.1 has no receive maximum: the broker (inflight 5000 here) would
    # send everything at once, so the bound below is the client's own.
    with services.mosquitto() as (url, _proc):
        url3 = f"{url}?version=3"
        root = f"t/{uuid.uuid4().hex[:8]}"
        cid = f"deferred-{uuid.uuid4().hex[:8]}"
        holder = Holder()
        async with mqtt.connect(
            url3,
            cid,
            on_message_deferred=holder,
            clean_start=False,
            receive_maximum=5,
            subscriptions=[(f"{root}/#", 1)],
        ):
            # connect() returned after the SUBACK: what is published now arrives
            await publish(url3, [(f"{root}/{i}", PAYLOAD) for i in range(40)])
            await holder.wait_for(5)
            await asyncio.sleep(0.5)  # would more arrive if reading went on?
            assert 5 <= len(holder.futures) <= 5 + READ_AHEAD
            # Done futures acknowledge and make room; everything arrives.
            while len(holder.futures) < 40:
                for fut in holder.futures:
                    if not fut.done():
                        fut.set_result(0)
                await holder.wait_for(min(40, len(holder.futures) + 1))
            for fut in holder.futures:
                if not fut.done():
                    fut.set_result(0)
            await asyncio.sleep(0.3)  # the last PUBACKs leave
        assert sorted(holder.topics) == sorted(f"{root}/{i}" for i in range(40))

        # Acknowledged means gone: the same session gets nothing again, and a
        # cancelled future is never acknowledged, so that message comes back.
        again = Holder()
        async with mqtt.connect(
            url3, cid, on_message_deferred=again, clean_start=False, receive_maximum=5
        ):
            await publish(url3, [(f"{root}/late", b"late")])
            await again.wait_for(1)
            again.futures[0].cancel()
            await asyncio.sleep(0.3)
        assert again.topics == [f"{root}/late"]
        third = Holder()
        async with mqtt.connect(
            url3, cid, on_message_deferred=third, clean_start=False, receive_maximum=5
        ):
            await third.wait_for(1)
            third.futures[0].set_result(0)
            await asyncio.sleep(0.3)
        assert third.topics == [f"{root}/late"]
