from __future__ import annotations

from collections.abc import Iterator

import pytest

from complaints.supervisor import Supervisor
from tests.helpers import Clients, clients_of, running_cluster


@pytest.fixture(scope="module")
def cluster() -> Iterator[Supervisor]:
    """The whole system on free loopback ports for one test module."""
    with running_cluster("complaints-test-", {"PIPELINE_SWEEP_SECONDS": "0.2",
                                              "ANALYTICS_MAX_STALENESS_SECONDS": "0.5",
                                              # Room to tell a cancelled query from a timed-out one
                                              # on a slow machine (test_analytics_reads.py).
                                              "ANALYTICS_STATEMENT_TIMEOUT_MS": "5000"}) as sup:
        yield sup


@pytest.fixture(scope="module")
def clients(cluster: Supervisor) -> Iterator[Clients]:
    c = clients_of(cluster)
    yield c
    c.close()
