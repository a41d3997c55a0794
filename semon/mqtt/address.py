"""Where the broker is: the MQTT URL, the shared-subscription filter, and the
backoff between connection attempts."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from gmqtt.mqtt.constants import MQTTv50, MQTTv311


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False
    # MQTT 5 unless the URL says ?version=3 (the embedded amqtt broker speaks 3.1.1).
    version: int = MQTTv50


def parse_mqtt_url(url: str) -> BrokerAddress:
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp"):
        raise ValueError(f"MQTT URL must start with mqtt:// or mqtts://, got {url!r}")
    version = MQTTv311 if "version=3" in (parts.query or "") else MQTTv50
    return BrokerAddress(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or (8883 if parts.scheme == "mqtts" else 1883),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=parts.scheme == "mqtts",
        version=version,
    )


def backoff_delays(min_s: float, max_s: float) -> AsyncIterator[float]:
    """Jittered exponential backoff: min_s, ~2x each time, capped at max_s."""

    async def gen() -> AsyncIterator[float]:
        delay = min_s
        while True:
            yield random.uniform(delay / 2, delay)  # noqa: S311 - jitter, not crypto
            delay = min(max_s, delay * 2)

    return gen()


def shared(topic: str, group: str) -> str:
    """The MQTT 5 shared-subscription filter for ``topic`` (plain when no group):
    the broker hands each message to one member of the group."""
    return f"$share/{group}/{topic}" if group else topic
