"""Publishing what the models emit, as terminals do: MQTT QoS 1 over semon.mqtt."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager, suppress
from typing import Any

import orjson

from semon.mqtt import Client, connect
from semon.settings import Settings
from simulators.device import Outgoing

# Unacknowledged QoS 1 messages allowed before publishing waits. MQTT packet
# ids are 16 bits, and a broker drops a client that floods far past its
# receive maximum; a few thousand keeps the pipe full on loopback.
MAX_IN_FLIGHT = 2000


class Publisher:
    def __init__(self, client: Client, topic_root: str, *, qos: int = 1) -> None:
        self.client = client
        self.root = topic_root.rstrip("/")
        self.qos = qos
        self.sent = 0

    async def publish(self, topic: str, payload: dict[str, Any] | bytes) -> None:
        body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        await self.client.wait_window(MAX_IN_FLIGHT, timeout_s=60.0)
        self.client.publish(f"{self.root}/{topic}", body, qos=self.qos)
        self.sent += 1

    async def send(self, messages: Iterable[Outgoing]) -> int:
        count = 0
        for message in messages:
            await self.publish(message.topic, message.payload)
            count += 1
            if count % 200 == 0:
                # Let the transport write and PUBACKs come in.
                await asyncio.sleep(0)
        return count

    async def drain(self, timeout_s: float = 60.0) -> None:
        """Wait until the broker has acknowledged every message sent so far."""
        await self.client.drain(timeout_s)


def terminal_url(url: str) -> str:
    """The broker URL as terminals use it: MQTT 3.1.1 unless the URL says otherwise.

    Field terminals mostly speak 3.1.1, and it has no receive maximum: over
    MQTT 5 Mosquitto grants 20 unacknowledged messages, which caps one
    publisher near 5k messages/s on loopback; 3.1.1 reaches ~50k.
    """
    if "version=" in url:
        return url
    return url + ("&" if "?" in url else "?") + "version=3"


@asynccontextmanager
async def open_publisher(settings: Settings, name: str = "sim") -> AsyncIterator[Publisher]:
    if not settings.mqtt_url:
        raise ValueError("MQTT_URL is not set: the simulator publishes to a broker")
    client_id = f"semon-{name}-{uuid.uuid4().hex[:10]}"
    mq = settings.mqtt
    async with connect(
        terminal_url(settings.mqtt_url),
        client_id,
        keepalive_s=mq.keepalive_s,
        reconnect_min_s=mq.reconnect_min_s,
        reconnect_max_s=mq.reconnect_max_s,
    ) as client:
        publisher = Publisher(client, settings.mqtt.topic_root)
        try:
            yield publisher
        finally:
            # Flush on the way out (also on cancellation): nothing accepted is lost.
            with suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.shield(publisher.drain(10.0))
