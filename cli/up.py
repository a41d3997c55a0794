"""`semon up`: the whole platform in one process, for one machine.

With no DATABASE_URL an embedded PostgreSQL keeps its data in
``<state_dir>/pgdata``; with no MQTT_URL an amqtt broker runs in this process.
Then migrations, an admin token for the demo, and ingest, alerts, the API
(and, asked, a simulated city) in one TaskGroup. SIGINT / SIGTERM cancel the
group, then the broker and the database stop, in that order.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import psycopg
import typer

from cli.failures import check_broker, check_database, without_password
from cli.process import speaker
from semon.broker_files import MIN_SECRET_CHARS
from semon.embedded import (
    EmbeddedPostgresError,
    ensure_database,
    pick_port,
    running_postgres,
)
from semon.embedded_broker import embedded_broker
from semon.settings import Settings
from semon.store.commands import migrate_database
from semon.store.migrate import FlavourUnavailable

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
# The line the banner starts with; tests and scripts wait for it.
READY_LINE = "semon is up"
# A service that has not said it is ready after this long is named in the log
# (the banner waits on; slow is not broken, but silence helps nobody).
READY_WARN_S = 60.0

ServiceRun = Callable[..., Awaitable[None]]


class ServiceMissing(RuntimeError):
    """A part of the platform `semon up` needs is not installed."""


class BrokerNotSafe(RuntimeError):
    """The embedded broker was asked to listen beyond loopback without logins."""


def _loopback(host: str) -> bool:
    return host in ("127.0.0.1", "::1", "localhost")


class ServiceStopped(RuntimeError):
    """A service returned while it should have run until cancelled."""


@dataclass(frozen=True)
class Service:
    name: str
    run: ServiceRun


def load_services(simulate: bool) -> list[Service]:
    """The service entry points, imported only when `up` runs (see
    cli/main.py). A missing one fails loudly: `up` without ingest would look
    alive and store nothing."""
    try:
        from alerts.service import run as alerts_run
        from api.service import run as api_run
        from ingest.service import run as ingest_run
    except ImportError as exc:
        raise ServiceMissing(f"semon up needs every service: {exc}") from exc
    services = [
        Service("ingest", ingest_run),
        Service("alerts", alerts_run),
        Service("api", api_run),
    ]
    if simulate:
        try:
            from simulators.demo import run_demo
        except ImportError as exc:
            raise ServiceMissing(f"semon up needs the demo city: {exc}") from exc
        services.append(Service("simulators", run_demo))
    return services


async def ensure_admin_secret(settings: Settings) -> str:
    """The demo's admin token: the one kept in ``state_dir/admin-token`` while
    the database still knows it, else a new one (written there, mode 0600)."""
    from semon.tokens import create_token, lookup_token

    path = settings.state_dir / "admin-token"
    kept = path.read_text().strip() if path.exists() else ""
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        if kept:
            record = await lookup_token(conn, kept)
            if record is not None and record.role == "admin":
                return kept
            log.warning("%s is not a live admin token here; issuing a new one", path)
        _token_id, secret = await create_token(conn, "admin", [], "semon up")
        await conn.commit()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    return secret


def api_base(settings: Settings) -> str:
    return f"http://{settings.api.host}:{settings.api.port}"


def _write_state(settings: Settings, name: str, text: str) -> None:
    path = settings.state_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")


def banner(settings: Settings, token_file: Path, secret: str, *, simulate: bool) -> str:
    """What `semon up` prints once every service is ready, in the operator's
    language; the first line starts with READY_LINE in every language."""
    t = speaker(settings).t
    base = api_base(settings)
    state = settings.state_dir
    lines = [
        t("cli.up.ready", ready=READY_LINE),
        t("cli.up.api", url=base),
        t("cli.up.docs", url=base),
        t("cli.up.console", url=base),
        t("cli.up.metrics", url=base),
        t("cli.up.database", url=settings.database_url),
        t(
            "cli.up.broker",
            url=without_password(settings.mqtt_url),
            topics=f"{settings.mqtt.topic_root}/#",
        ),
        t("cli.up.admin_token", secret=secret, file=str(token_file)),
        "",
        t("cli.up.try"),
        f"  export TOKEN=$(cat {token_file})",
        f"  export API=$(cat {state / 'api-url'})",
        '  curl -H "Authorization: Bearer $TOKEN" "$API/alerts?state=open"',
        '  curl -N -H "Authorization: Bearer $TOKEN" "$API/alerts/stream"',
        '  curl -H "Authorization: Bearer $TOKEN" "$API/maintenance/scores"',
        '  curl -H "Authorization: Bearer $TOKEN" '
        '"$API/stats/overdue-inspections?equipment=elevator&group_by=district"',
    ]
    if simulate:
        lines.append(t("cli.up.simulated"))
    lines.append(t("cli.up.stop_hint"))
    return "\n".join(lines)


async def _announce(events: dict[str, asyncio.Event], text: Callable[[], str]) -> None:
    waiting = {name: asyncio.ensure_future(e.wait()) for name, e in events.items()}
    try:
        while True:
            _done, pending = await asyncio.wait(waiting.values(), timeout=READY_WARN_S)
            if not pending:
                break
            slow = [name for name, fut in waiting.items() if not fut.done()]
            log.warning("still waiting for %s to be ready", ", ".join(slow))
    finally:
        for fut in waiting.values():
            fut.cancel()
    typer.echo(text())


def _free_api_port(settings: Settings) -> None:
    # The API's default port is often taken on a developer's machine; a port
    # the user chose is kept (and its service fails loudly if it is taken).
    api = settings.api
    if "port" not in api.model_fields_set:
        port = pick_port(api.host, api.port)
        if port != api.port:
            log.warning("port %s is taken; the API listens on %s", api.port, port)
            api.port = port


async def _serve(
    settings: Settings,
    services: list[Service],
    *,
    simulate: bool,
    elevators: int,
    stations: int,
    seed: int,
    secret: str,
) -> None:
    events = {s.name: asyncio.Event() for s in services}
    token_file = settings.state_dir / "admin-token"

    async def supervise(service: Service) -> None:
        ready = events[service.name]
        if service.name == "simulators":
            await service.run(
                settings, elevators=elevators, stations=stations, seed=seed, ready=ready
            )
        else:
            await service.run(settings, ready=ready)
        # Each runs until cancelled: one that returns by itself would leave a
        # platform that looks up and is not, so it takes the others down.
        raise ServiceStopped(f"{service.name} stopped on its own")

    async with asyncio.TaskGroup() as tg:
        for service in services:
            tg.create_task(supervise(service), name=f"semon-up-{service.name}")
        tg.create_task(
            _announce(events, lambda: banner(settings, token_file, secret, simulate=simulate)),
            name="semon-up-banner",
        )


async def run_up(
    settings: Settings, *, simulate: bool, elevators: int, stations: int, seed: int
) -> None:
    """Run the platform until SIGINT or SIGTERM; returns after a clean stop."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None
    stopping = False

    def on_signal(signum: signal.Signals) -> None:
        nonlocal stopping
        if stopping:
            log.warning("%s again: already stopping", signum.name)
            return
        stopping = True
        log.info("%s: stopping", signum.name)
        main.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        # Every connection and subscription of the in-process broker and the
        # clients would fill the console the banner is printed to.
        for noisy in ("amqtt", "gmqtt", "transitions"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    # A copy, so the caller's settings keep their own URLs.
    settings = settings.model_copy(deep=True)
    settings.state_dir = settings.state_dir.absolute()
    try:
        async with AsyncExitStack() as stack:
            services = load_services(simulate)
            embedded_database = not settings.database_url
            if settings.database_url:
                # The user's database, tried before anything starts: a bad
                # DATABASE_URL is then the one line cli.failures prints.
                await check_database(settings.database_url)
            else:
                server = await stack.enter_async_context(
                    running_postgres(
                        settings.state_dir / "pgdata",
                        settings.embedded.postgres_port,
                        port_fallback=True,
                    )
                )
                await ensure_database(server.dsn("postgres"), settings.embedded.database)
                settings.database_url = server.dsn(settings.embedded.database)
            if settings.mqtt_url:
                # A broker of the user's that is away: say so now, in one line
                # (cli.failures), not as a service retrying in the log.
                await check_broker(settings.mqtt_url)
            else:
                broker_host = settings.embedded.broker_host
                secret = settings.broker.device_secret
                if not _loopback(broker_host) and len(secret) < MIN_SECRET_CHARS:
                    raise BrokerNotSafe(
                        f"the embedded broker would listen on {broker_host} without logins:"
                        f" set SEMON_BROKER__DEVICE_SECRET (at least {MIN_SECRET_CHARS}"
                        " characters), or SEMON_EMBEDDED__BROKER_HOST=127.0.0.1"
                    )
                port = pick_port(LOOPBACK, settings.embedded.broker_port)
                if port != settings.embedded.broker_port:
                    log.warning(
                        "port %s is taken; the embedded broker listens on %s",
                        settings.embedded.broker_port,
                        port,
                    )
                settings.mqtt_url = await stack.enter_async_context(
                    embedded_broker(
                        broker_host,
                        port,
                        device_secret=secret,
                        topic_root=settings.mqtt.topic_root,
                    )
                )
            flavour, applied = await migrate_database(settings.database_url, settings)
            done = ", ".join(f"{v:04d}" for v in applied) or "none (up to date)"
            log.info("database schema (%s flavour): applied %s", flavour, done)
            secret = await ensure_admin_secret(settings)
            _free_api_port(settings)
            # Where this run listens, for scripts and the README's tour (the
            # port may have fallen back from 8000; the database's from 54329).
            _write_state(settings, "api-url", api_base(settings))
            if embedded_database:
                _write_state(settings, "database-url", settings.database_url)
            await _serve(
                settings,
                services,
                simulate=simulate,
                elevators=elevators,
                stations=stations,
                seed=seed,
                secret=secret,
            )
    except asyncio.CancelledError:
        if not stopping:
            raise
        typer.echo(speaker(settings).t("cli.up.stopped"))
    except FlavourUnavailable as exc:
        reason = speaker(settings).render(exc.message)
        typer.echo(speaker(settings).t("cli.refused", command="semon up", reason=reason), err=True)
        raise typer.Exit(1) from None
    except (EmbeddedPostgresError, ServiceMissing, BrokerNotSafe) as exc:
        reason = str(exc)
        typer.echo(speaker(settings).t("cli.refused", command="semon up", reason=reason), err=True)
        raise typer.Exit(1) from None
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
