"""Tokens that expire: issued with `expires_at` (API) or `--expires-in` (CLI),
accepted until then and refused with 401 after, like a revoked one."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx

Headers = dict[str, str]


def _wait_past(expires_at: str) -> None:
    end = datetime.fromisoformat(expires_at)
    time.sleep(max(0.0, (end - datetime.now(UTC)).total_seconds()) + 0.3)


def test_an_expired_api_token_is_refused(api_url: str, admin_headers: Headers) -> None:
    expires = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    r = httpx.post(
        f"{api_url}/tokens",
        json={"role": "dispatcher", "label": "short", "expires_at": expires},
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    issued = r.json()
    assert issued["expires_at"].endswith("Z")
    mine = {"Authorization": f"Bearer {issued['secret']}"}
    assert httpx.get(f"{api_url}/alerts", headers=mine).status_code == 200
    listed = httpx.get(f"{api_url}/tokens", headers=admin_headers).json()
    assert [t["expires_at"] for t in listed if t["token_id"] == issued["token_id"]] == [
        issued["expires_at"]
    ]
    _wait_past(issued["expires_at"])
    r = httpx.get(f"{api_url}/alerts", headers=mine)
    assert r.status_code == 401, r.text


def test_an_expiry_must_be_a_future_rfc3339_time(api_url: str, admin_headers: Headers) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    for value, loc in (
        (past, None),
        # the body model is the dispatcher's (told apart by role)
        ("2099-01-01 00:00:00+08:00", ["body", "dispatcher", "expires_at"]),
        ("2099-01-01T00:00:00", ["body", "dispatcher", "expires_at"]),
    ):
        r = httpx.post(
            f"{api_url}/tokens",
            json={"role": "dispatcher", "expires_at": value},
            headers={**admin_headers, "Accept-Language": "en"},
        )
        assert r.status_code == 422, (value, r.text)
        if loc is None:
            assert "expires_at" in r.json()["detail"]
        else:
            assert [e["loc"] for e in r.json()["detail"]] == [loc]


def _cli(database_url: str, *args: str, **more: str) -> subprocess.CompletedProcess[str]:
    # English: the expiry line is a catalog text ("过期时间：" in zh-CN).
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SEMON_LOG_LEVEL": "WARNING",
        "SEMON_I18N__LANGUAGE": "en",
        **more,
    }
    return subprocess.run(
        [sys.executable, "-m", "cli", "token", "create", "--role", "dispatcher", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_expires_in(api_url: str, database_url: str) -> None:
    bad = _cli(database_url, "--expires-in", "-5")
    assert bad.returncode == 2 and "--expires-in" in bad.stderr, bad.stderr
    assert "'-5' is not a duration like 90d" in bad.stderr, bad.stderr
    long = _cli(database_url, "--expires-in", "7400d", SEMON_I18N__LANGUAGE="zh-CN")
    assert long.returncode == 2 and "“7400d”超过 20 年" in long.stderr, long.stderr
    made = _cli(database_url, "--expires-in", "2s")
    assert made.returncode == 0, made.stderr
    fields = dict(line.split(":", 1) for line in made.stdout.splitlines() if ": " in line)
    secret, expires = fields["secret"].strip(), fields["expires"].strip()
    mine = {"Authorization": f"Bearer {secret}"}
    assert httpx.get(f"{api_url}/alerts", headers=mine).status_code == 200
    _wait_past(expires)
    assert httpx.get(f"{api_url}/alerts", headers=mine).status_code == 401


def test_cli_label_is_one_line(database_url: str) -> None:
    for label in ("two\nlines", "x" * 201):
        made = _cli(database_url, "--label", label)
        assert made.returncode == 2, (made.stdout, made.stderr)
        assert "token_id" not in made.stdout
