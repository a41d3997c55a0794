"""A real TimescaleDB for the storage tests: PGlite + TimescaleDB from npm.

``tests/support/pglite/server.mjs`` serves it on a loopback port. Its limits
(one connection at a time, no COPY, no pipelined executemany, protocol
messages over ~64KB crash it) mean callers use a pool of one and insert a few
hundred rows per statement at most.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg

from tests.support.services import free_port

PGLITE_DIR = Path(__file__).resolve().parent / "pglite"
SERVER = PGLITE_DIR / "server.mjs"


def _ensure_node_modules() -> None:
    """`make test` runs `npm ci`; a bare `pytest` does it here the first time."""
    if (PGLITE_DIR / "node_modules" / "@unni-craftsman" / "pglite").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed for the TimescaleDB tests (PGlite from npm)")
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=PGLITE_DIR, check=True
    )


def _log_tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-2000:]
    except OSError:
        return ""


@contextlib.contextmanager
def timescale_server(*, create_extension: bool = True, timeout: float = 60.0) -> Iterator[str]:
    """Start server.mjs on a free port, yield a DSN psycopg can use, stop it after.

    With ``create_extension=False`` the extension is available but not yet
    created, as on a fresh TimescaleDB server: migrations must create it.
    """
    _ensure_node_modules()
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is needed for the TimescaleDB tests (PGlite from npm)")
    port = free_port()
    dsn = f"postgresql://postgres:postgres@127.0.0.1:{port}/postgres?sslmode=disable"
    env = dict(os.environ, PGLITE_NO_EXTENSION="0" if create_extension else "1")
    with tempfile.NamedTemporaryFile(prefix="semon-pglite-", suffix=".log", delete=False) as log:
        log_path = Path(log.name)
        proc = subprocess.Popen(
            [node, str(SERVER), str(port)],
            cwd=PGLITE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"PGlite server exited ({proc.returncode}):\n{_log_tail(log_path)}"
                )
            try:
                with psycopg.connect(dsn, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"PGlite not ready after {timeout}s:\n{_log_tail(log_path)}"
                    ) from None
                time.sleep(0.1)
        yield dsn
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        log_path.unlink(missing_ok=True)
