"""Our MQTT client over gmqtt: ``connect()``, ``Client`` and the errors.

Only the ``semon.mqtt`` package knows gmqtt's insides (its persistent store,
packet ids, package handler); everything else uses what ``semon.mqtt`` exports.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import gmqtt
from gmqtt.mqtt.constants import MQTTv50
from gmqtt.mqtt.handler import MQTTConnectError
from gmqtt.storage import PersistentStorage

from semon.mqtt.acks import DeferredAcks, DeferredHandler
from semon.mqtt.address import BrokerAddress, backoff_delays, parse_mqtt_url

log = logging.getLogger(__name__)

MessageHandler = Callable[[str, bytes, int, dict[str, Any]], Awaitable[int | None]]


class MqttError(Exception):
    """The broker refused something, or the connection was lost before it answered."""


class MqttConnectError(MqttError):
    """The broker refused the connection (a CONNACK failure: bad credentials, say)."""


class MqttSubscribeError(MqttError):
    """The broker refused a subscription (a SUBACK failure code, e.g. 0x87 not authorised)."""

    def __init__(self, filters: Sequence[str], codes: Sequence[int]) -> None:
        self.filters, self.codes = tuple(filters), tuple(codes)
        refused = ", ".join(
            f"{f!r} (0x{c:02x})" for f, c in zip(filters, codes, strict=False) if c >= 0x80
        )
        super().__init__(f"the broker refused the subscription to {refused}")


class Client:
    """A connection to the broker, made by ``connect()``.

    gmqtt reconnects by itself after a drop and sends again what the broker had
    not acknowledged. The ``subscriptions`` given to ``connect`` are made again
    on every connect; those made with ``subscribe()`` last as long as the session.
    """

    def __init__(
        self,
        raw: Any,
        *,
        outbox: _Outbox,
        subscriptions: Sequence[tuple[str, int]],
        address: BrokerAddress,
        name: str,
    ) -> None:
        self._raw, self._outbox, self._name = raw, outbox, name
        # QoS 1/2 publishes past the broker's receive maximum, in order; sent as
        # PUBACKs make room (gmqtt itself would raise: no packet id left).
        self._held: collections.deque[tuple[str, bytes, int, bool]] = collections.deque()
        outbox.on_room = self._release
        self._where = f"{address.host}:{address.port}"
        self._subscriptions = tuple(subscriptions)
        self._pending: dict[int, tuple[tuple[str, ...], asyncio.Future[tuple[int, ...]]]] = {}
        self._ready = asyncio.Event()  # this connect's own subscriptions answered
        self._refused: MqttSubscribeError | None = None
        raw.on_connect = self._on_connect
        raw.on_subscribe = self._on_subscribe
        raw.on_disconnect = self._on_disconnect

    async def subscribe(
        self, *subscriptions: tuple[str, int], timeout_s: float | None = None
    ) -> tuple[int, ...]:
        """Subscribe to (filter, qos) pairs and return the granted QoS of each once
        the broker confirmed: what is published from then on is received.
        ``MqttSubscribeError`` if the broker refused one, ``MqttError`` if the
        connection was lost before it answered."""
        if not subscriptions:
            raise ValueError("subscribe() needs at least one (filter, qos)")
        return await asyncio.wait_for(self._send_subscribe(subscriptions), timeout_s)

    def unsubscribe(self, *filters: str) -> None:
        """Drop subscriptions from the session (sent; the broker's answer is not
        awaited: messages already on their way may still arrive)."""
        if filters and self._raw.is_connected:
            self._raw.unsubscribe(list(filters))

    def publish(self, topic: str, payload: bytes, *, qos: int = 0, retain: bool = False) -> None:
        """Queue one message; QoS 1/2 are kept until acknowledged (and sent again
        after a reconnect). Past the broker's receive maximum they wait here, in
        order, and go out as acknowledgements make room, so a burst (a backlog
        published after an outage) never runs out of packet ids. A fast
        publisher paces itself with ``wait_window``."""
        if qos > 0 and (self._held or self._outbox.count >= self._id_limit()):
            self._held.append((topic, payload, qos, retain))
            return
        self._raw.publish(topic, payload, qos=qos, retain=retain)

    def _id_limit(self) -> int:
        # Mosquitto's receive maximum is 20 over MQTT 5; past it gmqtt has no
        # packet id. One is left for a SUBSCRIBE.
        return max(1, int(self._raw._package_handler.id_generator._max) - 2)

    def _release(self) -> None:
        limit = self._id_limit()
        while self._held and self._outbox.count < limit:
            topic, payload, qos, retain = self._held.popleft()
            self._raw.publish(topic, payload, qos=qos, retain=retain)

    @property
    def in_flight(self) -> int:
        """QoS 1/2 messages published here that the broker has not acknowledged
        (those waiting for room included)."""
        return self._outbox.count + len(self._held)

    async def wait_window(self, window: int, *, timeout_s: float | None = None) -> None:
        """Until fewer than ``window`` publishes are unacknowledged, so a fast
        publisher neither exhausts packet ids nor exceeds the broker's receive
        maximum. Returns without yielding when there is room."""
        limit = max(1, min(window, self._id_limit()))
        if self._outbox.count < limit and not self._held:
            return
        try:
            await asyncio.wait_for(self._room(limit), timeout_s)
        except TimeoutError:
            raise TimeoutError(
                f"the broker acknowledged too little for {timeout_s:.0f}s"
                f" ({self._outbox.count} messages unacknowledged)"
            ) from None

    async def drain(self, timeout_s: float = 60.0) -> None:
        """Until the broker has acknowledged everything published here: after
        this, the broker owns the messages (the definition of "not lost")."""
        await asyncio.wait_for(self._empty(), timeout=timeout_s)

    async def _room(self, limit: int) -> None:
        while True:
            self._release()  # after it, anything still held means a full window
            if not self._held and self._outbox.count < limit:
                return
            await self._outbox.room(limit)

    async def _empty(self) -> None:
        while True:
            await self._outbox.wait_empty()
            if not self._held:
                return
            self._release()

    def _send_subscribe(self, pairs: Iterable[tuple[str, int]]) -> asyncio.Future[tuple[int, ...]]:
        subs = [gmqtt.Subscription(topic, qos=qos) for topic, qos in pairs]
        filters = tuple(s.topic for s in subs)
        if not self._raw.is_connected:
            raise MqttError(f"not connected: cannot subscribe to {list(filters)}")
        mid = self._raw.subscribe(subs)
        # gmqtt would keep every Subscription ever made (it only marks SUBACKs
        # in them); ours are tracked here by packet id instead.
        del self._raw.subscriptions[:]
        fut: asyncio.Future[tuple[int, ...]] = asyncio.get_running_loop().create_future()
        self._pending[mid] = (filters, fut)
        return fut

    def _on_connect(self, raw: Any, flags: int, rc: int, properties: Any) -> None:
        if not self._subscriptions:
            self._ready.set()
            return
        log.info("MQTT connected to %s as %s", self._where, self._name)
        self._send_subscribe(self._subscriptions).add_done_callback(self._on_renewed)

    def _on_renewed(self, fut: asyncio.Future[tuple[int, ...]]) -> None:
        exc = None if fut.cancelled() else fut.exception()
        if isinstance(exc, MqttSubscribeError):
            log.error("MQTT %s: %s", self._name, exc)
            self._refused = exc
        elif exc is not None or fut.cancelled():
            return  # lost before the SUBACK: the next connect subscribes again
        self._ready.set()

    def _on_subscribe(self, raw: Any, mid: int, codes: Sequence[int], properties: Any) -> None:
        filters, fut = self._pending.pop(mid, ((), None))
        if fut is None or fut.done():
            return
        if any(code >= 0x80 for code in codes):
            fut.set_exception(MqttSubscribeError(filters, codes))
        else:
            fut.set_result(tuple(codes))

    def _on_disconnect(self, raw: Any, *args: Any) -> None:
        self._ready.clear()
        pending, self._pending = self._pending, {}
        for filters, fut in pending.values():
            if not fut.done():
                fut.set_exception(MqttError(f"connection lost before the SUBACK of {filters}"))


class _Outbox(PersistentStorage):  # type: ignore[misc]
    """gmqtt's store of unacknowledged QoS 1/2 publishes (replayed after a
    reconnect), which here also wakes a publisher waiting for room in its
    window on the PUBACK that makes it, instead of polling."""

    def __init__(self) -> None:
        super().__init__()
        self._waiting: list[tuple[int, asyncio.Future[None]]] = []
        self.on_room: Callable[[], None] | None = None

    @property
    def count(self) -> int:
        # No __len__: gmqtt takes an empty store for "none given".
        return len(self._messages)

    def remove_message_by_mid(self, mid: int) -> None:
        super().remove_message_by_mid(mid)
        if self.on_room is not None:
            self.on_room()
        if self._waiting:
            self._wake()

    def clear(self) -> None:
        super().clear()
        if self.on_room is not None:
            self.on_room()
        self._wake()

    def _wake(self) -> None:
        n = len(self._messages)
        still = []
        for limit, fut in self._waiting:
            if fut.done():
                continue
            if n < limit:
                fut.set_result(None)
            else:
                still.append((limit, fut))
        self._waiting = still

    async def room(self, limit: int) -> None:
        """Until fewer than ``limit`` messages are unacknowledged."""
        while len(self._messages) >= limit:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.append((limit, fut))
            await fut


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
    receive_maximum_bytes: int | None = None,
    connect_timeout_s: float = 10.0,
    retry_connect: bool = True,
    reconnect_min_s: float = 0.2,
    reconnect_max_s: float = 30.0,
    subscriptions: Sequence[tuple[str, int]] = (),
) -> AsyncIterator[Client]:
    """A connected client; disconnected on exit.

    ``subscriptions`` (filter, qos) are made on every connect, so they survive a
    broker that restarted without its persistence; the client is yielded once
    the broker confirmed them (``MqttSubscribeError`` if it refused one).

    ``manual_ack``: a QoS 1 message is acknowledged only when ``on_message``
    returns (its return value is the reason code, 0 = success), so a crash
    before that leaves it with the broker to be delivered again.

    ``on_message_deferred`` (instead of ``on_message``): called inline, the
    message acknowledged when the future it returns is done (``semon.mqtt.acks``);
    at most ``receive_maximum`` (default 1000) wait at once, and reading pauses
    while their payloads add up to ``receive_maximum_bytes`` (if given).

    ``retry_connect=False``: a broker that is away raises ``OSError`` or
    ``TimeoutError``, one that refuses raises ``MqttConnectError``.
    """
    addr = parse_mqtt_url(url)
    props: dict[str, Any] = {}
    if addr.version == MQTTv50:
        props["session_expiry_interval"] = session_expiry_s
        if receive_maximum:
            props["receive_maximum"] = receive_maximum
    outbox = _Outbox()
    raw = _BackoffClient(
        client_id,
        clean_session=clean_start,
        optimistic_acknowledgement=not manual_ack and on_message_deferred is None,
        persistent_storage=outbox,
        **props,
    )
    if addr.username:
        raw.set_auth_credentials(addr.username, addr.password)
    # gmqtt reconnects by itself after a drop: retries forever, with our backoff.
    raw.backoff_min_s = reconnect_min_s
    raw.backoff_max_s = reconnect_max_s
    raw.set_config({"reconnect_retries": -1, "reconnect_delay": reconnect_min_s})
    client = Client(raw, outbox=outbox, subscriptions=subscriptions, address=addr, name=client_id)
    if on_message is not None:
        handler = on_message

        async def _on_message(
            c: Any, topic: str, payload: bytes, qos: int, properties: dict[str, Any]
        ) -> int:
            code = await handler(topic, payload, qos, properties)
            return 0 if code is None else code

        raw.on_message = _on_message
    if on_message_deferred is not None:
        DeferredAcks(raw, on_message_deferred, receive_maximum or 1000, receive_maximum_bytes)

    delays = backoff_delays(reconnect_min_s, reconnect_max_s)
    while True:
        try:
            await asyncio.wait_for(
                raw.connect(
                    addr.host, addr.port, ssl=addr.tls, keepalive=keepalive_s, version=addr.version
                ),
                timeout=connect_timeout_s,
            )
            break
        except (OSError, TimeoutError, MQTTConnectError) as exc:
            if not retry_connect:
                if isinstance(exc, MQTTConnectError):
                    raise MqttConnectError(f"{addr.host}:{addr.port}: {exc}") from None
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
        # After a drop before the SUBACK gmqtt reconnects and subscribes again,
        # so with retries this waits as long as connecting would.
        await asyncio.wait_for(
            client._ready.wait(), timeout=None if retry_connect else connect_timeout_s
        )
        if client._refused is not None:
            raise client._refused
        yield client
    finally:
        try:
            await asyncio.wait_for(raw.disconnect(), timeout=5)
        except Exception as exc:  # the broker may already be gone on shutdown
            log.debug("MQTT disconnect failed: %s", exc)
