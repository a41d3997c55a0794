"""The catalog check: which message keys the code uses, and what is wrong
with the catalogs for them.

Python: Babel's own extractor on the marker functions `t(...)` (Reader.t) and
`msg(...)`. The console: `t("key")` and `msg("key")` in its modules and
`data-i18n="key"` / `data-i18n-<attribute>="key"` in its HTML. Vocabulary
keys (semon/i18n/vocabulary.py) count as used: the code shows them with
`label(group, value)`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from babel.messages.extract import extract_from_dir

from semon.i18n import LANGUAGES, VOCABULARIES, Catalogs, fields, vocabulary_keys

REPO = Path(__file__).resolve().parents[2]
PYTHON_PACKAGES = ("semon", "ingest", "alerts", "api", "simulators", "cli")
CONSOLE_DIR = REPO / "api" / "static"
KEYWORDS = {"t": None, "msg": None}

_JS_CALL = re.compile(r"""\b(?:t|msg)\(\s*(["'])([^"'\n]*)\1""")
_JS_TEMPLATE_KEY = re.compile(r"\b(?:t|msg)\(\s*`")
_HTML_ATTR = re.compile(r"""\bdata-i18n(?:-[a-z-]+)?=(["'])([^"']*)\1""")

Uses = dict[str, list[str]]  # key -> where it is used ("path:line")


def python_uses(root: Path = REPO, packages: Iterable[str] = PYTHON_PACKAGES) -> Uses:
    uses: Uses = defaultdict(list)
    for package in packages:
        folder = root / package
        if not folder.is_dir():
            continue
        for filename, line, message, _comments, _context in extract_from_dir(
            folder, method_map=[("**.py", "python")], keywords=KEYWORDS, comment_tags=()
        ):
            key = message[0] if isinstance(message, tuple) else message
            if key:  # a key that is not a literal is left to the unused-key check
                uses[key].append(f"{package}/{filename}:{line}")
    return dict(uses)


def console_uses(folder: Path = CONSOLE_DIR) -> tuple[Uses, list[str]]:
    """Keys the console uses, and problems (keys built from template literals)."""
    uses: Uses = defaultdict(list)
    problems: list[str] = []
    for path in sorted([*folder.rglob("*.js"), *folder.rglob("*.html")]):
        where = path.relative_to(REPO) if path.is_relative_to(REPO) else path
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if path.suffix == ".js" and line.lstrip().startswith(("//", "*", "/*")):
                continue  # comments show the conventions, they use nothing
            pattern = _HTML_ATTR if path.suffix == ".html" else _JS_CALL
            for match in pattern.finditer(line):
                uses[match.group(2)].append(f"{where}:{number}")
            if path.suffix == ".js" and _JS_TEMPLATE_KEY.search(line):
                problems.append(
                    f"{where}:{number}: a key built from a template literal cannot be "
                    'checked; use a table of msg("key") entries'
                )
    return dict(uses), problems


def all_uses() -> tuple[Uses, list[str]]:
    uses: Uses = defaultdict(list)
    for key, where in python_uses().items():
        uses[key].extend(where)
    console, problems = console_uses()
    for key, where in console.items():
        uses[key].extend(where)
    return dict(uses), problems


def problems(catalogs: Catalogs, uses: Uses, vocabulary: set[str] | None = None) -> list[str]:
    """Everything wrong: a used key without usable text in a language, keys
    whose languages disagree on placeholders or files, and unused keys."""
    vocabulary = vocabulary_keys() if vocabulary is None else vocabulary
    found: list[str] = []
    needed = set(uses) | vocabulary
    for key in sorted(needed | catalogs.keys()):
        where = ", ".join(uses.get(key, [])[:3]) or "a vocabulary"
        entries = {lang: catalogs.entries[lang].get(key) for lang in LANGUAGES}
        for lang, entry in entries.items():
            if entry is None:
                found.append(f"{key}: no {lang} text (used in {where})")
            elif not entry.text.strip():
                found.append(f"{key}: empty {lang} text at {entry.path}:{entry.line}")
            elif entry.fuzzy:
                found.append(f"{key}: {lang} text is fuzzy at {entry.path}:{entry.line}")
        present = {lang: e for lang, e in entries.items() if e is not None}
        if len(present) == len(LANGUAGES):
            specs = {lang: fields(e.parts) for lang, e in present.items()}
            if len({tuple(sorted(s.items())) for s in specs.values()}) > 1:
                found.append(f"{key}: placeholders differ between languages: {specs}")
            for name, spec in next(iter(specs.values())).items():
                group = spec.removeprefix("label:")
                if spec.startswith("label:") and group not in VOCABULARIES:
                    found.append(f"{key}: {{{name}:{spec}}} names no vocabulary group")
            domains = {lang: e.domain for lang, e in present.items()}
            if len(set(domains.values())) > 1:
                found.append(f"{key}: defined in different domain files: {domains}")
        if key not in needed and present:
            first = next(iter(present.values()))
            found.append(f"{key}: unused (defined at {first.path}:{first.line})")
    return found
