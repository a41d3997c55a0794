"""`semon alerts`: the process wired together. On start the registry cache
is loaded and the engine's state recovered (alerts/recovery.py); then one
TaskGroup runs the engine (alerts/engine.py), the writer and its page task
(alerts/writer.py) and the periodic work (alerts/periodic.py) until cancelled.

Two MQTT sessions: terminal events on their own (``<client_id>-events``), so
a trapped passenger is not delivered behind the broker's queue of samples.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any

from prometheus_client import start_http_server

from alerts.engine import WAKE, Backpressure, Engine, Inbox, Urgent, status_car
from alerts.filling_state import FillingState
from alerts.metrics import LOOP_LAG
from alerts.periodic import Periodic
from alerts.recovery import Recovery
from alerts.registry import RegistryCache
from alerts.writer import Writer
from semon import mqtt
from semon.clock import Clock, SystemClock
from semon.domain.decode import device_topics, event_topics
from semon.loop_lag import watch_loop_lag
from semon.settings import Settings
from semon.store.pool import DB_UNAVAILABLE, open_pool

log = logging.getLogger(__name__)


async def run(
    settings: Settings, *, ready: asyncio.Event | None = None, clock: Clock | None = None
) -> None:
    """Run until cancelled."""
    clock = clock or SystemClock()
    cfg = settings.alerts
    if cfg.metrics_port:
        start_http_server(cfg.metrics_port)
    # No check per checkout: every user here already treats a failed query as
    # the database being away (the writer's outbox, the registry cache), and
    # the check's round trip sat on every page's path.
    async with open_pool(
        settings.database_url,
        min_size=2,
        max_size=4,
        name="semon-alerts",
        timeout=30,
        check=False,
    ) as pool:
        # Made before connecting: the broker's session may deliver at once.
        inbox: Inbox = asyncio.Queue()
        urgent: Urgent = deque()
        events = event_topics(settings.mqtt.topic_root)

        watched: set[str] = set()  # cars standing with someone inside (the rules keep it)
        queued: dict[str, int] = {}  # status messages per car in the inbox (ElevatorRules.queued)
        backpressure = Backpressure(cfg.inbox_max_bytes)  # the inbox's bound
        cars = f"{settings.mqtt.topic_root.rstrip('/')}/elevators/"

        def on_message(
            topic: str, payload: bytes, qos: int, props: dict[str, Any]
        ) -> int | asyncio.Future[int]:
            # Inline in gmqtt's reader (no task per message), acknowledged at
            # once: recovery from the database (the checkpoint), not
            # redelivery, is what restores what a crash loses. Only past the
            # inbox's bound is the answer a future (reading pauses).
            car = status_car(topic, cars)
            if car is not None:
                if car in watched:
                    # a standing car's samples decide its page (or its release)
                    urgent.append((topic, payload))
                    inbox.put_nowait(WAKE)
                    return 0
                inbox.put_nowait((topic, payload))
                queued[car] = queued.get(car, 0) + 1
                return backpressure.put(len(payload))
            if not topic.endswith("/event"):
                inbox.put_nowait((topic, payload))
                return backpressure.put(len(payload))
            # (an event here is from a session subscribed before events had
            # their own: the events session has its copy)
            return 0

        def on_event(topic: str, payload: bytes, qos: int, props: dict[str, Any]) -> int:
            urgent.append((topic, payload))
            inbox.put_nowait(WAKE)  # an idle engine waits on the inbox
            return 0

        def session(client_id: str, handler: Any) -> Any:
            return mqtt.connect(
                settings.mqtt_url,
                client_id,
                on_message_deferred=handler,
                clean_start=False,
                session_expiry_s=settings.mqtt.session_expiry_s,
                keepalive_s=settings.mqtt.keepalive_s,
                reconnect_min_s=settings.mqtt.reconnect_min_s,
                reconnect_max_s=settings.mqtt.reconnect_max_s,
            )

        async with contextlib.AsyncExitStack() as stack:
            # The events session first: on a restart its queue is delivered
            # while the samples' backlog is still coming in.
            events_client = await stack.enter_async_context(
                session(f"{cfg.client_id}-events", on_event)
            )
            client = await stack.enter_async_context(session(cfg.client_id, on_message))
            await events_client.subscribe(*[(t, 1) for t in events])
            samples = [
                t
                for t in device_topics(settings.mqtt.topic_root, deliveries=False)
                if t not in events
            ]
            # Not awaited here: a session's backlog may fill the inbox and pause
            # reading before the SUBACK is read; serve() waits for it once the
            # engine drains. What arrives meanwhile is judged after recovery.
            subscribed = asyncio.create_task(client.subscribe(*[(t, 1) for t in samples]))
            stack.callback(subscribed.cancel)  # start-up failed before serve() took it
            # A session from before events had their own still has them.
            client.unsubscribe(*events)
            registry = RegistryCache(
                pool,
                refresh_s=cfg.registry_refresh_s,
                timeout_s=cfg.registry_timeout_s,
                cylinders_max=cfg.cylinder_cache_max,
            )
            # Pages go out on the events session: its reading never pauses, so
            # the broker's acknowledgements of them are always read.
            writer = Writer(settings, pool, events_client, clock, registry)
            fillings = FillingState(
                pool,
                registry,
                timeout_s=cfg.registry_timeout_s,
                deny_window_s=settings.permits.deny_window_s,
            )
            engine = Engine(
                settings,
                clock,
                inbox,
                fillings,
                writer,
                urgent=urgent,
                watched=watched,
                queued=queued,
                backpressure=backpressure,
            )
            await registry.refresh()
            engine.emit(await Recovery(engine, pool).run())
            await serve(engine, Periodic(engine, pool, registry), ready, subscribed)


async def serve(
    engine: Engine,
    periodic: Periodic,
    ready: asyncio.Event | None,
    subscribed: asyncio.Future[Any] | None = None,
) -> None:
    writer = engine.writer
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(engine.run(), name="alerts-engine")
            tg.create_task(engine.timers(), name="alerts-timers")
            tg.create_task(writer.run(), name="alerts-writer")
            tg.create_task(writer.run_pages(), name="alerts-pages")
            tg.create_task(periodic.publishing(), name="alerts-publishing")
            tg.create_task(periodic.sweeps(), name="alerts-sweeps")
            tg.create_task(periodic.registry.probe(), name="alerts-registry-probe")
            tg.create_task(watch_loop_lag(LOOP_LAG), name="alerts-loop-lag")
            if subscribed is not None:
                await subscribed  # raises if the broker refused a filter
            if ready is not None:
                ready.set()
    finally:
        # Flush what is queued (bounded: shutdown must not hang on a dead database).
        async def drain() -> None:
            if writer.page_writing is not None and not writer.page_writing.done():
                await writer.page_writing  # the page being stored when cancelled
            while not writer.pages.empty():
                await writer.page(*writer.pages.get_nowait())
            while not writer.queue.empty() and writer.db_ok:
                await writer.apply(writer.take())
            await writer.publish_pending()

        try:
            await asyncio.wait_for(drain(), timeout=5)
        except DB_UNAVAILABLE as exc:
            log.warning("alerts shutdown could not flush everything: %s", exc)
