"""The one place the MQTT client library (gmqtt) is named: our client over it.

``connect()`` yields a ``Client``: ``await client.subscribe(...)`` returns once
the broker confirmed (SUBACK), ``publish()``, the publish window
(``wait_window``), ``drain()`` and ``in_flight``. Messages go to the handler
given to ``connect``: ``on_message``, or ``on_message_deferred`` (called inline,
acknowledged when the future it returns is done).

semon uses gmqtt: in our benchmark it receives several times faster than
aiomqtt, and with ``optimistic_acknowledgement=False`` it acknowledges a QoS 1
message only after our async handler returns, which is what lets ingest
acknowledge only what is committed (README, "Why gmqtt"). No module outside
this package imports gmqtt (an import-linter contract).
"""

from semon.mqtt.acks import DeferredHandler
from semon.mqtt.address import BrokerAddress, parse_mqtt_url, shared
from semon.mqtt.client import (
    Client,
    MessageHandler,
    MqttConnectError,
    MqttError,
    MqttSubscribeError,
    connect,
)

__all__ = [
    "BrokerAddress",
    "Client",
    "DeferredHandler",
    "MessageHandler",
    "MqttConnectError",
    "MqttError",
    "MqttSubscribeError",
    "connect",
    "parse_mqtt_url",
    "shared",
]
