"""Rendering keys for a reader: a language and a time zone.

`Reader.t("api.problem.x", name=...)` renders now; `msg(key, **args)` marks a
key where it is written (at import time, or to be stored) and is rendered
later, per reader, by `Reader.render` or `render(key, args, language, ...)`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from semon.i18n.catalogs import LANGUAGES, Catalogs, Language, load_catalogs
from semon.i18n.negotiate import negotiate
from semon.i18n.templates import LABEL_SPEC, fill
from semon.i18n.timefmt import format_date, format_datetime, format_number, format_time

if TYPE_CHECKING:
    from semon.settings import I18nSettings

log = logging.getLogger(__name__)

DEFAULT_LANGUAGE: Language = "zh-CN"
DEFAULT_TIMEZONE = "Asia/Shanghai"

# What an argument may be: JSON scalars (what a stored message keeps), and
# datetimes and dates in Python (stored as ISO text by `Message.to_json`).
Arg = str | int | float | bool | None
ArgIn = Arg | datetime | date


@cache
def catalogs() -> Catalogs:
    """The package's catalogs, read once per process."""
    return load_catalogs()


@dataclass(frozen=True, slots=True)
class Message:
    """A key and its arguments, rendered later for each reader. `to_json()`
    is the stored form (an alert's summary in a jsonb column)."""

    key: str
    args: Mapping[str, ArgIn] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "args": {k: _stored(v) for k, v in self.args.items()}}

    @classmethod
    def from_json(cls, value: object) -> Message:
        """The stored form back; ValueError if it is not one."""
        if not isinstance(value, Mapping) or not isinstance(value.get("key"), str):
            raise ValueError("a stored message is {'key': str, 'args': {...}}")
        args = value.get("args") or {}
        if not isinstance(args, Mapping):
            raise ValueError("a stored message's args must be an object")
        return cls(value["key"], {str(k): _scalar(v) for k, v in args.items()})


def msg(key: str, /, **args: ArgIn) -> Message:
    """Mark a key for later rendering (extracted by the catalog test)."""
    return Message(key, args)


def _stored(value: ArgIn) -> Arg:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _scalar(value: object) -> Arg:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)  # a stored argument is only ever shown as text


def _as_time(value: object) -> datetime | date | None:
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, str):
        # A bare date stays a date: never moved across time zones.
        for parse in (date.fromisoformat, datetime.fromisoformat):
            try:
                return parse(value)
            except ValueError:
                continue
        return None
    return None


@dataclass(frozen=True, slots=True)
class Reader:
    """Who is reading: the language and the time zone times are shown in."""

    language: Language
    timezone: ZoneInfo

    def t(self, key: str, /, **args: ArgIn) -> str:
        """The key's text with its placeholders filled (extracted by the catalog test)."""
        return self._render(key, args, None)

    def render(self, message: Message, /, fallback: str | None = None) -> str:
        """A stored or marked message; `fallback` if its key is unknown."""
        return self._render(message.key, message.args, fallback)

    def label(self, group: str, value: str) -> str:
        """A vocabulary word (semon/i18n/vocabulary.py): `label("alert.kind",
        "overfill")`; the value itself where the catalog has no word for it."""
        return self._render(f"{group}.{value}", {}, value)

    def format_datetime(self, value: datetime) -> str:
        return format_datetime(value, self.language, self.timezone)

    def format_date(self, value: date | datetime) -> str:
        return format_date(value, self.language, self.timezone)

    def format_time(self, value: datetime) -> str:
        return format_time(value, self.language, self.timezone)

    def _render(self, key: str, args: Mapping[str, object], fallback: str | None) -> str:
        found = catalogs()
        entry = found.entry(self.language, key)
        if entry is None:
            # Never seen in tests (the catalog test), but a stored key may
            # outlive its catalog entry: the other language, then the fallback.
            entry = next((e for lang in LANGUAGES if (e := found.entry(lang, key))), None)
            _missing(key, self.language)
            if entry is None:
                return fallback if fallback is not None else key
        return fill(entry.parts, args, self._arg)

    def _arg(self, value: object, spec: str) -> str:
        if spec.startswith(LABEL_SPEC):
            return "—" if value is None else self.label(spec[len(LABEL_SPEC) :], str(value))
        if spec:
            when = _as_time(value)
            if when is None:
                return "" if value is None else str(value)
            if spec == "date":
                return self.format_date(when)
            if not isinstance(when, datetime):
                return self.format_date(when)
            return self.format_time(when) if spec == "time" else self.format_datetime(when)
        if value is None:
            return "—"
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, int | float):
            return format_number(value, self.language)
        return str(value)


@cache
def _missing(key: str, language: str) -> None:
    log.warning("no %s text for message key %r", language, key)


@cache
def reader(language: Language = DEFAULT_LANGUAGE, timezone: str = DEFAULT_TIMEZONE) -> Reader:
    """The reader for a language and an IANA time zone name."""
    return Reader(language, ZoneInfo(timezone))


def reader_for(settings: I18nSettings, accept_language: str | None = None) -> Reader:
    """The reader of a request (its Accept-Language), or of the platform
    where there is no request (accept_language None: the setting)."""
    return reader(negotiate(accept_language, settings.language), settings.timezone)


def render(
    key: str,
    args: Mapping[str, object] | None,
    language: Language,
    timezone: str = DEFAULT_TIMEZONE,
    *,
    fallback: str | None = None,
) -> str:
    """A stored key and arguments (e.g. an alert's summary) for one reader.
    Arguments are only ever shown as text; a missing one stays `{name}`."""
    safe = (
        {str(k): _scalar(v) for k, v in (args or {}).items()} if isinstance(args, Mapping) else {}
    )
    return reader(language, timezone)._render(key, safe, fallback)
