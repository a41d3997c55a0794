"""Message templates: parsing `{name}` / `{name:spec}` placeholders and filling
them from stored arguments.

A template is parsed once, when its catalog is loaded, into literal text and
named fields; filling never hands the template or an argument to `str.format`,
so a stored argument is only ever text in the output (no attribute or index
access, no nested formats), and a template that asks for more is refused at
load time.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

# What a placeholder may say about its argument. A plain `{name}` prints text
# as given and numbers in the reader's number format; the time specs take a
# datetime (or date) or its ISO text and show it in the platform's time zone.
SPECS: Final = frozenset({"", "datetime", "date", "time"})
# `{code:label:elevator.fault}`: the argument is a value of a vocabulary group
# (semon/i18n/vocabulary.py), shown as that group's word in the reader's
# language (a stored alert summary says "overspeed" in Chinese to a Chinese reader).
LABEL_SPEC: Final = "label:"
_GROUP_FORM: Final = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")


class TemplateError(ValueError):
    """A template that cannot be filled safely; the message says why."""


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    spec: str


Part = str | Field


def parse(template: str) -> tuple[Part, ...]:
    """Literal text and named fields, in order; `{{` and `}}` are literal braces."""
    parts: list[Part] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise TemplateError(f"unbalanced braces: {exc}") from None
    for literal, name, spec, conversion in parsed:
        if literal:
            parts.append(literal)
        if name is None:
            continue
        if not name.isidentifier():
            what = "positional" if name == "" or name.isdigit() else "attribute or index"
            raise TemplateError(f"{what} placeholder {{{name}}}: use a plain name")
        if conversion is not None:
            raise TemplateError(f"placeholder {{{name}!{conversion}}}: no conversions")
        spec = spec or ""
        if spec.startswith(LABEL_SPEC):
            if not _GROUP_FORM.match(spec[len(LABEL_SPEC) :]):
                raise TemplateError(f"placeholder {{{name}:{spec}}}: label:<vocabulary group>")
        elif spec not in SPECS:
            allowed = ", ".join([*sorted(s for s in SPECS if s), LABEL_SPEC + "<group>"])
            raise TemplateError(f"placeholder {{{name}:{spec}}}: spec must be one of {allowed}")
        parts.append(Field(name, spec))
    return tuple(parts)


def fields(parts: tuple[Part, ...]) -> dict[str, str]:
    """Each placeholder's name and spec (what both languages must agree on)."""
    return {p.name: p.spec for p in parts if isinstance(p, Field)}


Formatter = Callable[[object, str], str]


def fill(parts: tuple[Part, ...], args: Mapping[str, object], fmt: Formatter) -> str:
    """The text with each field replaced by fmt(argument, spec); a field with
    no argument stays visible as `{name}` so the gap is seen, not guessed."""
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif part.name in args:
            out.append(fmt(args[part.name], part.spec))
        else:
            out.append("{" + part.name + "}")
    return "".join(out)
