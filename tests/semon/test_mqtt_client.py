"""`semon.mqtt.Client` against real Mosquitto brokers: subscribe returns once the
broker confirmed, a refused subscription raises, drain waits for the broker's
acknowledgements, and the publish window bounds what is unacknowledged.

A broker held with SIGSTOP (a private one) stands for a slow broker: it accepts
bytes into the socket but answers nothing until SIGCONT."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from semon import mqtt
from tests.support import services


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Inbox:
    def __init__(self) -> None:
        self.topics: list[str] = []
        self.changed = asyncio.Event()

    async def on_message(self, topic: str, payload: bytes, qos: int, props: Any) -> int:
        self.topics.append(topic)
        self.changed.set()
        return 0

    async def wait_for(self, n: int, timeout: float = 10.0) -> None:
        async def loop() -> None:
            while len(self.topics) < n:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(loop(), timeout)


@contextlib.contextmanager
def held(proc: subprocess.Popen[bytes]) -> Iterator[None]:
    """The broker stopped (SIGSTOP) for the body; always continued after."""
    proc.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        proc.send_signal(signal.SIGCONT)


async def still_running(task: asyncio.Task[Any], for_s: float = 0.3) -> bool:
    done, _ = await asyncio.wait({task}, timeout=for_s)
    return not done


async def test_subscribe_returns_when_the_broker_confirmed(topic_root: str) -> None:
    inbox = Inbox()
    with services.mosquitto() as (url, proc):
        async with (
            mqtt.connect(url, uid("sub"), on_message=inbox.on_message) as sub,
            mqtt.connect(url, uid("pub")) as pub,
        ):
            with held(proc):
                task = asyncio.create_task(sub.subscribe((f"{topic_root}/#", 2)))
                # no SUBACK from a stopped broker: subscribe has not returned
                assert await still_running(task)
            assert await asyncio.wait_for(task, 10) == (2,)  # the QoS the broker granted
            # published right after, by another client, with no sleep between
            pub.publish(f"{topic_root}/a", b"1", qos=1)
            await inbox.wait_for(1)
    assert inbox.topics == [f"{topic_root}/a"]


async def test_connect_returns_after_the_suback_of_its_subscriptions(
    mqtt_url: str, topic_root: str
) -> None:
    inbox = Inbox()
    async with (
        mqtt.connect(
            mqtt_url,
            uid("sub"),
            on_message=inbox.on_message,
            subscriptions=[(f"{topic_root}/x", 1), (f"{topic_root}/y", 0)],
        ),
        mqtt.connect(mqtt_url, uid("pub")) as pub,
    ):
        pub.publish(f"{topic_root}/x", b"1", qos=1)
        pub.publish(f"{topic_root}/y", b"2", qos=1)
        await inbox.wait_for(2)
    assert sorted(inbox.topics) == [f"{topic_root}/x", f"{topic_root}/y"]


def dynamic_security_plugin() -> Path:
    for pattern in (
        "usr/lib/*/mosquitto_dynamic_security.so",
        "usr/*/mosquitto_dynamic_security.so",
    ):
        found = sorted(Path("/").glob(pattern))
        if found:
            return found[0]
    raise FileNotFoundError("Mosquitto's dynamic security plugin (it ships with mosquitto 2)")


@pytest.fixture
def acl_broker() -> Iterator[str]:
    """A private Mosquitto on which anonymous clients may subscribe to `allowed/#`
    only (the plain acl_file does not check subscriptions; the dynamic security
    plugin does, and answers a refused one in the SUBACK)."""
    config = {
        "defaultACLAccess": {
            "publishClientSend": True,
            "publishClientReceive": True,
            "subscribe": False,
            "unsubscribe": True,
        },
        "clients": [],
        "groups": [{"groupname": "anonymous", "roles": [{"rolename": "allowed"}]}],
        "roles": [
            {
                "rolename": "allowed",
                "acls": [{"acltype": "subscribePattern", "topic": "allowed/#", "allow": True}],
            }
        ],
        "anonymousGroup": "anonymous",
    }
    # Not in pytest's tmp_path: Mosquitto started as root drops to the
    # `mosquitto` user, who cannot enter pytest's private directories.
    with tempfile.TemporaryDirectory(prefix="semon-dynsec-") as tmp:
        Path(tmp).chmod(0o777)
        path = Path(tmp) / "dynamic-security.json"
        path.write_text(json.dumps(config))
        path.chmod(0o666)
        conf = f"plugin {dynamic_security_plugin()}\nplugin_opt_config_file {path}\n"
        with services.mosquitto(extra_conf=conf) as (url, _proc):
            yield url


@pytest.mark.parametrize("version", ["5", "3"])
async def test_a_refused_subscription_raises(acl_broker: str, version: str) -> None:
    url = acl_broker + ("?version=3" if version == "3" else "")
    inbox = Inbox()
    async with mqtt.connect(url, uid("sub"), on_message=inbox.on_message) as client:
        with pytest.raises(mqtt.MqttSubscribeError) as refused:
            await client.subscribe(("allowed/a", 1), ("denied/#", 1))
        assert refused.value.filters == ("allowed/a", "denied/#")
        assert refused.value.codes[0] == 1 and refused.value.codes[1] >= 0x80
        assert "'denied/#'" in str(refused.value)
        # the client goes on: an allowed subscription still works
        assert await client.subscribe(("allowed/b", 1)) == (1,)
        client.publish("allowed/b", b"x", qos=1)
        await inbox.wait_for(1)
    with pytest.raises(mqtt.MqttSubscribeError, match="denied/x"):
        async with mqtt.connect(url, uid("sub"), subscriptions=[("denied/x", 1)]):
            pytest.fail("connect yielded a client whose subscription was refused")


async def test_drain_waits_for_the_brokers_acknowledgements(topic_root: str) -> None:
    inbox = Inbox()
    with services.mosquitto() as (url, proc):
        async with (
            mqtt.connect(url, uid("sub"), on_message=inbox.on_message) as sub,
            mqtt.connect(url, uid("pub")) as pub,
        ):
            await sub.subscribe((f"{topic_root}/#", 1))
            with held(proc):
                for i in range(30):
                    pub.publish(f"{topic_root}/{i}", b"x", qos=1)
                assert pub.in_flight == 30
                with pytest.raises(TimeoutError):
                    await pub.drain(timeout_s=0.3)
                assert pub.in_flight == 30
            await pub.drain(timeout_s=10)
            assert pub.in_flight == 0
            await inbox.wait_for(30)


async def test_the_publish_window_bounds_what_is_unacknowledged(topic_root: str) -> None:
    inbox = Inbox()
    with services.mosquitto() as (url, proc):
        async with (
            mqtt.connect(url, uid("sub"), on_message=inbox.on_message) as sub,
            mqtt.connect(url, uid("pub")) as pub,
        ):
            await sub.subscribe((f"{topic_root}/#", 1))

            async def publish_all(n: int, window: int) -> None:
                for i in range(n):
                    await pub.wait_window(window)
                    pub.publish(f"{topic_root}/{i}", b"x", qos=1)

            with held(proc):
                task = asyncio.create_task(publish_all(100, 10))
                assert await still_running(task)
                assert pub.in_flight == 10
                with pytest.raises(TimeoutError, match="acknowledged too little"):
                    await pub.wait_window(10, timeout_s=0.2)
            # the broker's PUBACKs make room: everything is sent
            await asyncio.wait_for(task, 20)
            await pub.drain(timeout_s=10)
            await inbox.wait_for(100)
    assert sorted(inbox.topics) == sorted(f"{topic_root}/{i}" for i in range(100))


async def test_the_window_never_exceeds_the_brokers_receive_maximum(topic_root: str) -> None:
    # Over MQTT 5 the broker's receive maximum (here 20) bounds the packet ids
    # the client has: asking for a larger window must not run out of them.
    with services.mosquitto(extra_conf="max_inflight_messages 20\n") as (url, proc):
        async with mqtt.connect(url, uid("pub")) as pub:
            with held(proc):

                async def publish_all() -> None:
                    for i in range(60):
                        await pub.wait_window(1000)
                        pub.publish(f"{topic_root}/{i}", b"x", qos=1)

                task = asyncio.create_task(publish_all())
                assert await still_running(task)
                assert 1 <= pub.in_flight < 20
            await asyncio.wait_for(task, 20)
            await pub.drain(timeout_s=10)


async def test_a_burst_past_the_receive_maximum_is_held_and_sent_in_order(
    topic_root: str,
) -> None:
    # The alerts writer publishes a backlog (rows left unpublished by an outage
    # or by the API) in one go, without a window: past the broker's receive
    # maximum gmqtt has no packet id and raised OverflowError, killing the
    # process. The client holds the rest and sends it as PUBACKs make room.
    inbox = Inbox()
    with services.mosquitto(extra_conf="max_inflight_messages 20\n") as (url, proc):
        async with (
            mqtt.connect(url, uid("sub"), on_message=inbox.on_message) as sub,
            mqtt.connect(url, uid("pub")) as pub,
        ):
            await sub.subscribe((f"{topic_root}/#", 1))
            with held(proc):
                for i in range(60):
                    pub.publish(f"{topic_root}/{i}", b"x", qos=1)
                assert pub.in_flight == 60
            await pub.drain(timeout_s=10)
            assert pub.in_flight == 0
            await inbox.wait_for(60)
    assert inbox.topics == [f"{topic_root}/{i}" for i in range(60)]
