"""PostgreSQL down: "database unreachable" is UNAVAILABLE with a retry hint,
answered before the pool's timeout (which would mean "pool exhausted",
RESOURCE_EXHAUSTED); the pipeline's complaints in flight through the outage
end PROCESSED once it is back, and no task ends with an exception nobody
retrieved."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from psycopg_pool import PoolTimeout

from complaints.db import DatabaseUnreachable, make_pool
from complaints.v1 import analytics_pb2, intake_pb2
from ops.embedded_pg import free_port
from ops.fake_llm import FakeLLM
from ops.supervisor import Supervisor
from tests.helpers import clients_of, complaint, running_cluster, wait_until
from tests.invariants import all_final, assert_consistent

# Shorter than the services' pool timeout (10 s): an answer that waited for
# the pool to give up would arrive after it, as DEADLINE_EXCEEDED.
BEFORE_POOL_TIMEOUT = 8
COMPLAINTS = 6


@pytest.fixture
def outage_cluster() -> Iterator[tuple[Supervisor, FakeLLM]]:
    with (
        FakeLLM() as fake,
        running_cluster(
            "complaints-outage-",
            {
                "PIPELINE_ANALYZER": "llm",
                "PIPELINE_LLM_BASE_URL": fake.base_url,
                "PIPELINE_LLM_MODEL": "test-model",
                "PIPELINE_LEASE_SECONDS": "3",
                "PIPELINE_SWEEP_SECONDS": "0.2",
                "PIPELINE_RETRY_BASE_SECONDS": "0.2",
                "ANALYTICS_MAX_STALENESS_SECONDS": "0.5",
            },
        ) as sup,
    ):
        yield sup, fake


def _retry_delay(err: grpc.RpcError) -> float | None:
    status = rpc_status.from_call(err)
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return info.retry_delay.ToTimedelta().total_seconds()
    return None


def _log(sup: Supervisor, name: str) -> str:
    assert sup.logs_dir is not None  # running_cluster logs each service to a file
    return (sup.logs_dir / f"{name}.log").read_text(encoding="utf-8", errors="replace")


def test_an_outage_is_unavailable_with_a_retry_hint_and_loses_nothing_in_flight(outage_cluster):
    sup, fake = outage_cluster
    clients = clients_of(sup)
    # Complaints held at the model, so they are in flight when PostgreSQL goes.
    fake.hold()
    ids = [clients.intake.SubmitComplaint(complaint()).complaint_id for _ in range(COMPLAINTS)]
    wait_until(lambda: fake.waiting >= 1, what="complaints at the model")
    assert sup.pg is not None
    sup.pg.stop()
    try:
        for call in (
            lambda: clients.intake.SubmitComplaint(complaint(), timeout=BEFORE_POOL_TIMEOUT),
            lambda: clients.analytics.ListComplaints(
                analytics_pb2.ListComplaintsRequest(), timeout=BEFORE_POOL_TIMEOUT
            ),
            lambda: clients.intake.GetComplaintStatus(
                intake_pb2.GetComplaintStatusRequest(complaint_id=ids[0]), timeout=BEFORE_POOL_TIMEOUT
            ),
        ):
            with pytest.raises(grpc.RpcError) as caught:
                call()
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE, caught.value.details()
            assert "retry" in caught.value.details() and _retry_delay(caught.value) == 1.0
        # The model answers while the database is still down: each commit, and
        # then recording the failed attempt, meets the outage.
        fake.release()

        def handled() -> bool:
            logs = "".join(_log(sup, f"pipeline-{i}") for i in range(len(sup.pipeline_ports)))
            return "could not record the attempt" in logs or "never retrieved" in logs

        wait_until(handled, 60, "a failed attempt that could not be recorded")
    finally:
        fake.release()
        sup.pg.start()
    wait_until(lambda: all_final(sup.admin_url, ids), 120, "every complaint final after the outage")
    tally = assert_consistent(sup.admin_url, ids)
    assert tally.get("PROCESSED", 0) == COMPLAINTS, tally
    clients.close()
    for name in sup.children:
        assert "never retrieved" not in _log(sup, name), name


async def test_an_exhausted_pool_is_a_timeout_but_an_unreachable_database_is_refused_at_once(cluster):
    busy = make_pool(cluster.url("analytics"), name="busy", min_size=1, max_size=1, timeout=0.5)
    await busy.open(wait=True)
    try:
        async with busy.connection():
            with pytest.raises(PoolTimeout):
                async with busy.connection():
                    pass
    finally:
        await busy.close()
    # Nothing listens there. The pool's timeout is far longer than the wait
    # below allows: a refusal within it can only be the unreachable database.
    nowhere = make_pool(
        f"postgresql://nobody@127.0.0.1:{free_port()}/x", name="nowhere", min_size=1, max_size=1, timeout=600
    )
    await nowhere.open(wait=False)
    try:
        async with asyncio.timeout(60):
            for _ in range(3):  # refused again on each call, probe or not
                with pytest.raises(DatabaseUnreachable):
                    async with nowhere.connection():
                        pass
    finally:
        await nowhere.close()
