"""Speaking the users' language: zh-CN by default, en on request.

Every string a person reads comes from the gettext catalogs under
`semon/locale/<zh_CN|en>/LC_MESSAGES/<domain>.po`, keyed by symbolic ids
(`alert.trapped_passenger.summary`) whose texts carry named placeholders
(`{elevator_id}`, `{started_at:datetime}`, and `{code:label:elevator.event}`
for a vocabulary word in the reader's language). The public surface:

- `negotiate(accept_language, default)` -> "zh-CN" | "en";
- `reader(language, timezone)` / `reader_for(settings.i18n, accept_language)`
  -> a `Reader`: `.t(key, **args)` renders now, `.render(message)` a marked
  or stored one, `.label(group, value)` a vocabulary word, and
  `.format_datetime/.format_date/.format_time` show times in the platform's
  time zone, 24-hour, in the reader's format;
- `msg(key, **args)` -> a `Message`: the lazy marker for keys written at import
  time and the stored form (`to_json()` / `Message.from_json()`);
- `render(key, args, language, timezone, fallback=)` for stored arguments;
- `catalogs()` / `load_catalogs(root)`, `CatalogError`; `VOCABULARIES`;
- `validation_message(reader, pydantic_error)`: a validation error's text.

Keys are extracted from `t(...)` and `msg(...)` calls by the catalog test
(tests/semon/test_catalogs.py), which fails on a key without text in either
language, an unused key, and placeholders that differ between languages.
"""

from semon.i18n.catalogs import (
    DIRECTORIES,
    LANGUAGES,
    CatalogError,
    Catalogs,
    Entry,
    Language,
    load_catalogs,
)
from semon.i18n.negotiate import negotiate
from semon.i18n.reader import (
    DEFAULT_LANGUAGE,
    DEFAULT_TIMEZONE,
    Arg,
    ArgIn,
    Message,
    Reader,
    catalogs,
    msg,
    reader,
    reader_for,
    render,
)
from semon.i18n.templates import TemplateError, fields, parse
from semon.i18n.validation import VALIDATION, validation_message
from semon.i18n.vocabulary import VOCABULARIES, vocabulary_keys

__all__ = [
    "DEFAULT_LANGUAGE",
    "DEFAULT_TIMEZONE",
    "DIRECTORIES",
    "LANGUAGES",
    "VALIDATION",
    "VOCABULARIES",
    "Arg",
    "ArgIn",
    "CatalogError",
    "Catalogs",
    "Entry",
    "Language",
    "Message",
    "Reader",
    "TemplateError",
    "catalogs",
    "fields",
    "load_catalogs",
    "msg",
    "negotiate",
    "parse",
    "reader",
    "reader_for",
    "render",
    "validation_message",
    "vocabulary_keys",
]
