"""The embedded PostgreSQL runs as an unprivileged user, every role logs in
with its own password (nothing trusted), and nothing in the project starts a
child in a way that makes Python fork() a gRPC process."""

from __future__ import annotations

import ast
import getpass
import os
import stat
import tempfile
from pathlib import Path

import psutil
import psycopg
import pytest

from ops import migrate
from ops.embedded_pg import SYSTEM_USER, EmbeddedPostgres, free_port

ROOT = Path(__file__).resolve().parents[2]
# subprocess falls back from vfork() to fork() for any of these (CPython 3.11,
# _posixsubprocess); fork() runs gRPC's atfork handlers, which can crash the child.
FORKING_ARGUMENTS = {"preexec_fn", "user", "group", "extra_groups"}


def test_the_server_runs_as_an_unprivileged_user() -> None:
    with tempfile.TemporaryDirectory(prefix="complaints-embedded-") as tmp:
        with EmbeddedPostgres(Path(tmp) / "pg", free_port(), durable=False) as server:
            pid = server.running_pid()
            assert pid is not None
            owner = psutil.Process(pid).username()
        assert server.running_pid() is None
    assert owner == (SYSTEM_USER if os.geteuid() == 0 else getpass.getuser())


def test_no_child_process_is_started_with_arguments_that_make_python_fork() -> None:
    offenders = []
    for folder in ("complaints", "intake_service", "pipeline_service", "analytics_service", "bench", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Call):
                    offenders += [
                        f"{path.relative_to(ROOT)}:{node.lineno} {kw.arg}="
                        for kw in node.keywords
                        if kw.arg in FORKING_ARGUMENTS
                    ]
    assert offenders == []


def test_every_role_needs_its_password_which_only_the_owner_may_read() -> None:
    with (
        tempfile.TemporaryDirectory(prefix="complaints-embedded-") as tmp,
        EmbeddedPostgres(Path(tmp) / "pg", free_port(), durable=False) as server,
    ):
        migrate.apply(server.url)
        intake = server.url_for("complaints_intake")
        for url in (server.url, intake):
            with psycopg.connect(url) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
            without = url.replace(":" + url.split("@")[0].split(":")[2], "")
            with pytest.raises(psycopg.OperationalError, match="password"):
                psycopg.connect(without, connect_timeout=10)
            with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
                psycopg.connect(url.replace("@", "x@"), connect_timeout=10)
        assert stat.S_IMODE(server.passwords_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(server.datadir.stat().st_mode) == 0o700
        hba = (server.datadir / "pg_hba.conf").read_text()
        assert "trust" not in hba and "scram-sha-256" in hba


def test_a_data_folder_from_before_passwords_gets_them() -> None:
    with tempfile.TemporaryDirectory(prefix="complaints-embedded-") as tmp:
        server = EmbeddedPostgres(Path(tmp) / "pg", free_port(), durable=False)
        with server:
            pass
        # As an older version left it: trusted logins, no passwords kept.
        (server.datadir / "pg_hba.conf").write_text("host all all 127.0.0.1/32 trust\n")
        server.passwords_file.unlink()
        with server:
            with psycopg.connect(server.url) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
            with pytest.raises(psycopg.OperationalError, match="password"):
                psycopg.connect(f"postgresql://postgres@127.0.0.1:{server.port}/postgres", connect_timeout=10)
