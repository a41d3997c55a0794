"""Why gmqtt: receive rate of gmqtt vs aiomqtt in one asyncio process.

A C publisher (`mosquitto_pub -l`, QoS 0) sends N status samples through a
private Mosquitto; the receiver validates each with the contract decoder
(JSON + pydantic) and counts. aiomqtt is only installed for this comparison;
it is not a runtime dependency.

    python bench/mqtt_clients_bench.py [--messages 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import contextlib

from ingest_bench import private_mosquitto

from semon import mqtt
from semon.domain.decode import decode

TOPIC = "clients/elevators/E-1/status"


def payload_lines(n: int) -> bytes:
    base = int(time.time() * 1000) - n
    return b"".join(
        orjson.dumps(
            {
                "ts": base + i,
                "floor": i % 30,
                "speed": 1.0,
                "direction": "up",
                "door": "closed",
                "door_zone": False,
            }
        )
        + b"\n"
        for i in range(n)
    )


async def receive(
    name: str,
    url: str,
    n: int,
    subscribe: Callable[[str, Callable[[bytes], None]], Awaitable[None]],
) -> float:
    now = datetime.now(UTC)
    got = 0
    first = 0.0
    done = asyncio.Event()

    def on(payload: bytes) -> None:
        nonlocal got, first
        if got == 0:
            first = time.perf_counter()
        decode(TOPIC, payload, root="clients", now=now)
        got += 1
        if got >= n:
            done.set()

    task = asyncio.create_task(subscribe(url, on))
    await asyncio.sleep(1.0)  # subscribed
    port = url.rsplit(":", 1)[1]
    pub = await asyncio.create_subprocess_exec(
        "mosquitto_pub",
        "-p",
        port,
        "-t",
        TOPIC,
        "-q",
        "0",
        "-l",
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert pub.stdin is not None
    pub.stdin.write(payload_lines(n))
    await pub.stdin.drain()
    pub.stdin.close()
    try:
        await asyncio.wait_for(done.wait(), timeout=120)
    except TimeoutError:
        print(f"{name}: only {got} of {n} arrived (QoS 0 drops under overload)")
    rate = got / (time.perf_counter() - first)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    await pub.wait()
    return rate


async def gmqtt_sub(url: str, on: Callable[[bytes], None]) -> None:
    async def handler(topic: str, payload: bytes, qos: int, props: dict[str, object]) -> int:
        on(payload)
        return 0

    async with mqtt.connect(url, "bench-gmqtt", on_message=handler, subscriptions=[(TOPIC, 0)]):
        await asyncio.Event().wait()


async def aiomqtt_sub(url: str, on: Callable[[bytes], None]) -> None:
    import aiomqtt  # only for this comparison

    port = int(url.rsplit(":", 1)[1])
    async with aiomqtt.Client("127.0.0.1", port, identifier="bench-aiomqtt") as client:
        await client.subscribe(TOPIC, qos=0)
        async for message in client.messages:
            on(bytes(message.payload))  # type: ignore[arg-type]


async def main(n: int) -> None:
    rates = {}
    with private_mosquitto() as url:
        for name, sub in (("gmqtt", gmqtt_sub), ("aiomqtt", aiomqtt_sub)):
            rates[name] = await receive(name, url, n, sub)
    print(
        f"\nreceive rate, one asyncio process, QoS 0, decode per message, {n} messages, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    for name, rate in rates.items():
        print(f"  {name:8} {rate:>9,.0f} msg/s")
    print(f"  gmqtt / aiomqtt: {rates['gmqtt'] / rates['aiomqtt']:.1f}x")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--messages", type=int, default=50000)
    asyncio.run(main(ap.parse_args().messages))
