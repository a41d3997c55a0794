"""`semon alerts`: the process wired together. On start the registry cache
is loaded and the engine's state recovered (alerts/recovery.py); then one
TaskGroup runs the engine (alerts/engine.py), the writer (alerts/writer.py)
and the periodic work (alerts/periodic.py) until cancelled.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from prometheus_client import start_http_server

from alerts.engine import Engine, Inbox
from alerts.filling_state import FillingState
from alerts.periodic import Periodic
from alerts.recovery import Recovery
from alerts.registry import RegistryCache
from alerts.writer import Writer
from semon import mqtt
from semon.clock import Clock, SystemClock
from semon.domain.decode import device_topics
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

        def on_message(topic: str, payload: bytes, qos: int, props: dict[str, Any]) -> int:
            # Inline in gmqtt's reader (no task per message), acknowledged at
            # once: recovery from the database (the checkpoint), not
            # redelivery, is what restores what a crash loses.
            inbox.put_nowait((topic, payload))
            return 0

        async with mqtt.connect(
            settings.mqtt_url,
            cfg.client_id,
            on_message_deferred=on_message,
            clean_start=False,
            session_expiry_s=settings.mqtt.session_expiry_s,
            keepalive_s=settings.mqtt.keepalive_s,
            reconnect_min_s=settings.mqtt.reconnect_min_s,
            reconnect_max_s=settings.mqtt.reconnect_max_s,
        ) as client:
            registry = RegistryCache(
                pool,
                refresh_s=cfg.registry_refresh_s,
                timeout_s=cfg.registry_timeout_s,
                cylinders_max=cfg.cylinder_cache_max,
            )
            writer = Writer(settings, pool, client, clock, registry)
            fillings = FillingState(
                pool,
                registry,
                timeout_s=cfg.registry_timeout_s,
                deny_window_s=settings.permits.deny_window_s,
            )
            engine = Engine(settings, clock, inbox, fillings, writer)
            await registry.refresh()
            engine.emit(await Recovery(engine, pool).run())
            await client.subscribe(
                *[(t, 1) for t in device_topics(settings.mqtt.topic_root, deliveries=False)]
            )
            await serve(engine, Periodic(engine, pool, registry), ready)


async def serve(engine: Engine, periodic: Periodic, ready: asyncio.Event | None) -> None:
    writer = engine.writer
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(engine.run(), name="alerts-engine")
            tg.create_task(writer.run(), name="alerts-writer")
            tg.create_task(periodic.publishing(), name="alerts-publishing")
            tg.create_task(periodic.sweeps(), name="alerts-sweeps")
            tg.create_task(periodic.registry.probe(), name="alerts-registry-probe")
            if ready is not None:
                ready.set()
    finally:
        # Flush what is queued (bounded: shutdown must not hang on a dead database).
        async def drain() -> None:
            while not writer.queue.empty() and writer.db_ok:
                await writer.apply(writer.queue.get_nowait())
            await writer.publish_pending()

        try:
            await asyncio.wait_for(drain(), timeout=5)
        except DB_UNAVAILABLE as exc:
            log.warning("alerts shutdown could not flush everything: %s", exc)
