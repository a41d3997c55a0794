"""README.md and README.zh-CN.md say the same: each links the other from its
top, and both name the same commands (the shell lines of their fenced code
blocks and the inline `make` / `semon` / `curl` commands), so a reader of
either can run what the other shows."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ENGLISH, CHINESE = REPO / "README.md", REPO / "README.zh-CN.md"

SHELL_BLOCKS = {"sh", "bash", "shell", "console"}
_FENCE = re.compile(r"^```(\S*)\s*$")
_INLINE = re.compile(r"`([^`\n]+)`")
_INLINE_COMMAND = re.compile(
    r"^(?:[A-Z_][A-Z0-9_]*=\S+\s+)*(?:\.venv/bin/)?(?:make|semon|curl)(?=\s|$)"
)
_COMMENT = re.compile(r"(?:^|\s+)#\s.*$")


def _normal(command: str) -> str:
    return " ".join(command.split())


def commands(text: str) -> set[str]:
    found: set[str] = set()
    language: str | None = None  # inside a fence: its info string
    pending = ""
    for line in text.splitlines():
        fence = _FENCE.match(line)
        if fence:
            language = None if language is not None else fence.group(1)
            continue
        if language is None:
            for span in _INLINE.findall(line):
                if _INLINE_COMMAND.match(span):
                    found.add(_normal(span))
            continue
        if language not in SHELL_BLOCKS:
            continue  # program output (the banner), not commands
        if language == "console":
            if not line.startswith("$ "):
                continue
            line = line[2:]
        line = _COMMENT.sub("", line).strip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        if line:
            found.add(_normal(line))
    return found


def test_each_readme_links_the_other_at_its_top() -> None:
    assert "(README.zh-CN.md)" in "\n".join(ENGLISH.read_text("utf-8").splitlines()[:5])
    assert "(README.md)" in "\n".join(CHINESE.read_text("utf-8").splitlines()[:5])


def test_both_readmes_name_the_same_commands() -> None:
    english = commands(ENGLISH.read_text("utf-8"))
    chinese = commands(CHINESE.read_text("utf-8"))
    assert len(english) > 20  # the extraction finds the README's commands at all
    assert english - chinese == set(), "in README.md only"
    assert chinese - english == set(), "in README.zh-CN.md only"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("```sh\nmake run            # = .venv/bin/semon up\n```\n", {"make run"}),
        ("```console\n$ make run\n...\nsemon is up\n```\n", {"make run"}),
        ("```\nsemon is up:\n  curl x\n```\n", set()),  # output, not commands
        (
            "```sh\n# a comment\ndocker compose exec api semon token create \\\n  --role x\n```\n",
            {"docker compose exec api semon token create --role x"},
        ),
        (
            "Run `semon up --no-simulate` or `DATABASE_URL=x semon up`; not `semon/`.",
            {"semon up --no-simulate", "DATABASE_URL=x semon up"},
        ),
    ],
)
def test_the_extraction(text: str, expected: set[str]) -> None:
    assert commands(text) == expected


def _table_folders(text: str, heading: str) -> set[str]:
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)/` \|", section, flags=re.MULTILINE))


def test_the_where_table_names_every_folder_of_the_tree() -> None:
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    tree = {f.split("/", 1)[0] for f in listed if "/" in f and not f.startswith(".")}
    assert {"alerts", "api", "cli", "semon"} <= tree
    assert _table_folders(ENGLISH.read_text("utf-8"), "## What is where") == tree
    assert _table_folders(CHINESE.read_text("utf-8"), "## 目录结构") == tree
