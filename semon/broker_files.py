"""Mosquitto password and ACL files from the registry (`semon broker files`).

Usernames: `elevator.<elevator_id>` and `station.<station_id>` for terminals
(the prefix keeps an elevator and a station with the same id apart; ids hold
no `:` so the password file stays parseable), and `semon-ingest`,
`semon-alerts`, `semon-api`, `semon-simulator` for our own processes.

Device passwords are derived, never stored: HMAC-SHA256(device_secret,
username), base64url, 32 characters (192 bits). The registry needs no password
column, whoever provisions a terminal computes its password from its id
(`semon broker password elevator E1`), and rotating the secret rotates every
terminal at once. Retired elevators are left out, so their terminals are
refused at the next broker reload.

The ACL gives each terminal write access under its own id only, explicitly
per user (a `pattern` with `%u` would need usernames equal to topic levels,
which the prefix prevents). Mosquitto reads both files at start and on SIGHUP.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psycopg

from semon.domain.common import is_identifier
from semon.i18n import Message, msg, reader
from semon.settings import Settings

KINDS = ("elevator", "station")
# Below this a secret could be guessed; the check refuses a placeholder.
MIN_SECRET_CHARS = 16

ELEVATORS_SQL = "SELECT elevator_id FROM elevators WHERE status <> 'retired' ORDER BY elevator_id"
STATIONS_SQL = "SELECT station_id FROM stations ORDER BY station_id"


class BrokerFilesError(ValueError):
    """The files cannot be written as asked (no secret, a malformed id).
    `message` is the catalog message (the CLI shows it in the operator's
    language); str() is the English."""

    def __init__(self, message: Message) -> None:
        self.message = message
        super().__init__(reader("en").render(message))


@dataclass(frozen=True)
class BrokerUser:
    username: str
    password: str
    # (access, topic) pairs, access one of read, write, readwrite
    rules: tuple[tuple[str, str], ...]


def device_username(kind: str, equipment_id: str) -> str:
    if kind not in KINDS:
        raise BrokerFilesError(msg("broker.kind_unknown", kinds=", ".join(KINDS), kind=repr(kind)))
    # A full match: an id ending in a newline would add a line to passwd/acl.
    if not is_identifier(equipment_id):
        raise BrokerFilesError(msg("broker.bad_id", kind=kind, id=repr(equipment_id)))
    return f"{kind}.{equipment_id}"


def device_password(secret: str, kind: str, equipment_id: str) -> str:
    _check_secret(secret)
    mac = hmac.new(secret.encode(), device_username(kind, equipment_id).encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode()[:32]


def _check_secret(secret: str) -> None:
    if len(secret) < MIN_SECRET_CHARS:
        raise BrokerFilesError(msg("broker.secret_short", min=MIN_SECRET_CHARS))


def password_line(username: str, password: str, iterations: int, salt: bytes | None = None) -> str:
    """One line of Mosquitto's password file: `user:$7$<rounds>$<salt>$<hash>`,
    PBKDF2-HMAC-SHA512 with a 12-byte salt and a 64-byte hash, both base64
    (what mosquitto_passwd writes; mosquitto 2 reads the rounds from the line)."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    b64 = base64.b64encode
    return f"{username}:$7${iterations}${b64(salt).decode()}${b64(digest).decode()}"


def service_users(settings: Settings) -> list[BrokerUser]:
    root = settings.mqtt.topic_root
    b = settings.broker
    device_topics = (f"{root}/elevators/#", f"{root}/stations/#")
    wanted = [
        # ingest and alerts may subscribe to the whole root (`$share/ingest/se/v1/#`;
        # Mosquitto checks a SUBSCRIBE filter against the ACL as written, so a
        # read grant narrower than the filter would refuse it). Read only.
        BrokerUser("semon-ingest", b.ingest_password, (("read", f"{root}/#"),)),
        BrokerUser(
            "semon-alerts",
            b.alerts_password,
            (("read", f"{root}/#"), ("write", f"{root}/alerts/#")),
        ),
        # the API publishes nothing today; it may follow the alert topics
        BrokerUser("semon-api", b.api_password, (("read", f"{root}/alerts/#"),)),
        # the simulator plays every terminal of a city at once
        BrokerUser(
            "semon-simulator", b.simulator_password, tuple(("write", t) for t in device_topics)
        ),
    ]
    return [u for u in wanted if u.password]


def device_users(settings: Settings, elevators: list[str], stations: list[str]) -> list[BrokerUser]:
    root = settings.mqtt.topic_root
    secret = settings.broker.device_secret
    users = []
    for kind, plural, ids in (
        ("elevator", "elevators", elevators),
        ("station", "stations", stations),
    ):
        for equipment_id in ids:
            users.append(
                BrokerUser(
                    device_username(kind, equipment_id),
                    device_password(secret, kind, equipment_id),
                    (("write", f"{root}/{plural}/{equipment_id}/#"),),
                )
            )
    return users


def render_acl(users: list[BrokerUser]) -> str:
    # Anything not granted is denied: Mosquitto's ACL is allow-list only.
    out = ["# Written by `semon broker files`; do not edit, regenerate."]
    for user in users:
        out.append(f"\nuser {user.username}")
        out.extend(f"topic {access} {topic}" for access, topic in user.rules)
    return "\n".join(out) + "\n"


def render_passwords(users: list[BrokerUser], iterations: int) -> str:
    # hashlib's PBKDF2 releases the GIL: threads hash on every core.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        lines = pool.map(
            lambda u: password_line(u.username, u.password, iterations), users, chunksize=256
        )
        return "".join(line + "\n" for line in lines)


def _write_private(path: Path, text: str) -> None:
    # Written beside and renamed so Mosquitto reloading on SIGHUP never reads half a file.
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    tmp.replace(path)


async def load_registry_ids(dsn: str) -> tuple[list[str], list[str]]:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        elevators = [r[0] for r in await (await conn.execute(ELEVATORS_SQL)).fetchall()]
        stations = [r[0] for r in await (await conn.execute(STATIONS_SQL)).fetchall()]
    return elevators, stations


async def write_broker_files(settings: Settings, out: Path) -> tuple[int, int]:
    """Write `passwd` and `acl` into `out`; returns (device users, service users)."""
    _check_secret(settings.broker.device_secret)
    elevators, stations = await load_registry_ids(settings.database_url)
    devices = device_users(settings, elevators, stations)
    services = service_users(settings)
    users = services + devices
    # Hashing and writing are CPU and disk work: off the event loop.
    await asyncio.to_thread(_write_files, out, users, settings.broker.pbkdf2_iterations)
    return len(devices), len(services)


def _write_files(out: Path, users: list[BrokerUser], iterations: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    _write_private(out / "passwd", render_passwords(users, iterations))
    _write_private(out / "acl", render_acl(users))
