from __future__ import annotations

from collections.abc import Iterator

import pytest

from ops.supervisor import Supervisor
from tests.helpers import RUNNING, Clients, clients_of, running_cluster

LOG_TAIL_LINES = 15


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test's report ends with the last log lines of every service
    it ran against: on CI, where the cluster's folder is gone afterwards,
    they are all there is to tell why."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed or call.when != "call":
        return
    for sup in RUNNING:
        for child in sup.children.values():
            if child.log_path is None or not child.log_path.exists():
                continue
            tail = child.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-LOG_TAIL_LINES:]
            code = child.proc.poll() if child.proc else None
            state = "running" if code is None else f"exited with {code}"
            report.sections.append((f"{child.name} log, last {len(tail)} lines ({state})", "\n".join(tail)))


@pytest.fixture(scope="module")
def cluster() -> Iterator[Supervisor]:
    """The whole system on free loopback ports for one test module."""
    with running_cluster(
        "complaints-test-",
        {
            "PIPELINE_SWEEP_SECONDS": "0.2",
            "ANALYTICS_MAX_STALENESS_SECONDS": "0.5",
            # Room to tell a cancelled query from a timed-out one
            # on a slow machine (analytics/test_reads.py).
            "ANALYTICS_STATEMENT_TIMEOUT_MS": "5000",
        },
    ) as sup:
        yield sup


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[Supervisor, Clients]]:
    """The system with the officers' gateway (Envoy) in front of analytics,
    one pipeline replica, and clients of it, for one test module."""
    with running_cluster(
        "complaints-gateway-", {"ANALYTICS_MAX_STALENESS_SECONDS": "0.5"}, replicas=1, gateway=True
    ) as sup:
        clients = clients_of(sup)
        yield sup, clients
        clients.close()


@pytest.fixture(scope="module")
def database() -> Iterator[Supervisor]:
    """PostgreSQL with migrations and the test keys, no services, for one test
    module: for services built and run in the test's process."""
    with running_cluster("complaints-db-", {}, services=False) as sup:
        yield sup


@pytest.fixture(scope="module")
def clients(cluster: Supervisor) -> Iterator[Clients]:
    c = clients_of(cluster)
    yield c
    c.close()
