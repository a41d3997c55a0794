"""The `semon` command speaks the platform's language (`SEMON_I18N__LANGUAGE`,
zh-CN by default) from the catalogs (cli.po); the parts scripts read
(`token_id:`, `secret:`, the banner's `semon is up`) stay as they are."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

from cli.up import READY_LINE, banner
from semon.settings import Settings


def semon(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env={**os.environ, "DATABASE_URL": database_url, "SEMON_LOG_LEVEL": "WARNING", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_banner_in_both_languages(tmp_path: Path) -> None:
    settings = Settings(database_url="postgresql://db/semon", mqtt_url="mqtt://127.0.0.1:1883")
    token_file = tmp_path / "admin-token"
    zh = banner(settings, token_file, "s3cret", simulate=True).splitlines()
    assert zh[0] == f"{READY_LINE}（平台已启动）："
    assert any(line.strip().startswith("调度台") and "/console" in line for line in zh)
    assert any("管理员令牌" in line and "s3cret" in line for line in zh)
    assert zh[-1] == "按 Ctrl-C 停止全部服务；数据会保留到下次 `semon up`。"
    settings.i18n.language = "en"
    en = banner(settings, token_file, "s3cret", simulate=False).splitlines()
    assert en[0] == f"{READY_LINE}:"
    assert any(line.strip().startswith("admin token  s3cret") for line in en)
    assert not any("simulated city" in line for line in en)
    # The commands to try are the same in both.
    assert [line for line in zh if "curl" in line] == [line for line in en if "curl" in line]


def test_commands_speak_the_setting(database_url: str) -> None:
    zh = semon(database_url, "db", "migrate")
    assert zh.returncode == 0, zh.stderr
    assert re.fullmatch(r"(postgres|timescale)：已是最新", zh.stdout.strip()), zh.stdout
    en = semon(database_url, "db", "migrate", SEMON_I18N__LANGUAGE="en")
    assert re.fullmatch(r"(postgres|timescale): up to date", en.stdout.strip()), en.stdout
    refused = semon(database_url, "token", "create", "--role", "admin", "--scope", "x")
    assert refused.returncode == 2
    assert refused.stderr.strip() == "错误：管理员令牌没有范围"
    revoked = semon(database_url, "token", "revoke", "tok_nope", SEMON_I18N__LANGUAGE="en")
    assert revoked.returncode == 1 and revoked.stderr.strip() == "no live token 'tok_nope'"


# Lines scripts read, kept as they are in every language.
FIXED_LINES = ("token_id: ", "secret:   ", "expires:  ")


def test_no_operator_text_is_written_in_code() -> None:
    """Every typer.echo says a catalog text (t(...), render(...)) or a value;
    a literal string or f-string is English-only text, except the fixed
    lines scripts read."""
    found: list[str] = []
    echoes = 0
    for path in sorted((Path(__file__).resolve().parents[2] / "cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "echo"
                and node.args
            ):
                continue
            echoes += 1
            said = node.args[0]
            literal = isinstance(said, ast.JoinedStr) or (
                isinstance(said, ast.Constant) and isinstance(said.value, str)
            )
            text = ast.unparse(said)
            if literal and not any(text[2:].startswith(fixed) for fixed in FIXED_LINES):
                found.append(f"{path.name}:{node.lineno}: {text}")
    assert echoes > 15  # the scan sees the commands at all
    assert found == [], "text not from the catalogs (cli.po):\n" + "\n".join(found)
