"""The README's quick tour and "See my firm's worst elevators", run as written
against a real `semon up` (embedded database and broker, the demo city at
its default size), with the API's default port 8000 taken, so the tour must
find where `semon up` fell back to rather than talk to whatever holds 8000."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cli.up import READY_LINE
from tests.support.services import free_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SECTIONS = (
    "## Quick tour: from a token to my firm's worst elevators",
    "### See my firm's worst elevators",
)
READY_TIMEOUT_S = 240.0
# The README promises the first page ~35 s in; the margin is for a busy machine.
FIRST_TRAP_BY_S = 50.0


def readme_block(heading: str) -> str:
    """The first ```sh block after `heading` in README.md."""
    text = (REPO / "README.md").read_text("utf-8")
    after = text[text.index(heading) :]
    found = re.search(r"^```sh\n(.*?)^```", after, re.S | re.M)
    assert found, heading
    return found.group(1)


def first_trap_s(state: Path, since: float) -> float:
    """Seconds from `since` (monotonic) until the demo's first trapped alert."""
    api = (state / "api-url").read_text().strip()
    headers = {"Authorization": f"Bearer {(state / 'admin-token').read_text().strip()}"}
    while time.monotonic() - since < FIRST_TRAP_BY_S + 10:
        r = httpx.get(f"{api}/alerts", params={"kind": "trapped_passenger"}, headers=headers)
        if r.status_code == 200 and r.json()["items"]:
            return time.monotonic() - since
        time.sleep(0.5)  # polling the API: what a console without the stream would do
    return float("inf")


@contextlib.contextmanager
def port_8000_taken() -> Iterator[None]:
    """Hold 8000 if nobody does (if somebody does, it is taken anyway)."""
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", 8000))
        sock.listen()
    except OSError:
        sock.close()
        yield
        return
    try:
        yield
    finally:
        sock.close()


@pytest.fixture
def workdir() -> Iterator[Path]:
    # Not pytest's tmp_path: as root the embedded PostgreSQL runs as another
    # user, who must be able to walk to its data (pytest's dirs are 0700).
    path = Path(tempfile.mkdtemp(prefix="semon-tour-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_the_readme_tour_runs_as_written(workdir: Path, topic_root: str) -> None:
    tmp_path = workdir
    (tmp_path / ".venv").symlink_to(REPO / ".venv")
    suffix = uuid.uuid4().hex[:8]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SEMON_") and k not in ("DATABASE_URL", "MQTT_URL")
    }
    up_env = env | {
        "SEMON_STATE_DIR": ".state",
        "SEMON_EMBEDDED__POSTGRES_PORT": str(free_port()),
        "SEMON_EMBEDDED__BROKER_PORT": str(free_port()),
        "SEMON_MQTT__TOPIC_ROOT": topic_root,
        "SEMON_INGEST__CLIENT_ID": f"semon-ingest-{suffix}",
        "SEMON_ALERTS__CLIENT_ID": f"semon-alerts-{suffix}",
        "PYTHONUNBUFFERED": "1",
    }
    log = (tmp_path / "up.log").open("w")
    with port_8000_taken():
        up = subprocess.Popen(
            [sys.executable, "-m", "cli", "up"],
            cwd=tmp_path,
            env=up_env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            assert up.stdout is not None
            deadline = time.monotonic() + READY_TIMEOUT_S
            banner = []
            for line in up.stdout:  # the banner comes once everything serves
                banner.append(line)
                if line.startswith(READY_LINE) or time.monotonic() > deadline:
                    break
            banner_at = time.monotonic()
            assert banner and banner[-1].startswith(READY_LINE), (
                "".join(banner) + (tmp_path / "up.log").read_text()
            )
            script = "\n".join(readme_block(h) for h in SECTIONS)
            tour = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", script],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert tour.returncode == 0, (tour.stdout, tour.stderr)
            assert (tmp_path / ".state" / "api-url").read_text().strip() != "http://127.0.0.1:8000"
            assert '"items"' in tour.stdout and '"factors"' in tour.stdout, tour.stdout
            # "a trapped passenger is injected at once (paged ~35 s in ...)"
            paged_s = first_trap_s(tmp_path / ".state", banner_at)
            assert paged_s <= FIRST_TRAP_BY_S, f"first trap paged {paged_s:.0f} s after the banner"
        finally:
            up.send_signal(signal.SIGTERM)
            try:
                up.wait(30)
            except subprocess.TimeoutExpired:
                up.kill()
                up.wait()
            log.close()
