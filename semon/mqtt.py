"""The one place the MQTT client library is named.

semon uses gmqtt: in our benchmark it receives several times faster than
aiomqtt, and with ``optimistic_acknowledgement=False`` it acknowledges a QoS 1
message only after our async handler returns, which is what lets ingest
acknowledge only what is committed (README, "Why gmqtt").
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import unquote, urlsplit

import gmqtt
from gmqtt.mqtt.constants import MQTTCommands, MQTTv50, MQTTv311
from gmqtt.mqtt.package import CommandWithMidPacket

log = logging.getLogger(__name__)

MessageHandler = Callable[[str, bytes, int, dict[str, Any]], Awaitable[int | None]]
# A handler called inline for each message (no task per message): it returns
# the reason code at once, or a future whose result is the reason code, and
# the message is acknowledged when that future is done.
DeferredHandler = Callable[[str, bytes, int, dict[str, Any]], "int | asyncio.Future[int]"]


def shared(topic: str, group: str) -> str:
    """The MQTT 5 shared-subscription filter for ``topic`` (plain when no group):
    the broker hands each message to one member of the group."""
    return f"$share/{group}/{topic}" if group else topic


def in_flight(client: gmqtt.Client) -> int:
    """QoS 1/2 messages this client published that the broker has not acknowledged."""
    storage = client._persistent_storage
    # get_all() copies the whole store: O(window) per publish for a paced publisher.
    messages = getattr(storage, "_messages", None)
    return len(messages) if messages is not None else len(storage.get_all())


async def wait_acknowledged(client: gmqtt.Client, timeout_s: float = 60.0) -> None:
    """Until the broker has acknowledged everything this client published: after
    this, the broker owns the messages (the definition of "not lost")."""
    await asyncio.wait_for(client._persistent_storage.wait_empty(), timeout=timeout_s)


async def publish_window(client: gmqtt.Client, window: int) -> None:
    """Wait until fewer than ``window`` publishes are unacknowledged, so a fast
    publisher neither exhausts packet ids nor exceeds the broker's receive maximum."""
    # Never more than the broker's receive maximum (Mosquitto's default is 20),
    # beyond which gmqtt runs out of packet ids.
    window = max(1, min(window, client._package_handler.id_generator._max - 2))
    while in_flight(client) >= window:  # noqa: ASYNC110 - gmqtt signals only "empty"
        await asyncio.sleep(0.001)


class _BackoffClient(gmqtt.Client):  # type: ignore[misc]
    """gmqtt reconnects by itself with a fixed delay; this makes the delay grow
    (jittered, doubling from ``reconnect_min_s`` to ``reconnect_max_s``) while the
    broker stays away, and start small again after a successful connect."""

    backoff_min_s: float = 0.2
    backoff_max_s: float = 30.0

    async def reconnect(self, delay: bool = False) -> None:
        if delay:
            failed = int(self._connection_state.failed_connections)
            ceiling = min(self.backoff_max_s, self.backoff_min_s * (2 ** min(failed, 20)))
            self._connection_state.config["reconnect_delay"] = random.uniform(  # noqa: S311
                ceiling / 2, ceiling
            )
        await super().reconnect(delay=delay)


class _DeferredAcks:
    """Acknowledge QoS 1/2 messages when the future ``handler`` returned is done.

    gmqtt's own manual acknowledgement makes a task per message, which at tens
    of thousands of messages a second costs more than the work itself; here the
    handler runs inline and one future (a batch's commit, say) can carry the
    acknowledgements of thousands of messages. A cancelled or failed future is
    never acknowledged: the broker keeps the message and delivers it again.
    Reading from the socket pauses while ``window`` messages wait, so memory is
    bounded even on a broker that enforces no receive maximum (MQTT 3.1.1).
    """

    def __init__(self, client: gmqtt.Client, handler: DeferredHandler, window: int) -> None:
        self.client, self.handler, self.window = client, handler, window
        self.waiting = 0
        self.paused: Any = None  # the transport we paused, if any
        # Acknowledgements made in one turn of the event loop leave in one
        # write: a PUBACK each was a system call each (a tenth of the alerts
        # process's CPU at 8,000 messages/s, and a batch commit makes thousands).
        self.acks: list[tuple[int, int, int]] = []
        ph = client._package_handler
        # Instance attributes shadow gmqtt's methods of the same name (this
        # module is the one place that knows gmqtt's insides).
        ph._handle_qos_1_publish_packet = partial(self.on_publish, 1)
        ph._handle_qos_2_publish_packet = partial(self.on_publish, 2)
        client.on_message = self.on_qos0

    def transport(self) -> Any:
        conn = self.client._connection
        return None if conn is None else conn._transport

    def on_qos0(self, c: gmqtt.Client, topic: str, payload: bytes, qos: int, props: Any) -> None:
        self.handler(topic, payload, qos, props)

    def on_publish(self, qos: int, mid: int, packet: bytes, topic: str, properties: Any) -> None:
        got = self.handler(topic, packet, qos, properties)
        if not isinstance(got, asyncio.Future):
            self.send(mid, qos, got)
            return
        self.waiting += 1
        got.add_done_callback(partial(self.done, mid, qos))
        if self.waiting >= self.window and self.paused is None:
            t = self.transport()
            if t is not None and not t.is_closing():
                t.pause_reading()
                self.paused = t

    def done(self, mid: int, qos: int, fut: asyncio.Future[int]) -> None:
        self.waiting -= 1
        if self.paused is not None and self.waiting < self.window:
            paused, self.paused = self.paused, None
            if paused is self.transport() and not paused.is_closing():
                paused.resume_reading()
        if fut.cancelled() or fut.exception() is not None:
            return
        self.send(mid, qos, fut.result())

    def send(self, mid: int, qos: int, code: int) -> None:
        if not self.acks:
            asyncio.get_running_loop().call_soon(self.flush)
        self.acks.append((MQTTCommands.PUBREC if qos == 2 else MQTTCommands.PUBACK, mid, code))

    def flush(self) -> None:
        acks, self.acks = self.acks, []
        conn = self.client._connection
        if conn is None or conn.is_closing():
            return  # not acknowledged: the broker delivers them again
        ver = conn._protocol.proto_ver
        conn.send_package(
            b"".join(
                CommandWithMidPacket.build_package(cmd, mid, False, reason_code=code, proto_ver=ver)
                for cmd, mid, code in acks
            )
        )


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


