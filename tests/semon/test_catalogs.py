"""Every string people see has a text in both languages: the keys the code
uses (Python through Babel's extractor, the console's modules and HTML) are
in the zh-CN and en catalogs, non-empty and not fuzzy, with the same
placeholders in both, in the same domain file; and no catalog key is unused.
The check is proven to fail on a deliberately broken catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from semon.i18n import CatalogError, catalogs, load_catalogs
from tests.support.catalog_check import all_uses, console_uses, problems, python_uses

HEADER = 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'


def write_po(root: Path, directory: str, domain: str, entries: list[tuple[str, str]]) -> None:
    folder = root / directory / "LC_MESSAGES"
    folder.mkdir(parents=True, exist_ok=True)
    # A key written "~key" is marked fuzzy (a translation still to be reviewed).
    body = "".join(
        ("#, fuzzy\n" if k.startswith("~") else "") + f'msgid "{k.lstrip("~")}"\nmsgstr "{v}"\n\n'
        for k, v in entries
    )
    (folder / f"{domain}.po").write_text(HEADER + body, encoding="utf-8")


def test_every_used_key_has_both_texts_and_every_key_is_used() -> None:
    uses, extraction_problems = all_uses()
    found = extraction_problems + problems(catalogs(), uses)
    assert found == [], "catalog problems:\n" + "\n".join(found)


def test_the_extractors_find_the_keys_where_they_are() -> None:
    """Not an empty pass: keys known to be used in each kind of file are found there."""
    py = python_uses()
    assert any(w.startswith("api/routes/docs.py:") for w in py["api.docs.swagger_title"])
    assert "api.problem.unknown_language" in py
    console, _ = console_uses()
    assert any(w.startswith("api/static/console.html:") for w in console["console.login.title"])
    assert any(w.startswith("api/static/js/board.js:") for w in console["console.view.desk"])
    assert any(w.startswith("api/static/js/alarm.js:") for w in console["console.critical.count"])


def test_the_check_fails_on_an_incomplete_catalog(tmp_path: Path) -> None:
    write_po(
        tmp_path,
        "zh_CN",
        "demo",
        [
            ("demo.ok", "好 {name}"),
            ("demo.empty", ""),
            ("demo.placeholders", "电梯 {elevator_id}"),
            ("demo.spec", "始于 {at:datetime}"),
            ("demo.unused", "没人用"),
            ("~demo.fuzzy", "模糊"),
        ],
    )
    write_po(
        tmp_path,
        "en",
        "demo",
        [
            ("demo.ok", "ok {name}"),
            ("demo.empty", "empty in Chinese only"),
            ("demo.placeholders", "elevator {elevator}"),
            ("demo.spec", "since {at}"),
            ("demo.unused", "nobody uses me"),
            ("demo.fuzzy", "fuzzy in Chinese"),
        ],
    )
    write_po(tmp_path, "en", "other", [("demo.elsewhere", "only in English")])
    broken = load_catalogs(tmp_path)
    uses = {
        key: ["demo.py:1"]
        for key in ("demo.ok", "demo.empty", "demo.placeholders", "demo.spec", "demo.fuzzy")
    }
    uses["demo.missing"] = ["demo.js:7"]
    uses["demo.elsewhere"] = ["demo.py:2"]
    found = problems(broken, uses, vocabulary=set())
    text = "\n".join(found)
    assert "demo.missing: no zh-CN text (used in demo.js:7)" in text
    assert "demo.missing: no en text" in text
    assert "demo.empty: empty zh-CN text" in text
    assert "demo.fuzzy: zh-CN text is fuzzy" in text
    assert "demo.placeholders: placeholders differ" in text
    assert "demo.spec: placeholders differ" in text
    assert "demo.unused: unused" in text
    assert "demo.elsewhere: no zh-CN text" in text
    assert not any(line.startswith("demo.ok") for line in found)
    assert len(found) == 8, text


def test_a_key_defined_twice_is_refused(tmp_path: Path) -> None:
    write_po(tmp_path, "zh_CN", "one", [("demo.twice", "一")])
    write_po(tmp_path, "zh_CN", "two", [("demo.twice", "二")])
    write_po(tmp_path, "en", "one", [("demo.twice", "one"), ("demo.twice", "again")])
    with pytest.raises(CatalogError) as caught:
        load_catalogs(tmp_path)
    assert len(caught.value.problems) == 2
    assert all("'demo.twice' is already defined" in p for p in caught.value.problems)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("{0} floors", "positional"),
        ("{} floors", "positional"),
        ("{car.__class__}", "attribute or index"),
        ("{car[0]}", "attribute or index"),
        ("{car!r}", "no conversions"),
        ("{car:>10}", "spec must be one of"),
        ("{car", "unbalanced"),
    ],
)
def test_a_template_that_cannot_be_filled_safely_is_refused(
    tmp_path: Path, text: str, why: str
) -> None:
    write_po(tmp_path, "zh_CN", "demo", [("demo.bad", text)])
    write_po(tmp_path, "en", "demo", [("demo.bad", "fine {car}")])
    with pytest.raises(CatalogError, match=why):
        load_catalogs(tmp_path)


def test_a_key_must_be_symbolic(tmp_path: Path) -> None:
    write_po(tmp_path, "zh_CN", "demo", [("Elevator stuck", "电梯困人")])
    write_po(tmp_path, "en", "demo", [("demo.ok", "ok")])
    with pytest.raises(CatalogError, match=r"not of the form area\.thing"):
        load_catalogs(tmp_path)


def test_the_console_extractor_refuses_keys_built_at_run_time(tmp_path: Path) -> None:
    (tmp_path / "page.js").write_text(
        'const a = t("demo.literal");\nconst b = t(`demo.${kind}`);\n', encoding="utf-8"
    )
    (tmp_path / "page.html").write_text(
        '<p data-i18n="demo.text"></p><input data-i18n-placeholder="demo.hint">\n',
        encoding="utf-8",
    )
    uses, found = console_uses(tmp_path)
    assert set(uses) == {"demo.literal", "demo.text", "demo.hint"}
    assert len(found) == 1 and "page.js:2" in found[0]
