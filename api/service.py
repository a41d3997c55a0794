"""`semon api`: uvicorn run programmatically, so `semon up` and tests run it in
their own event loop and know when it serves."""

from __future__ import annotations

import asyncio
import contextlib

import uvicorn

from api.app import create_app
from semon.settings import Settings


async def run(settings: Settings, *, ready: asyncio.Event | None = None) -> None:
    """Serve until cancelled; cancellation shuts down gracefully (lifespan
    closes the pool) before it propagates."""
    config = uvicorn.Config(
        create_app(settings),
        host=settings.api.host,
        port=settings.api.port,
        log_level=settings.log_level.lower(),
        lifespan="on",
        # Alert streams are long-lived: shutdown closes them after a short grace.
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    # The caller owns signals (asyncio.run turns Ctrl-C into cancellation);
    # uvicorn's own handlers would fight the other services in `semon up`.
    server.capture_signals = contextlib.nullcontext  # type: ignore[assignment,method-assign]

    serving = asyncio.create_task(server.serve(), name="uvicorn")

    async def announce() -> None:
        # uvicorn offers no event for "started": poll its flag briefly.
        while not server.started and not serving.done():  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        if server.started and ready is not None:
            ready.set()

    watcher = asyncio.create_task(announce(), name="uvicorn-ready")
    try:
        await asyncio.shield(serving)
    except asyncio.CancelledError:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await serving
        raise
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    if not server.started:
        raise RuntimeError(f"API could not start on {settings.api.host}:{settings.api.port}")
