"""Credentials and topic rights for `semon up`'s embedded broker (amqtt),
when it is opened to a network (``embedded.broker_host`` not loopback).

The same rules as the Mosquitto files `semon broker files` writes: a terminal
logs in as `elevator.<id>` or `station.<id>` with its derived password
(HMAC of the device secret, semon.broker_files.device_password) and may
publish only under its own topics; it reads nothing. The platform's own
services log in as `semon-up` with a password made for this run. Nothing
is stored: a password is checked by deriving it again.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass

from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from semon.broker_files import KINDS, BrokerFilesError, device_password

log = logging.getLogger(__name__)

SERVICE_USER = "semon-up"
_PLURAL = {"elevator": "elevators", "station": "stations"}


@dataclass
class DeviceAuthConfig:
    device_secret: str = ""
    service_password: str = ""
    topic_root: str = "se/v1"


def _device(username: str | None) -> tuple[str, str] | None:
    """(kind, id) of a terminal's username, None for anything else."""
    kind, dot, equipment_id = (username or "").partition(".")
    return (kind, equipment_id) if dot and kind in KINDS and equipment_id else None


def check_login(config: DeviceAuthConfig, username: str | None, password: str | None) -> bool:
    if not username or not password:
        return False
    if username == SERVICE_USER:
        return hmac.compare_digest(password, config.service_password)
    device = _device(username)
    if device is None:
        return False
    try:
        expected = device_password(config.device_secret, *device)
    except BrokerFilesError:  # an id out of form
        return False
    return hmac.compare_digest(password, expected)


def may(config: DeviceAuthConfig, username: str | None, topic: str, action: Action) -> bool:
    if username == SERVICE_USER:
        return True
    device = _device(username)
    if device is None or action != Action.PUBLISH:
        return False
    kind, equipment_id = device
    return topic.startswith(f"{config.topic_root}/{_PLURAL[kind]}/{equipment_id}/")


def _password(session: Session) -> str | None:
    value = session.password
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class DeviceAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]  # amqtt is untyped
    """amqtt authentication: terminals by derived password, the platform by
    its run's password; anonymous clients are refused."""

    async def authenticate(self, *, session: Session) -> bool | None:
        ok = check_login(self.context.config, session.username, _password(session))
        if not ok:
            log.warning("broker: login refused for %r", session.username)
        return ok

    Config = DeviceAuthConfig


class DeviceTopicPlugin(BaseTopicPlugin):  # type: ignore[misc]
    """amqtt topic rights: a terminal publishes under its own id only."""

    async def topic_filtering(
        self,
        *,
        session: Session | None = None,
        topic: str | None = None,
        action: Action | None = None,
    ) -> bool | None:
        if session is None or topic is None or action is None:
            return False
        return may(self.context.config, session.username, topic, action)

    Config = DeviceAuthConfig


__all__ = ["SERVICE_USER", "DeviceAuthConfig", "DeviceAuthPlugin", "DeviceTopicPlugin"]
