"""Acknowledging a QoS 1/2 message when the future its handler returned is done
(``connect(on_message_deferred=...)``): inline, windowed, PUBACKs coalesced."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Any

import gmqtt
from gmqtt.mqtt.constants import MQTTCommands
from gmqtt.mqtt.package import CommandWithMidPacket

# A handler called inline for each message (no task per message): it returns
# the reason code at once, or a future whose result is the reason code, and
# the message is acknowledged when that future is done.
DeferredHandler = Callable[[str, bytes, int, dict[str, Any]], "int | asyncio.Future[int]"]


class DeferredAcks:
    """Acknowledge QoS 1/2 messages when the future ``handler`` returned is done.

    gmqtt's own manual acknowledgement makes a task per message, which at tens
    of thousands of messages a second costs more than the work itself; here the
    handler runs inline and one future (a batch's commit, say) can carry the
    acknowledgements of thousands of messages. A cancelled or failed future is
    never acknowledged: the broker keeps the message and delivers it again.
    Reading from the socket pauses while ``window`` messages wait, or while
    the payloads waiting add up to ``window_bytes`` (if given), so memory is
    bounded even on a broker that enforces no receive maximum (MQTT 3.1.1) and
    whatever the payloads' size: what waits is at most the window plus the one
    message that filled it.
    """

    def __init__(
        self,
        client: gmqtt.Client,
        handler: DeferredHandler,
        window: int,
        window_bytes: int | None = None,
    ) -> None:
        self.client, self.handler, self.window = client, handler, window
        self.window_bytes = window_bytes or float("inf")
        self.waiting = 0
        self.waiting_bytes = 0
        self.paused: Any = None  # the transport we paused, if any
        # Acknowledgements made in one turn of the event loop leave in one
        # write: a PUBACK each was a system call each (a tenth of the alerts
        # process's CPU at 8,000 messages/s, and a batch commit makes thousands).
        self.acks: list[tuple[int, int, int]] = []
        ph = client._package_handler
        # Instance attributes shadow gmqtt's methods of the same name (the
        # semon.mqtt package is the one place that knows gmqtt's insides).
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
        size = len(packet)
        self.waiting_bytes += size
        got.add_done_callback(partial(self.done, mid, qos, size))
        if self.waiting >= self.window or self.waiting_bytes >= self.window_bytes:
            t = self.transport()
            if t is not None and t.is_reading():
                t.pause_reading()
                self.paused = t
                # asyncio's StreamReader (gmqtt reads through one) resumes a
                # transport it paused itself once its buffer drains, which
                # lifted this pause too: from here on the pause is ours alone.
                reader = self.client._connection._protocol._stream_reader
                if reader is not None:
                    reader._paused = False

    def done(self, mid: int, qos: int, size: int, fut: asyncio.Future[int]) -> None:
        self.waiting -= 1
        self.waiting_bytes -= size
        if (
            self.paused is not None
            and self.waiting < self.window
            and self.waiting_bytes < self.window_bytes
        ):
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
