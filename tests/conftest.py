from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from complaints.embedded_pg import free_port
from complaints.supervisor import Supervisor
from tests.helpers import Clients


@pytest.fixture(scope="module")
def cluster() -> Iterator[Supervisor]:
    """PostgreSQL, intake, analytics and two pipeline replicas, as `make run`
    starts them, on free loopback ports; stopped (by PID) after the module."""
    with tempfile.TemporaryDirectory(prefix="complaints-test-") as tmp:
        root = Path(tmp)
        sup = Supervisor(
            datadir=root,
            intake_port=free_port(),
            analytics_port=free_port(),
            pipeline_ports=[free_port(), free_port()],
            pg_port=free_port(),
            durable=False,
            logs_dir=root,
            extra_env={"PIPELINE_SWEEP_SECONDS": "0.2", "ANALYTICS_MAX_STALENESS_SECONDS": "0.5"},
        )
        try:
            sup.start_database()
            sup.start_services()
            yield sup
        finally:
            sup.stop()


@pytest.fixture(scope="module")
def clients(cluster: Supervisor) -> Iterator[Clients]:
    c = Clients(
        f"127.0.0.1:{cluster.intake_port}",
        f"127.0.0.1:{cluster.analytics_port}",
        [f"127.0.0.1:{p}" for p in cluster.pipeline_ports],
    )
    yield c
    c.close()
