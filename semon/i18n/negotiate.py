"""Choosing zh-CN or en from an Accept-Language header (RFC 9110 12.5.4).

Ranges are taken in order of their q-values (ties: as written); the first
one we speak wins. Every Chinese range (`zh`, `zh-CN`, `zh-Hans`, `zh-SG`,
and also `zh-TW`, `zh-HK`, `zh-Hant`) means zh-CN: we have Simplified
Chinese only, and a reader of Traditional characters reads it far more
easily than English. `en` and every `en-*` mean en. `*`, a header we cannot
read, no header, or only languages we do not speak: the platform's default.
"""

from __future__ import annotations

from semon.i18n.catalogs import Language

# Longer headers are cut here: a browser sends a handful of ranges.
_MAX_RANGES = 20


def _quality(params: list[str]) -> float | None:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                return None
            return q if 0.0 <= q <= 1.0 else None
    return 1.0


def _language(tag: str) -> Language | None:
    primary = tag.split("-", 1)[0].split("_", 1)[0]
    if primary == "zh":
        return "zh-CN"
    if primary == "en":
        return "en"
    return None


def negotiate(accept_language: str | None, default: Language = "zh-CN") -> Language:
    """The language to answer in: "zh-CN" or "en"."""
    if not accept_language:
        return default
    ranges: list[tuple[float, int, str]] = []
    for index, item in enumerate(accept_language.split(",")[:_MAX_RANGES]):
        tag, *params = item.strip().split(";")
        tag = tag.strip().lower()
        q = _quality(params)
        if not tag or q is None or q == 0.0:
            continue  # malformed ranges are ignored, q=0 means "not this one"
        ranges.append((-q, index, tag))
    for _, _, tag in sorted(ranges):
        if tag == "*":
            return default
        language = _language(tag)
        if language is not None:
            return language
    return default
