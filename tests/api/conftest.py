"""The API run for real: uvicorn on a spare port (lifespan included) in a
thread of its own, against the session's migrated database.

Fixtures other API tests use:
- `api_url`: base URL of the live server (session-scoped);
- `api_settings`: the Settings it runs with;
- `admin_headers`: Authorization headers of the bootstrap admin;
- `token_for(role, scope)`: headers of a fresh token with that role and scope;
- `uid`: a unique prefix for ids made by one test.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from semon.settings import Settings
from tests.support import services

Headers = dict[str, str]


class LiveServer:
    """api.service.run in its own thread and event loop (asyncio.run, so
    whatever is left at shutdown is cancelled and awaited)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[None] | None = None
        self.thread = threading.Thread(target=self._main, name="api-server", daemon=True)

    def _main(self) -> None:
        from api.service import run

        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            self.task = asyncio.current_task()  # type: ignore[assignment]
            started = asyncio.Event()
            waiter = asyncio.create_task(started.wait())
            waiter.add_done_callback(lambda _: self.ready.set())
            try:
                await run(self.settings, ready=started)
            finally:
                waiter.cancel()

        try:
            asyncio.run(main())
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # reported to the test thread
            self.error = exc
        finally:
            self.ready.set()

    def start(self, timeout: float = 30.0) -> None:
        self.thread.start()
        if not self.ready.wait(timeout):
            raise TimeoutError("API did not start")
        if self.error is not None:
            raise RuntimeError("API failed to start") from self.error

    def stop(self) -> None:
        if self.loop is not None and self.task is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(15)
        assert not self.thread.is_alive(), "API did not shut down"


@contextlib.contextmanager
def serving(settings: Settings) -> Iterator[tuple[str, Headers]]:
    """A LiveServer of its own for a test that needs other settings: its base
    URL and the bootstrap admin's headers."""
    server = LiveServer(settings)
    server.start()
    try:
        yield (
            f"http://127.0.0.1:{settings.api.port}",
            {"Authorization": f"Bearer {settings.api.bootstrap_admin_token}"},
        )
    finally:
        server.stop()


def make_settings(database_url: str) -> Settings:
    s = Settings(database_url=database_url)
    s.api.host = "127.0.0.1"
    s.api.port = services.free_port()
    s.api.bootstrap_admin_token = "semon_test_admin_" + uuid.uuid4().hex
    s.api.stream_poll_s = 0.5
    s.api.stream_ping_s = 1.0
    s.api.statement_timeout_ms = 5000
    s.storage.pool_max = 8
    s.log_level = "WARNING"
    return s


@pytest.fixture(scope="session")
def api_settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture(scope="session")
def api_url(api_settings: Settings) -> Iterator[str]:
    server = LiveServer(api_settings)
    server.start()
    try:
        yield f"http://{api_settings.api.host}:{api_settings.api.port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def admin_headers(api_url: str, api_settings: Settings) -> Headers:
    return {"Authorization": f"Bearer {api_settings.api.bootstrap_admin_token}"}


def token_factory(api_url: str, admin_headers: Headers) -> Callable[..., Headers]:
    """Headers of a token with a role and scope, issued through the admin route
    (admin itself answers with the admin headers); one token per role and scope."""
    cache: dict[tuple[str, tuple[str, ...]], Headers] = {}

    def make(role: str, *scope: str) -> Headers:
        if role == "admin" and not scope:
            return admin_headers
        key = (role, scope)
        if key not in cache:
            r = httpx.post(
                f"{api_url}/tokens",
                # Tests scope tokens to firms and districts they may not have
                # registered (an empty scope is itself a case under test); the
                # refusal of an unknown scope is tested in test_access.
                json={
                    "role": role,
                    "scope": list(scope),
                    "label": "test",
                    "allow_unknown_scope": True,
                },
                headers=admin_headers,
                timeout=30,
            )
            assert r.status_code == 201, r.text
            cache[key] = {"Authorization": f"Bearer {r.json()['secret']}"}
        return cache[key]

    return make


@pytest.fixture(scope="session")
def token_for(api_url: str, admin_headers: Headers) -> Callable[..., Headers]:
    return token_factory(api_url, admin_headers)


@pytest.fixture
def uid() -> str:
    return "t" + uuid.uuid4().hex[:8]


def post_ok(url: str, headers: Headers, body: Any) -> Any:
    r = httpx.post(url, json=body, headers=headers, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()
