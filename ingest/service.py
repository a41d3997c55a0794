"""`semon ingest`: subscribe to the device topics and store what arrives.

The session is persistent (fixed client id, clean_start=False, a session
expiry), so what devices publish while this process is away or restarting
is kept by the broker; acknowledgements follow commits (ingest.pipeline).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import threading
from collections.abc import Iterator

import psycopg
from prometheus_client import start_http_server

from ingest.metrics import LOOP_LAG
from ingest.pipeline import Pipeline
from semon import mqtt
from semon.domain.decode import device_topics
from semon.loop_lag import watch_loop_lag
from semon.settings import Settings
from semon.store.maintenance import maintenance_loop
from semon.store.migrate import current_flavour

log = logging.getLogger(__name__)


def subscriptions(settings: Settings) -> list[tuple[str, int]]:
    group = settings.mqtt.share_group
    return [(mqtt.shared(t, group), 1) for t in device_topics(settings.mqtt.topic_root)]


async def _maintenance(settings: Settings) -> None:
    """Keep partitions ahead of the data (needs the flavour, so the database, first)."""
    delay = 1.0
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                settings.database_url, connect_timeout=5
            ) as conn:
                flavour = await current_flavour(conn)
            break
        except psycopg.Error as exc:
            log.warning("storage maintenance waits for the database: %s", exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 60.0)
    if flavour is None:
        log.error("the database has no schema (run `semon db migrate`); no maintenance")
        return
    await maintenance_loop(settings, flavour, interval_s=settings.ingest.maintenance_interval_s)


@contextlib.contextmanager
def _sigterm_stops(stop: asyncio.Event) -> Iterator[None]:
    """Standalone (`semon ingest`), SIGTERM means: flush, acknowledge, exit 0. When
    an embedding process (`semon up`) already handles signals, leave them alone."""
    loop = asyncio.get_running_loop()
    mine = (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    )
    if mine:
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        yield None
    finally:
        if mine:
            loop.remove_signal_handler(signal.SIGTERM)


async def run(settings: Settings, *, ready: asyncio.Event | None = None) -> None:
    """Run until cancelled; on cancellation the batch in hand is committed and
    acknowledged (within ``ingest.shutdown_timeout_s``) before disconnecting."""
    cfg = settings.ingest
    # A batch in hand is tens of thousands of objects that reference counting
    # frees; with the default thresholds (700 allocations) the cyclic collector
    # walked them over and over, a third of ingest's CPU at 5,000 messages/s.
    # Freeze what start-up built and collect young objects far less often.
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    if cfg.metrics_port:
        start_http_server(cfg.metrics_port)
    stop = asyncio.Event()
    pipeline = Pipeline(settings)
    writer = asyncio.create_task(pipeline.run(), name="ingest-writer")
    lag = asyncio.create_task(watch_loop_lag(LOOP_LAG), name="ingest-loop-lag")
    maintenance = (
        asyncio.create_task(_maintenance(settings), name="ingest-maintenance")
        if cfg.maintenance_interval_s > 0
        else None
    )
    try:
        with _sigterm_stops(stop):
            async with mqtt.connect(
                settings.mqtt_url,
                cfg.client_id,
                on_message_deferred=pipeline.handle,
                clean_start=False,
                session_expiry_s=settings.mqtt.session_expiry_s,
                keepalive_s=settings.mqtt.keepalive_s,
                receive_maximum=cfg.receive_maximum,
                receive_maximum_bytes=cfg.max_pending_bytes,
                reconnect_min_s=settings.mqtt.reconnect_min_s,
                reconnect_max_s=settings.mqtt.reconnect_max_s,
                subscriptions=subscriptions(settings),
            ):
                log.info(
                    "ingest subscribed to %s as %s",
                    ", ".join(t for t, _ in subscriptions(settings)),
                    cfg.client_id,
                )
                if ready is not None:
                    ready.set()
                try:
                    await stop.wait()
                    log.info("SIGTERM: flushing the batch in hand")
                except asyncio.CancelledError:
                    await _flush(pipeline, writer, cfg.shutdown_timeout_s)
                    raise
                await _flush(pipeline, writer, cfg.shutdown_timeout_s)
    finally:
        log.info(
            "ingest stopped: %d messages committed and acknowledged, %d left with the broker",
            pipeline.committed,
            pipeline.pending,
        )
        lag.cancel()
        if maintenance is not None:
            maintenance.cancel()
        if not writer.done():
            writer.cancel()
        await asyncio.gather(
            writer, lag, *([maintenance] if maintenance else []), return_exceptions=True
        )


async def _flush(pipeline: Pipeline, writer: asyncio.Task[None], timeout_s: float) -> None:
    await pipeline.close()
    try:
        await asyncio.wait_for(asyncio.shield(writer), timeout=timeout_s)
    except TimeoutError:
        log.error(
            "shutdown: %d messages not committed within %.0fs; left unacknowledged with the broker",
            pipeline.pending,
            timeout_s,
        )
    except Exception:
        log.exception("shutdown: the writer failed")
    # Let the handlers of the committed batch return, so gmqtt queues their
    # PUBACKs before the DISCONNECT.
    for _ in range(5):
        await asyncio.sleep(0)
    await asyncio.sleep(0.05)