@asynccontextmanager
async def connect(
    url: str,
    client_id: str,
    *,
    on_message: MessageHandler | None = None,
    on_message_deferred: DeferredHandler | None = None,
    clean_start: bool = True,
    session_expiry_s: int = 0,
    keepalive_s: int = 30,
    manual_ack: bool = False,
    receive_maximum: int | None = None,
    connect_timeout_s: float = 10.0,
    retry_connect: bool = True,
    reconnect_min_s: float = 0.2,
    reconnect_max_s: float = 30.0,
    subscriptions: Sequence[tuple[str, int]] = (),
) -> AsyncIterator[gmqtt.Client]:
    """A connected client; disconnected on exit.

    ``subscriptions`` (filter, qos) are made on every connect, so they survive a
    broker that restarted without its persistence.

    ``manual_ack``: a QoS 1 message is acknowledged only when ``on_message``
    returns (its return value is the reason code, 0 = success), so a crash
    before that leaves it with the broker to be delivered again.

    ``on_message_deferred`` (instead of ``on_message``): called inline, the
    message acknowledged when the future it returns is done (``_DeferredAcks``);
    at most ``receive_maximum`` (default 1000) wait at once.
    """
    addr = parse_mqtt_url(url)
    props: dict[str, Any] = {}
    if addr.version == MQTTv50:
        props["session_expiry_interval"] = session_expiry_s
        if receive_maximum:
            props["receive_maximum"] = receive_maximum
    client = _BackoffClient(
        client_id,
        clean_session=clean_start,
        optimistic_acknowledgement=not manual_ack and on_message_deferred is None,
        **props,
    )
    if addr.username:
        client.set_auth_credentials(addr.username, addr.password)
    # gmqtt reconnects by itself after a drop: retries forever, with our backoff.
    client.backoff_min_s = reconnect_min_s
    client.backoff_max_s = reconnect_max_s
    client.set_config({"reconnect_retries": -1, "reconnect_delay": reconnect_min_s})
    if subscriptions:
        subs = [gmqtt.Subscription(t, qos=q) for t, q in subscriptions]

        def _on_connect(c: gmqtt.Client, flags: int, rc: int, properties: Any) -> None:
            log.info("MQTT connected to %s:%s as %s", addr.host, addr.port, client_id)
            c.subscribe(subs)

        client.on_connect = _on_connect
    if on_message is not None:
        handler = on_message

        async def _on_message(
            c: gmqtt.Client, topic: str, payload: bytes, qos: int, properties: dict[str, Any]
        ) -> int:
            code = await handler(topic, payload, qos, properties)
            return 0 if code is None else code

        client.on_message = _on_message
    if on_message_deferred is not None:
        _DeferredAcks(client, on_message_deferred, receive_maximum or 1000)

    delays = backoff_delays(reconnect_min_s, reconnect_max_s)
    while True:
        try:
            await asyncio.wait_for(
                client.connect(
                    addr.host, addr.port, ssl=addr.tls, keepalive=keepalive_s, version=addr.version
                ),
                timeout=connect_timeout_s,
            )
            break
        except (OSError, TimeoutError, gmqtt.mqtt.handler.MQTTConnectError) as exc:
            if not retry_connect:
                raise
            delay = await anext(delays)
            log.warning(
                "MQTT broker %s:%s not reachable (%s); retrying in %.1fs",
                addr.host,
                addr.port,
                exc,
                delay,
            )
            await asyncio.sleep(delay)
    try:
        yield client
    finally:
        try:
            await asyncio.wait_for(client.disconnect(), timeout=5)
        except Exception as exc:  # the broker may already be gone on shutdown
            log.debug("MQTT disconnect failed: %s", exc)
