"""The embedded MQTT broker: amqtt in this process, on loopback unless told
otherwise, that `semon up` starts when no MQTT_URL is set (its PostgreSQL
twin: semon/embedded.py)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

log = logging.getLogger(__name__)

_EVERY_INTERFACE = ("0.0.0.0", "::")  # noqa: S104 - names them, binds nothing


@asynccontextmanager
async def embedded_broker(
    host: str = "127.0.0.1",
    port: int = 18830,
    *,
    device_secret: str = "",
    topic_root: str = "se/v1",
) -> AsyncIterator[str]:
    """An amqtt broker in this process; yields the URL clients connect to.

    amqtt speaks MQTT 3.1.1 only, hence ``?version=3`` (semon.mqtt reads it).
    It has no shared subscriptions and keeps sessions in memory only: enough
    for one machine, not for production (use Mosquitto or EMQX there).

    Without ``device_secret`` it is anonymous (loopback only: the caller's
    business). With it, clients log in (semon.broker_auth): terminals with
    the passwords `semon broker password` gives them, the platform with a
    password made here and carried in the yielded URL.
    """
    from amqtt.broker import Broker

    plugins: dict[str, Any]
    # Clients in this process reach a broker on every interface by loopback.
    near = "127.0.0.1" if host in _EVERY_INTERFACE else host
    if device_secret:
        from semon.broker_auth import SERVICE_USER

        service_password = secrets.token_urlsafe(24)
        options = {
            "device_secret": device_secret,
            "service_password": service_password,
            "topic_root": topic_root,
        }
        plugins = {
            "semon.broker_auth.DeviceAuthPlugin": options,
            "semon.broker_auth.DeviceTopicPlugin": options,
        }
        url = f"mqtt://{SERVICE_USER}:{service_password}@{near}:{port}?version=3"
    else:
        # Anonymous; amqtt's default packet and $SYS plugins cost time per
        # message and tell nobody anything here.
        plugins = {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}
        url = f"mqtt://{near}:{port}?version=3"
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": plugins,
    }
    # amqtt's state machine library logs every transition at INFO.
    logging.getLogger("transitions").setLevel(logging.WARNING)
    broker = Broker(config)
    await broker.start()
    log.info(
        "embedded MQTT broker (amqtt) on %s:%s%s",
        host,
        port,
        ", devices log in" if device_secret else " (anonymous)",
    )
    try:
        yield url
    finally:
        await asyncio.shield(broker.shutdown())
