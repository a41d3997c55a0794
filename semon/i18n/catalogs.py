"""Message catalogs: gettext `.po` files read with Babel at first use.

Layout: `<root>/<zh_CN|en>/LC_MESSAGES/<domain>.po`. A language's catalog is
the union of its domain files (`alerts.po`, `api.po`, `console.po`, and any a
feature team adds), so teams add strings in files of their own and never meet
in one. A message id is a symbolic key (`alert.trapped_passenger.summary`),
its msgstr the text with named placeholders. A key defined twice in one
language, in one file or two, is an error, as are a malformed key and a
template that cannot be filled safely: loading raises CatalogError naming
every problem. Empty and fuzzy translations load (and are skipped at run
time); the catalog test fails on them.

The `.po` files themselves ship in the package (package-data), read at start
with Babel's own parser: no compile step, so a fresh clone runs as it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from babel.messages.pofile import read_po

from semon.i18n.templates import Part, TemplateError, parse

Language = Literal["zh-CN", "en"]
LANGUAGES: Final[tuple[Language, ...]] = ("zh-CN", "en")
# The gettext directory of each language.
DIRECTORIES: Final[Mapping[Language, str]] = {"zh-CN": "zh_CN", "en": "en"}

# area.thing[.part...]: lower case, digits and underscores, dot-separated.
KEY_FORM: Final = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
_MSGID_LINE: Final = re.compile(r'^msgid "(.*)"\s*$')

DEFAULT_ROOT: Final = Path(__file__).resolve().parents[1] / "locale"


class CatalogError(Exception):
    """Catalogs that cannot be used; `problems` lists every one found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("message catalogs:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Entry:
    """One key's text in one language, and where it is written."""

    key: str
    text: str
    parts: tuple[Part, ...]
    fuzzy: bool
    path: Path
    line: int

    @property
    def domain(self) -> str:
        return self.path.stem

    @property
    def usable(self) -> bool:
        return bool(self.text.strip()) and not self.fuzzy


@dataclass(frozen=True, slots=True)
class Catalogs:
    root: Path
    entries: Mapping[Language, Mapping[str, Entry]]

    def keys(self) -> set[str]:
        """Every key defined in any language."""
        return {key for by_key in self.entries.values() for key in by_key}

    def entry(self, language: Language, key: str) -> Entry | None:
        """The key's usable text in that language, or None."""
        found = self.entries[language].get(key)
        return found if found is not None and found.usable else None

    def texts(self, language: Language, prefixes: tuple[str, ...]) -> dict[str, str]:
        """The raw texts of every key under the prefixes (for the console,
        which fills placeholders itself); another language's where one lacks it."""
        out: dict[str, str] = {}
        for key in sorted(self.keys()):
            if key.startswith(prefixes):
                entry = self.entry(language, key) or next(
                    (e for lang in LANGUAGES if (e := self.entry(lang, key))), None
                )
                if entry is not None:
                    out[key] = entry.text
        return out


def load_catalogs(root: Path = DEFAULT_ROOT) -> Catalogs:
    problems: list[str] = []
    entries: dict[Language, dict[str, Entry]] = {}
    for language in LANGUAGES:
        folder = root / DIRECTORIES[language] / "LC_MESSAGES"
        files = sorted(folder.glob("*.po"))
        if not files:
            problems.append(f"{folder}: no .po files for {language}")
        entries[language] = {}
        for path in files:
            for entry in _read(path, problems):
                known = entries[language].get(entry.key)
                if known is not None:
                    problems.append(
                        f"{path}:{entry.line}: key {entry.key!r} is already defined "
                        f"at {known.path}:{known.line}"
                    )
                    continue
                entries[language][entry.key] = entry
    if problems:
        raise CatalogError(problems)
    return Catalogs(root=root, entries=entries)


def _read(path: Path, problems: list[str]) -> list[Entry]:
    raw = path.read_bytes()
    # Babel keeps one of two same-id messages in a file without a word: count
    # the msgid lines ourselves (keys are one-line by their form).
    seen: dict[str, int] = {}
    for number, line in enumerate(raw.decode("utf-8").splitlines(), start=1):
        match = _MSGID_LINE.match(line)
        if match and match.group(1):
            key = match.group(1)
            if key in seen:
                problems.append(
                    f"{path}:{number}: key {key!r} is already defined at {path}:{seen[key]}"
                )
            else:
                seen[key] = number
    try:
        catalog = read_po(raw.splitlines(keepends=True), ignore_obsolete=True, abort_invalid=True)
    except Exception as exc:  # Babel's PoFileError and decoding errors alike
        problems.append(f"{path}: not a readable .po file: {exc}")
        return []
    out: list[Entry] = []
    for message in catalog:
        if not message.id:
            continue  # the header
        lineno = message.lineno or 0
        if not isinstance(message.id, str) or not isinstance(message.string, str):
            problems.append(f"{path}:{lineno}: plural forms are not used; phrase around the count")
            continue
        key = message.id
        if not KEY_FORM.match(key):
            problems.append(f"{path}:{lineno}: key {key!r} is not of the form area.thing[.part]")
            continue
        try:
            parts = parse(message.string)
        except TemplateError as exc:
            problems.append(f"{path}:{lineno}: {key}: {exc}")
            continue
        out.append(Entry(key, message.string, parts, message.fuzzy, path, lineno))
    return out
