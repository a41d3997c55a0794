"""Field types every message and record shares: identifiers, timestamps, text."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

ID_CHARS = r"[A-Za-z0-9_.\-]{1,64}"
# For pydantic fields and the OpenAPI document only: pydantic-core's Rust
# regex (and ECMAScript, for the schema's readers) takes `$` as the end of the
# text. Python's `re` does not: its `$` also matches before a trailing newline,
# so `re.match(ID_PATTERN, "E1\n")` succeeds. Python code checks ids with
# `is_identifier` (a full match), never with this pattern.
ID_PATTERN = rf"^{ID_CHARS}$"
_ID_RE = re.compile(ID_CHARS)

Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN)]


def is_identifier(text: str) -> bool:
    """`text` is an identifier of the contract, whole (no trailing newline)."""
    return _ID_RE.fullmatch(text) is not None


# Far enough back for any equipment's record, bounded so a huge epoch cannot
# overflow PostgreSQL's timestamptz.
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_EPOCH_MS = 253_402_300_799_000  # 9999-12-31T23:59:59Z
_RFC3339_UTC = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|\+00:00)$"
# RFC 3339 section 5.6 `date-time` with its offset (letters in either case, as
# it allows). `datetime.fromisoformat` alone takes far more: a space for the
# `T`, ISO week and ordinal dates, the basic format, no seconds, no offset.
RFC3339_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
# RFC 3339 `full-date`, the contract's form of a day.
_FULL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


_TIMESTAMP_FORM = (
    "timestamp is not RFC 3339 (like 2026-11-21T08:00:00+08:00 or"
    " 2026-11-21T00:00:00Z) nor integer epoch milliseconds"
)
_DAY_FORM = "expected a date as YYYY-MM-DD (RFC 3339 full-date)"


def _error(kind: str, text: str, **context: str) -> PydanticCustomError:
    """A refusal with its own error type, so the API says it in the reader's
    language (semon/i18n/validation.py, `api.validation.<type>`); ``text`` is
    the English kept in dead letters and logs."""
    return PydanticCustomError(kind, text, context or None)


def _parse_timestamp(value: Any) -> datetime:
    if type(value) is int:  # the common case first: epoch milliseconds
        if not 0 <= value <= _MAX_EPOCH_MS:
            raise _error("timestamp_range", "epoch milliseconds out of range")
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    # bool is an int in Python; a JSON true is not a timestamp.
    if isinstance(value, bool):
        raise _error("timestamp_form", _TIMESTAMP_FORM)
    if isinstance(value, int):
        if not 0 <= value <= _MAX_EPOCH_MS:
            raise _error("timestamp_range", "epoch milliseconds out of range")
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if isinstance(value, str):
        if len(value) > 40:
            raise _error("timestamp_form", "timestamp too long")
        if not RFC3339_DATETIME.fullmatch(value):
            raise _error("timestamp_form", _TIMESTAMP_FORM)
        try:
            parsed = datetime.fromisoformat(value.upper())
        except ValueError:
            raise _error("timestamp_form", "timestamp is not a valid date-time") from None
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise _error("timestamp_offset", "timestamp needs an offset (Z or +hh:mm)")
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise _error("timestamp_range", "timestamp out of range") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise _error("timestamp_offset", "timestamp needs an offset (Z or +hh:mm)")
        return value.astimezone(UTC)
    raise _error("timestamp_form", _TIMESTAMP_FORM)


def _parse_device_time(value: Any) -> datetime:
    ts = _parse_timestamp(value)
    if ts < _EARLIEST:
        raise _error("timestamp_range", "timestamp before 1970")
    return ts


class _DeviceTime:
    """Core schema of a device time, with the common case kept in Rust.

    Epoch milliseconds and UTC RFC 3339 (what terminals send, once per
    sample) become a datetime inside pydantic-core; anything else goes to
    `_parse_timestamp`, as record times do. A Python validator on every sample had been a third
    of the cost of decoding a batch. The future bound depends on the
    platform's clock, so `semon.domain.decode` checks it once per message,
    not here. Wire models set ``val_temporal_unit`` to
    milliseconds (WireModel), which the Rust branch relies on.
    """

    @classmethod
    def __get_pydantic_core_schema__(
        cls, _source: Any, _handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        epoch_ms = core_schema.chain_schema(
            [
                core_schema.int_schema(strict=True, ge=0, le=_MAX_EPOCH_MS),
                core_schema.datetime_schema(),
            ]
        )
        # RFC 3339 in UTC, also parsed in Rust; other offsets go to Python,
        # which converts them to UTC as the contract stores them.
        utc_text = core_schema.chain_schema(
            [
                core_schema.str_schema(pattern=_RFC3339_UTC),
                core_schema.datetime_schema(tz_constraint=0, ge=_EARLIEST),
            ]
        )
        other = core_schema.no_info_plain_validator_function(_parse_device_time)
        return core_schema.union_schema(
            [(epoch_ms, EPOCH_BRANCH), (utc_text, UTC_TEXT_BRANCH), (other, TIMESTAMP_BRANCH)],
            mode="left_to_right",
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, _schema: core_schema.CoreSchema, _handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": _MAX_EPOCH_MS},
                {"type": "string", "format": "date-time"},
            ],
            "description": "RFC 3339 with an offset, or integer epoch milliseconds",
        }


# Labels of the branches in validation errors: decode reports the last one,
# which explains any input (semon.domain.decode._describe).
EPOCH_BRANCH = "epoch_ms"
UTC_TEXT_BRANCH = "utc_text"
TIMESTAMP_BRANCH = "timestamp"

Timestamp = Annotated[datetime, _DeviceTime]
"""A device time: RFC 3339 with an offset or epoch ms, from 1970 on. Not
checked against the clock here: `semon.domain.decode` does that."""


RecordTimestamp = Annotated[datetime, BeforeValidator(_parse_timestamp)]
"""A time in a registry record or API body: same forms, no future check."""


def _parse_day(value: Any) -> date:
    if isinstance(value, datetime):  # a datetime is a date in Python; not a day
        raise _error("day_form", _DAY_FORM)
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _FULL_DATE.fullmatch(value):
        raise _error("day_form", _DAY_FORM)
    try:
        return date.fromisoformat(value)
    except ValueError as exc:  # the right shape, but no such day (2026-02-30)
        raise _error("day_invalid", "not a valid date: {reason}", reason=str(exc)) from None


Day = Annotated[date, BeforeValidator(_parse_day)]
"""A day as the contract writes it: `YYYY-MM-DD` only (pydantic's `date` also
takes a date-time at midnight and epoch seconds, which would mean a day in
some unstated time zone)."""


def clean_text(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and a lone surrogate cannot be encoded
    # as UTF-8: both would fail a whole batch at write time, so refuse them here.
    if "\x00" in value:
        raise _error("string_nul", "text contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _error("string_not_utf8", "text is not valid UTF-8") from None
    return value


def _clean_json(value: Any, depth: int = 0) -> Any:
    if depth > 16:
        raise ValueError("object nested too deeply")
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("number is not finite")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**63 - 1:
        raise ValueError("integer out of range")
    if isinstance(value, list):
        return [_clean_json(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {clean_text(str(k)): _clean_json(v, depth + 1) for k, v in value.items()}
    return value


# C0 and C1 control characters (newline and tab included) and lone surrogates.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def clean_line(value: str) -> str:
    """One line of text a person reads (an address, a name, a district):
    no control characters. A newline or an escape sequence in a registry field
    would be printed into consoles, CSV reports, logs and broker ACL files."""
    found = _CONTROL.search(value)
    if found is None:
        return value
    code = ord(found.group())
    if 0xD800 <= code <= 0xDFFF:
        raise _error(
            "string_not_utf8",
            "text is not valid UTF-8 (a lone surrogate, U+{code})",
            code=f"{code:04X}",
        )
    raise _error(
        "string_control", "text contains a control character (U+{code})", code=f"{code:04X}"
    )


# What the OpenAPI document says of these texts, so that a client (or a
# schema-driven fuzzer) knows what is refused before sending it. Only the
# document: the validators give the better message (which character, where).
# ECMAScript and Python both read `\uXXXX` in a pattern.
NO_NUL_SCHEMA = Field(json_schema_extra={"pattern": r"^[^\u0000]*$"})
ONE_LINE_SCHEMA = Field(json_schema_extra={"pattern": r"^[^\u0000-\u001f\u007f-\u009f]*$"})

Text = Annotated[str, StringConstraints(max_length=2000), AfterValidator(clean_text), NO_NUL_SCHEMA]
ShortText = Annotated[
    str, StringConstraints(max_length=200), AfterValidator(clean_text), NO_NUL_SCHEMA
]
Line = Annotated[
    str, StringConstraints(max_length=200), AfterValidator(clean_line), ONE_LINE_SCHEMA
]
"""A registry text field: at most 200 characters on one line, no control characters."""
JsonObject = Annotated[dict[str, Any], AfterValidator(_clean_json)]

NonNegFloat = Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)]
FiniteFloat = Annotated[float, Field(ge=-1e9, le=1e9, allow_inf_nan=False)]
Counter = Annotated[int, Field(ge=0, le=2**63 - 1)]


def _not_bool(value: Any) -> Any:
    # pydantic takes JSON true/false for 1/0 where a number is expected (lax
    # mode, kept for CSV text); a boolean is never a count or a coordinate.
    if isinstance(value, bool):
        raise _error("number_not_bool", "expected a number, not true or false")
    return value


NotBool = BeforeValidator(_not_bool)
"""In a number's ``Annotated[...]``: refuse JSON true/false."""


# Device messages: unknown fields ignored, types strict enough that a string
# is not silently taken for a number; integer times are epoch milliseconds
# (Timestamp's Rust branch).
WIRE_CONFIG = ConfigDict(extra="ignore", allow_inf_nan=False, val_temporal_unit="milliseconds")


class WireModel(BaseModel):
    """Base of device messages (status samples excepted: wire.StatusSample)."""

    model_config = ConfigDict(**WIRE_CONFIG, frozen=True)


class RecordModel(BaseModel):
    """Base of registry records and API bodies."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)
