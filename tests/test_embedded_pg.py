"""The embedded PostgreSQL runs as an unprivileged user, and nothing in the
project starts a child in a way that makes Python fork() a gRPC process."""
from __future__ import annotations

import ast
import getpass
import os
import tempfile
from pathlib import Path

import psutil

from complaints.embedded_pg import SYSTEM_USER, EmbeddedPostgres, free_port

ROOT = Path(__file__).resolve().parent.parent
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
                    offenders += [f"{path.relative_to(ROOT)}:{node.lineno} {kw.arg}="
                                  for kw in node.keywords if kw.arg in FORKING_ARGUMENTS]
    assert offenders == []
