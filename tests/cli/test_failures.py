"""The real `semon` command, as a user mistypes it: options out of range are
refused before anything starts, and a database or broker that cannot be
reached is one line on stderr (what was tried, what failed, what to set)
with a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.services import free_port

PASSWORD = "s3cret-pw"


def semon(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MQTT_URL")},
        "SEMON_STATE_DIR": str(tmp_path / "state"),
        "SEMON_I18N__LANGUAGE": "en",
        "SEMON_LOG_LEVEL": "WARNING",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [
        ("up", "--elevators", "-5"),
        ("up", "--stations", "-1"),
        ("simulate", "--elevators", "-5"),
        ("simulate", "--processes", "0"),
    ],
)
def test_options_out_of_range_are_refused(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = semon(tmp_path, *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert f"'{args[1]}'" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "state").exists()  # nothing started


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and PASSWORD not in result.stderr
    return lines[0]


@pytest.mark.parametrize("command", [("db", "migrate"), ("up",), ("api",), ("alerts",)])
def test_an_unreachable_database_is_one_line(tmp_path: Path, command: tuple[str, ...]) -> None:
    port = free_port()
    url = f"postgresql://semon:{PASSWORD}@127.0.0.1:{port}/semon"
    line = _one_line(semon(tmp_path, *command, DATABASE_URL=url, MQTT_URL="mqtt://127.0.0.1:1"))
    assert f"semon@127.0.0.1:{port}/semon" in line  # what was tried
    assert "Connection refused" in line  # what failed
    assert "Set DATABASE_URL" in line  # what to set


def test_an_unreadable_database_url_is_one_line(tmp_path: Path) -> None:
    line = _one_line(semon(tmp_path, "db", "status", DATABASE_URL="host=127.0.0.1 bogus=1"))
    assert "DATABASE_URL" in line and "bogus" in line


def test_an_unreachable_broker_is_one_line(tmp_path: Path, fresh_database_url: str) -> None:
    port = free_port()
    result = semon(
        tmp_path,
        "up",
        "--no-simulate",
        DATABASE_URL=fresh_database_url,
        MQTT_URL=f"mqtt://device:{PASSWORD}@127.0.0.1:{port}",
    )
    line = _one_line(result)
    assert f"127.0.0.1:{port}" in line and "Set MQTT_URL" in line


def test_a_broker_that_never_answers_is_one_line_in_each_language(
    tmp_path: Path, fresh_database_url: str
) -> None:
    """A port that takes the connection and says nothing (a firewall's
    tarpit, a hung broker): the reason is the catalog's "no answer"."""
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        url = f"mqtt://device:{PASSWORD}@127.0.0.1:{port}"
        for language, words in (("zh-CN", "没有应答"), ("en", "no answer")):
            result = semon(
                tmp_path,
                "up",
                "--no-simulate",
                DATABASE_URL=fresh_database_url,
                MQTT_URL=url,
                SEMON_I18N__LANGUAGE=language,
            )
            line = _one_line(result)
            assert f"127.0.0.1:{port}" in line and words in line, line


def test_the_line_speaks_the_configured_language(tmp_path: Path) -> None:
    url = f"postgresql://semon@127.0.0.1:{free_port()}/semon"
    result = semon(tmp_path, "db", "migrate", DATABASE_URL=url, SEMON_I18N__LANGUAGE="zh-CN")
    assert "无法连接数据库" in _one_line(result)
