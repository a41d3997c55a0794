"""Times in query strings (`from`, `to`, `since`, ...): one rule for every route.

The contract's timestamps are RFC 3339 with an offset, so a query time is a
full RFC 3339 date-time: `T` between date and time, seconds, an optional
fraction, and `Z` or `±hh:mm`. Anything else (no offset, a space for the `T`,
an ISO week or ordinal date, epoch numbers) is refused with a 422 naming the
parameter, rather than guessed at: a time without an offset means a
different instant to every client. Accepted times are converted to UTC, the
zone the API answers in. Routes that take a day (`at=2026-12-01`) take a
`date`, not this.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from semon.domain.common import RFC3339_DATETIME


def parse_query_time(value: Any) -> datetime:
    """An RFC 3339 date-time with an offset, as an aware UTC datetime."""
    if not isinstance(value, str) or not RFC3339_DATETIME.fullmatch(value):
        raise PydanticCustomError(
            "rfc3339_datetime",
            "expected an RFC 3339 date-time with an offset, like 2026-11-21T08:00:00+08:00"
            " or 2026-11-21T00:00:00Z",
        )
    try:
        parsed = datetime.fromisoformat(value.upper())
    except ValueError as exc:  # the right shape, but no such time (a 31st of November)
        raise PydanticCustomError(
            "rfc3339_datetime", "not a valid date-time: {reason}", {"reason": str(exc)}
        ) from None
    return parsed.astimezone(UTC)


# A time in a query string: ``Annotated[QueryTime | None, Query(...)]``.
QueryTime = Annotated[datetime, BeforeValidator(parse_query_time)]
