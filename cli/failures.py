"""The one line a command prints when what it connects to is not there.

A bad DATABASE_URL or a broker that is away used to print a hundred lines of
traceback, the cause on the last of them. These say what was tried (the
address, never the password), what failed, and which setting to change.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict

from semon.i18n import Reader
from semon.mqtt import MqttConnectError, connect, parse_mqtt_url
from semon.store.pool import DatabaseUnavailable


class BrokerUnreachable(RuntimeError):
    """The MQTT broker named by MQTT_URL did not accept a connection."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


def database_target(url: str) -> str:
    """Where a connection string points, without its password."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return without_password(url)
    host = info.get("host") or "localhost"
    port = info.get("port") or "5432"
    user = f"{info['user']}@" if info.get("user") else ""
    return f"{user}{host}:{port}/{info.get('dbname') or ''}"


def without_password(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return "?"
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def _reason(exc: BaseException) -> str:
    # psycopg's text runs over lines ("connection failed: ... failed: Connection
    # refused\n\tIs the server running ..."): keep the cause, on one line.
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    kept = [line for line in lines if not line.startswith("Is the server")]
    text = " ".join(kept) or type(exc).__name__
    return text.removeprefix("connection failed: ")


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def failure_line(exc: BaseException, reader: Reader, database_url: str) -> str | None:
    """The line for a failure to reach the database or the broker; None for
    anything else (a bug keeps its traceback)."""
    for leaf in _leaves(exc):
        if isinstance(leaf, BrokerUnreachable):
            return reader.t(
                "cli.failure.broker",
                target=without_password(leaf.url),
                reason=leaf.reason or reader.t("cli.failure.no_answer"),
            )
        if isinstance(leaf, psycopg.OperationalError | DatabaseUnavailable):
            return reader.t(
                "cli.failure.database", target=database_target(database_url), reason=_reason(leaf)
            )
        if isinstance(leaf, psycopg.ProgrammingError) and "invalid" in str(leaf).lower()[:40]:
            # A connection string psycopg cannot read ("invalid dsn", "invalid
            # connection option"): raised before any connection is tried.
            return reader.t("cli.failure.database_url", reason=_reason(leaf))
    return None


async def check_database(url: str, timeout_s: int = 10) -> None:
    """Connect once to the database at `url` (psycopg's errors if it cannot)."""
    conn = await psycopg.AsyncConnection.connect(url, connect_timeout=timeout_s)
    await conn.close()


async def check_broker(url: str, timeout_s: float = 5.0) -> None:
    """Connect once to the broker at `url`; BrokerUnreachable if it is away,
    refuses the credentials, or the URL is not an MQTT URL."""
    try:
        parse_mqtt_url(url)
        async with connect(url, "semon-check", retry_connect=False, connect_timeout_s=timeout_s):
            pass
    except ValueError as exc:
        raise BrokerUnreachable(url, str(exc)) from None
    except (OSError, TimeoutError) as exc:
        raise BrokerUnreachable(url, _reason(exc) if str(exc) else "") from None
    except MqttConnectError as exc:
        raise BrokerUnreachable(url, _reason(exc)) from None
