"""What the benchmarks share: the `semon` processes they start (environment,
waiting for the API to serve, stopping), a process's memory, a percentile.

Imported as `bench.common` by scripts run as `python bench/<name>.py` (each
puts the repository first on sys.path)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import httpx


def semon_env(**settings: str) -> dict[str, str]:
    """The environment of a `semon` process: this one's, quiet logs, and
    `settings` (DATABASE_URL, MQTT_URL, SEMON_... variables)."""
    return {**os.environ, "SEMON_LOG_LEVEL": "WARNING", **settings}


def api_env(port: int, **settings: str) -> dict[str, str]:
    """... of `semon api` serving on 127.0.0.1:`port`."""
    return semon_env(SEMON_API__HOST="127.0.0.1", SEMON_API__PORT=str(port), **settings)


def wait_api(
    api_url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0, poll_s: float = 0.1
) -> None:
    """Until `semon api` at `api_url` answers /healthz; it must not exit first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"semon api exited with {proc.returncode} before it served")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{api_url}/healthz", timeout=1.0).status_code == 200:
                return
        time.sleep(poll_s)
    raise TimeoutError(f"semon api did not answer {api_url}/healthz in {timeout:.0f} s")


def stop(proc: subprocess.Popen[bytes], *, group: bool = False) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 10 s. With `group`,
    its process group gets the signals too (a process started with
    ``start_new_session=True``: the simulator's publisher processes too)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is None:
            proc.send_signal(sig)
        if group:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)
        try:
            proc.wait(10)
            return
        except subprocess.TimeoutExpired:
            continue


def rss_mb(pid: int) -> float:
    """The process's resident memory (NaN once it is gone)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """The value at rank ``int(n * q)`` of the sorted values (0 <= q <= 1)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]
