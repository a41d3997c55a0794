"""Times and numbers for people: the platform's time zone, 24-hour clock, the
reader's own date format (CLDR data through babel.dates).

zh-CN: `2026年11月21日 08:05:03`; en: `Nov 21, 2026, 08:05:03` (a spelled-out
month, never the ambiguous 11/21 vs 21/11). The console formats with the
browser's Intl.DateTimeFormat and the same fields, so both read alike. A
naive datetime is taken as UTC (the platform stores UTC).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_skeleton
from babel.numbers import format_decimal

from semon.i18n.catalogs import DIRECTORIES, Language

# CLDR skeletons: fields wanted, the locale decides their order and words.
_DATE = "yMMMd"
_TIME = "Hms"  # H = 0-23: a 24-hour clock in every locale


@cache
def babel_locale(language: Language) -> Locale:
    return Locale.parse(DIRECTORIES[language])


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def format_datetime(value: datetime, language: Language, timezone: ZoneInfo) -> str:
    locale = babel_locale(language)
    local = _aware(value).astimezone(timezone)
    day = format_skeleton(_DATE, local, locale=locale)
    clock = format_skeleton(_TIME, local, locale=locale)
    # The locale's own glue between the two ("{1} {0}" in zh, "{1}, {0}" in en).
    pattern = str(locale.datetime_formats["medium"])
    return pattern.replace("{1}", day).replace("{0}", clock)


def format_date(value: date | datetime, language: Language, timezone: ZoneInfo) -> str:
    """A datetime is first moved into the time zone; a date is shown as it is."""
    if isinstance(value, datetime):
        value = _aware(value).astimezone(timezone).date()
    return format_skeleton(_DATE, value, locale=babel_locale(language))


def format_time(value: datetime, language: Language, timezone: ZoneInfo) -> str:
    local = _aware(value).astimezone(timezone)
    return format_skeleton(_TIME, local, locale=babel_locale(language))


def format_number(value: float, language: Language) -> str:
    return format_decimal(value, locale=babel_locale(language))
