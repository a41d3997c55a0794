"""Device timestamps as terminals write them: epoch ms or RFC 3339 with an offset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

# The simulated city keeps China Standard Time, as its terminals do.
CITY_TZ = timezone(timedelta(hours=8))


def epoch_ms(t: float) -> int:
    return round(t * 1000)


def rfc3339(t: float, tz: timezone = CITY_TZ) -> str:
    return datetime.fromtimestamp(t, tz).isoformat(timespec="milliseconds")


def to_datetime(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def local_hour(t: float, tz: timezone = CITY_TZ) -> float:
    offset = tz.utcoffset(None).total_seconds()
    return ((t + offset) % 86400.0) / 3600.0
