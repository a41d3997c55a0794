"""Pydantic's validation errors in the reader's language: each error type's
text from the catalogs (`api.validation.<type>` in api.po), its `ctx` as the
placeholders. A type not listed keeps pydantic's own (English) message. Used
by the API's 422 answers and by the registry import's refusals alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from semon.i18n.reader import Message, Reader, catalogs, msg
from semon.i18n.templates import fields

# Pydantic's error types, by the `ctx` names their texts use. A type not
# here keeps pydantic's own (English) message.
VALIDATION: Final[Mapping[str, Message]] = {
    "missing": msg("api.validation.missing"),
    "extra_forbidden": msg("api.validation.extra_forbidden"),
    "string_type": msg("api.validation.string_type"),
    "string_too_short": msg("api.validation.string_too_short"),
    "string_too_long": msg("api.validation.string_too_long"),
    "string_pattern_mismatch": msg("api.validation.string_pattern_mismatch"),
    "int_type": msg("api.validation.int_type"),
    "int_parsing": msg("api.validation.int_parsing"),
    "int_from_float": msg("api.validation.int_from_float"),
    "float_type": msg("api.validation.float_type"),
    "float_parsing": msg("api.validation.float_parsing"),
    "finite_number": msg("api.validation.finite_number"),
    "bool_type": msg("api.validation.bool_type"),
    "bool_parsing": msg("api.validation.bool_parsing"),
    "greater_than": msg("api.validation.greater_than"),
    "greater_than_equal": msg("api.validation.greater_than_equal"),
    "less_than": msg("api.validation.less_than"),
    "less_than_equal": msg("api.validation.less_than_equal"),
    "literal_error": msg("api.validation.literal_error"),
    "enum": msg("api.validation.enum"),
    "too_short": msg("api.validation.too_short"),
    "too_long": msg("api.validation.too_long"),
    "list_type": msg("api.validation.list_type"),
    "dict_type": msg("api.validation.dict_type"),
    "model_attributes_type": msg("api.validation.model_attributes_type"),
    "datetime_type": msg("api.validation.datetime_type"),
    "datetime_parsing": msg("api.validation.datetime_parsing"),
    "datetime_from_date_parsing": msg("api.validation.datetime_from_date_parsing"),
    "date_type": msg("api.validation.date_type"),
    "date_parsing": msg("api.validation.date_parsing"),
    "date_from_datetime_parsing": msg("api.validation.date_from_datetime_parsing"),
    "timezone_aware": msg("api.validation.timezone_aware"),
    "json_invalid": msg("api.validation.json_invalid"),
    "value_error": msg("api.validation.value_error"),
    "assertion_error": msg("api.validation.assertion_error"),
    # The project's own refusals in the same shape (api/routes/rescues.py).
    "lift_not_found": msg("api.validation.lift_not_found"),
    "string_nul": msg("api.validation.string_nul"),
    # The shared validators' refusals (semon/domain/common.py).
    "string_control": msg("api.validation.string_control"),
    "string_not_utf8": msg("api.validation.string_not_utf8"),
    "timestamp_form": msg("api.validation.timestamp_form"),
    "timestamp_offset": msg("api.validation.timestamp_offset"),
    "timestamp_range": msg("api.validation.timestamp_range"),
    "day_form": msg("api.validation.day_form"),
    "day_invalid": msg("api.validation.day_invalid"),
    "number_not_bool": msg("api.validation.number_not_bool"),
    # A time in a query string (api/query_time.py).
    "rfc3339_datetime": msg("api.validation.rfc3339_datetime"),
}


def validation_message(speaker: Reader, error: Mapping[str, Any]) -> str:
    """One pydantic error's `msg` in the reader's language (a ``Message`` the
    raiser put there is rendered as it is)."""
    if isinstance(error.get("msg"), Message):
        return speaker.render(error["msg"])
    found = VALIDATION.get(str(error.get("type")))
    original = str(error.get("msg", ""))
    if found is None:
        return original
    ctx = error.get("ctx") or {}
    args = {str(k): v if isinstance(v, int | float | str) else str(v) for k, v in ctx.items()}
    entry = catalogs().entry(speaker.language, found.key)
    if entry is not None and not fields(entry.parts).keys() <= args.keys():
        return original  # an error raised without the context its text needs
    return speaker.render(Message(found.key, args), fallback=original)
