"""Database budgets: the roles step sets each service role's CONNECTION LIMIT
from its pool size and replicas, and a service whose pool could exceed its
role's limit refuses to start, saying what to change."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from complaints.config import SettingsError
from ops import migrate, roles
from ops.embedded_pg import EmbeddedPostgres, free_port
from ops.supervisor import wait_serving
from tests.sql import scalar

SIZES = {
    "INTAKE_DB_POOL_MAX": "3",
    "INTAKE_REPLICAS": "2",
    "ANALYTICS_DB_POOL_MAX": "5",
    "PIPELINE_DB_POOL_MAX": "2",
    "PIPELINE_REPLICAS": "10",
    "DB_BUDGET_SURGE_REPLICAS": "1",
}


@pytest.fixture(scope="module")
def pg() -> Iterator[EmbeddedPostgres]:
    with tempfile.TemporaryDirectory(prefix="complaints-budget-") as tmp:
        server = EmbeddedPostgres(Path(tmp) / "pg", free_port(), durable=False, max_connections=100)
        with server:
            migrate.apply(server.url)
            yield server


def limits(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT rolname, rolconnlimit FROM pg_roles WHERE rolname = ANY(%s)", (list(roles.ROLES.values()),)
        ).fetchall()
    return dict(rows)


def set_limit(url: str, role: str, limit: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"ALTER ROLE {role} CONNECTION LIMIT {limit}")


def test_the_roles_step_sets_limit_to_pool_max_plus_dedicated_times_replicas_plus_surge(pg, monkeypatch):
    for name, value in {**SIZES, "DATABASE_URL": pg.url}.items():
        monkeypatch.setenv(name, value)
    assert roles.main([]) == 0
    assert limits(pg.url) == {
        "complaints_intake": (3 + 1) * (2 + 1),  # + its status feed's LISTEN connection
        "complaints_analytics": (5 + 1) * (1 + 1),  # + its snapshot's LISTEN connection
        "complaints_pipeline": 2 * (10 + 1),
    }


def test_the_roles_step_refuses_limits_that_exceed_max_connections_and_changes_nothing(pg, monkeypatch):
    for name, value in {**SIZES, "DATABASE_URL": pg.url}.items():
        monkeypatch.setenv(name, value)
    set_limit(pg.url, "complaints_intake", 7)
    monkeypatch.setenv("PIPELINE_REPLICAS", "60")  # 2 x 61 = 122 > 100 - 3 reserved
    with psycopg.connect(pg.url, autocommit=True) as conn, pytest.raises(SettingsError) as refused:
        roles.apply(conn, roles.plan())
    assert "add up to 148 (2 of them the autoscaler's), but only 97 connections are available" in str(refused.value)
    assert "max_connections 100" in str(refused.value)
    assert limits(pg.url)["complaints_intake"] == 7


def start_intake(pg: EmbeddedPostgres, **env: str) -> tuple[subprocess.Popen[str], str]:
    address = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "intake_service"],
        env={
            **os.environ,
            "INTAKE_DATABASE_URL": pg.url_for("complaints_intake"),
            "INTAKE_BIND": address,
            "INTAKE_METRICS_PORT": "0",
            "INTAKE_DB_POOL_MIN": "1",
            "PIPELINE_TARGETS": "127.0.0.1:1",
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return proc, address


def test_a_service_whose_pool_could_exceed_its_roles_limit_refuses_to_start(pg):
    set_limit(pg.url, "complaints_intake", 12)
    proc, _ = start_intake(pg, INTAKE_DB_POOL_MAX="4", INTAKE_REPLICAS="3")  # (4 + 1) x 3 = 15 > 12
    try:
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 2, out
    assert (
        "INTAKE_DB_POOL_MAX=4 (+1 dedicated) x INTAKE_REPLICAS=3 = 15 connections, "
        "but role complaints_intake has CONNECTION LIMIT 12"
    ) in out
    assert "python -m ops.roles" in out


def test_a_service_within_its_roles_limit_starts_and_one_without_a_limit_too(pg):
    for limit in (15, -1):
        set_limit(pg.url, "complaints_intake", limit)
        proc, address = start_intake(pg, INTAKE_DB_POOL_MAX="4", INTAKE_REPLICAS="3")
        try:
            wait_serving(address, time.monotonic() + 60)
        finally:
            proc.terminate()
            out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out


def test_the_autoscaler_role_reads_the_queue_depth_and_nothing_else(pg):
    with psycopg.connect(pg.url_for(roles.AUTOSCALER_ROLE)) as conn:
        depth = scalar(
            conn, "SELECT coalesce(sum(value), 0) FROM analytics_counts WHERE dimension = 'status' AND key = 'QUEUED'"
        )
        assert depth == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM complainants")
    with psycopg.connect(pg.url) as conn:
        limit = conn.execute(
            "SELECT rolconnlimit FROM pg_roles WHERE rolname = %s", (roles.AUTOSCALER_ROLE,)
        ).fetchone()
    assert limit == (roles.AUTOSCALER_LIMIT,)


def test_the_roles_step_sets_passwords_given_in_the_environment(pg, monkeypatch):
    for name, value in {
        **SIZES,
        "DATABASE_URL": pg.url,
        "PIPELINE_DB_PASSWORD": "s3cret-pipeline",
        "AUTOSCALER_DB_PASSWORD": "s3cret-keda",
    }.items():
        monkeypatch.setenv(name, value)
    assert roles.main([]) == 0
    with psycopg.connect(pg.url) as conn:
        stored: dict[str, bool] = dict(
            conn.execute(
                "SELECT rolname, rolpassword IS NOT NULL FROM pg_authid WHERE rolname = ANY(%s)",
                ([*roles.ROLES.values(), roles.AUTOSCALER_ROLE],),
            ).fetchall()
        )
    assert stored["complaints_pipeline"] and stored["complaints_autoscaler"]
