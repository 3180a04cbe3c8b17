"""The hand-off from intake to the pipeline: durable when no replica is up,
spread over every replica, following replicas that come and go.

The replicas sweep only every 60 s here, so work that reaches a replica
within seconds came over a Dispatch stream (or a hint that woke it)."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import psycopg
import pytest

from complaints.v1 import pipeline_pb2, types_pb2
from ops.supervisor import Supervisor
from tests.helpers import Clients, clients_of, complaint, running_cluster, wait_until

SWEEP_SECONDS = 60


@pytest.fixture(scope="module")
def lone_intake() -> Iterator[Supervisor]:
    """Intake targets two replica addresses; neither runs at first."""
    with running_cluster(
        "complaints-dispatch-", {"PIPELINE_SWEEP_SECONDS": str(SWEEP_SECONDS)}, pipelines=False
    ) as sup:
        yield sup


@pytest.fixture(scope="module")
def lone_clients(lone_intake) -> Iterator[Clients]:
    c = clients_of(lone_intake)
    yield c
    c.close()


def statuses(url: str, ids: list[str]) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return dict(
            conn.execute(
                "SELECT status, count(*) FROM complaints WHERE id = ANY(%s::uuid[]) GROUP BY 1", (ids,)
            ).fetchall()
        )


def processed_by(clients: Clients, replica: int) -> int:
    return (
        clients.pipelines[replica].GetPipelineStatus(pipeline_pb2.GetPipelineStatusRequest(), timeout=5).processed_total
    )


def test_with_no_replica_running_intake_accepts_and_work_waits_queued_until_one_starts(lone_intake, lone_clients):
    replies = [lone_clients.intake.SubmitComplaint(complaint(), timeout=10) for _ in range(50)]
    ids = [r.complaint_id for r in replies]
    assert all(r.status == types_pb2.QUEUED for r in replies)
    assert statuses(lone_intake.admin_url, ids) == {"QUEUED": 50}

    lone_intake.start_pipeline(0, lone_intake.pipeline_ports[0])
    wait_until(lambda: statuses(lone_intake.admin_url, ids) == {"PROCESSED": 50}, 60, "all 50 PROCESSED")


def test_a_replica_started_after_intake_gets_work_within_seconds(lone_intake, lone_clients):
    lone_intake.start_pipeline(1, lone_intake.pipeline_ports[1])
    assert processed_by(lone_clients, 1) == 0

    def second_replica_took_some() -> bool:
        lone_clients.intake.SubmitComplaint(complaint(), timeout=10)
        return processed_by(lone_clients, 1) > 0

    # Intake retries a listed address with a backoff of at most 5 s.
    wait_until(second_replica_took_some, 20, "the new replica to process dispatched work")


def test_a_killed_replicas_share_moves_to_the_others(lone_intake, lone_clients):
    lone_intake.send("pipeline-0", signal.SIGKILL)
    dead = lone_intake.children["pipeline-0"].proc
    assert dead is not None
    dead.wait(timeout=30)
    before = processed_by(lone_clients, 1)

    ids = [lone_clients.intake.SubmitComplaint(complaint(), timeout=10).complaint_id for _ in range(20)]

    # Well within one sweep interval: dispatch went to the live replica only.
    wait_until(
        lambda: statuses(lone_intake.admin_url, ids) == {"PROCESSED": 20},
        SWEEP_SECONDS / 2,
        "all 20 PROCESSED by the remaining replica",
    )
    assert processed_by(lone_clients, 1) >= before + 20
