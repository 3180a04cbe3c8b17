"""Fault cases: whatever breaks, every acknowledged complaint ends PROCESSED
exactly once (or visibly FAILED) and analytics totals equal the rows.

`make test` runs them small; `make chaos` runs them at full size
(CHAOS_SCALE=full: 500 complaints, many kills)."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator

import grpc
import psycopg
import pytest

from complaints.v1 import analytics_pb2, intake_pb2
from ops.fake_llm import FakeLLM, default_responder
from ops.supervisor import Supervisor, wait_serving
from tests.helpers import Clients, clients_of, complaint, running_cluster, wait_until
from tests.invariants import all_final, assert_consistent
from tests.sql import scalar

FULL = os.environ.get("CHAOS_SCALE") == "full"
COMPLAINTS = 500 if FULL else 60
KILLS = 8 if FULL else 2

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(1200 if FULL else 300)]


# Short leases so a killed replica's work is taken over quickly.
FAULT_ENV = {
    "PIPELINE_LEASE_SECONDS": "2",
    "PIPELINE_SWEEP_SECONDS": "0.2",
    "PIPELINE_RETRY_BASE_SECONDS": "0.2",
    "PIPELINE_MAX_IN_FLIGHT": "8",
    "ANALYTICS_MAX_STALENESS_SECONDS": "0.5",
}


@pytest.fixture
def fault_cluster() -> Iterator[Supervisor]:
    """A cluster of our own per case: faults must not leak into other tests."""
    with running_cluster("complaints-chaos-", FAULT_ENV) as sup:
        yield sup


def submit_with_retry(clients: Clients, request: intake_pb2.SubmitComplaintRequest, deadline: float = 60) -> str:
    """What a well-behaved submitting system does: retry UNAVAILABLE with the same key."""
    end = time.monotonic() + deadline
    while True:
        try:
            return clients.intake.SubmitComplaint(request, timeout=10).complaint_id
        except grpc.RpcError as err:
            if (
                err.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
                or time.monotonic() > end
            ):
                raise
            time.sleep(0.1)


def processed_count(url: str, ids: list[str]) -> int:
    with psycopg.connect(url) as conn:
        return scalar(
            conn, "SELECT count(*) FROM complaints WHERE id = ANY(%s::uuid[]) AND status = 'PROCESSED'", (ids,)
        )


def max_attempts(url: str, ids: list[str]) -> int:
    with psycopg.connect(url) as conn:
        return scalar(conn, "SELECT coalesce(max(attempts), 0) FROM complaints WHERE id = ANY(%s::uuid[])", (ids,))


def restart(sup: Supervisor, name: str, sig: int) -> None:
    child = sup.children[name]
    assert child.proc is not None
    child.proc.send_signal(sig)
    child.proc.wait(timeout=60)
    child.spawn()
    wait_serving(child.address, time.monotonic() + 60)


def test_replicas_killed_again_and_again_lose_nothing(fault_cluster):
    sup = fault_cluster
    clients = clients_of(sup)
    ids = [submit_with_retry(clients, complaint()) for _ in range(COMPLAINTS)]
    for k in range(KILLS):
        target = f"pipeline-{k % len(sup.pipeline_ports)}"
        goal = (k + 1) * COMPLAINTS // (KILLS + 2)
        wait_until(lambda: processed_count(sup.admin_url, ids) >= goal, 120, f"{goal} processed before kill {k}")  # noqa: B023 (called within this iteration)
        restart(sup, target, signal.SIGKILL)
    wait_until(lambda: all_final(sup.admin_url, ids), 180, "every complaint final")
    tally = assert_consistent(sup.admin_url, ids)
    assert tally.get("PROCESSED", 0) == COMPLAINTS, tally
    clients.close()


def test_postgres_restarted_mid_run_pools_recover_without_restarting_services(fault_cluster):
    sup = fault_cluster
    clients = clients_of(sup)
    pids = {name: child.proc.pid for name, child in sup.children.items() if child.proc}
    half = COMPLAINTS // 2
    ids = [submit_with_retry(clients, complaint()) for _ in range(half)]
    assert sup.pg is not None
    sup.pg.stop()
    sup.pg.start()
    ids += [submit_with_retry(clients, complaint()) for _ in range(COMPLAINTS - half)]
    wait_until(lambda: all_final(sup.admin_url, ids), 180, "every complaint final")
    tally = assert_consistent(sup.admin_url, ids)
    assert tally.get("PROCESSED", 0) == COMPLAINTS, tally
    assert {name: child.proc.pid for name, child in sup.children.items() if child.proc} == pids
    # The dashboard came back too, from the same analytics process.
    dashboard = wait_until(
        lambda: (
            (d := clients.analytics.GetDashboard(analytics_pb2.GetDashboardRequest())).summary.processed >= COMPLAINTS
            and d
        ),
        30,
        "dashboard after the restart",
    )
    assert dashboard.summary.processed == COMPLAINTS
    clients.close()


def test_intake_restarted_mid_bulk_stream_client_retry_makes_no_duplicates(fault_cluster):
    sup = fault_cluster
    requests = [complaint(idempotency_key=f"bulk-{uuid.uuid4()}") for _ in range(COMPLAINTS)]
    acknowledged: dict[str, str] = {}
    killed = threading.Event()

    def sending() -> Iterator[intake_pb2.SubmitComplaintRequest]:
        # The rest waits for the kill: else a fast intake may have stored and
        # acknowledged them all before it, and nothing is cut.
        for i, request in enumerate(requests):
            if i == COMPLAINTS // 3 + 1:
                killed.wait(60)
            yield request

    clients = clients_of(sup)
    try:
        for i, reply in enumerate(clients.intake.SubmitComplaints(sending(), timeout=60)):
            acknowledged[requests[reply.index].idempotency_key] = reply.complaint_id
            if i == COMPLAINTS // 3:
                restart(sup, "intake", signal.SIGKILL)
                killed.set()
    except grpc.RpcError as err:
        assert err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED, grpc.StatusCode.UNKNOWN), err
    finally:
        killed.set()
    assert len(acknowledged) <= COMPLAINTS // 3 + 1, "the stream should have been cut"
    clients.close()

    # The client resends everything it sent, acknowledged or not, with the same keys.
    clients = clients_of(sup)
    wait_serving(f"127.0.0.1:{sup.intake_port}", time.monotonic() + 30)
    replies = list(clients.intake.SubmitComplaints(iter(requests), timeout=120))
    assert len(replies) == COMPLAINTS and not any(r.HasField("error") for r in replies)
    for r in replies:
        key = requests[r.index].idempotency_key
        if key in acknowledged:
            assert r.duplicate and r.complaint_id == acknowledged[key]
    ids = [r.complaint_id for r in replies]
    assert len(set(ids)) == COMPLAINTS
    with psycopg.connect(sup.admin_url) as conn:
        stored = scalar(conn, "SELECT count(*) FROM complaints WHERE idempotency_key LIKE 'bulk-%'")
    assert stored == COMPLAINTS
    wait_until(lambda: all_final(sup.admin_url, ids), 180, "every complaint final")
    assert assert_consistent(sup.admin_url, ids).get("PROCESSED", 0) == COMPLAINTS
    clients.close()


def test_analytics_restarted_while_watchers_are_connected(fault_cluster):
    sup = fault_cluster
    clients = clients_of(sup)
    seen: dict[int, int] = {}
    stop = threading.Event()

    def watch(n: int) -> None:
        # A dashboard client: reconnect when the stream breaks.
        while not stop.is_set():
            try:
                for dashboard in clients.analytics.WatchDashboard(analytics_pb2.WatchDashboardRequest(), timeout=60):
                    seen[n] = dashboard.summary.processed
                    if stop.is_set():
                        return
            except grpc.RpcError:
                time.sleep(0.1)

    watchers = [threading.Thread(target=watch, args=(n,), daemon=True) for n in range(20)]
    for t in watchers:
        t.start()
    wait_until(lambda: len(seen) == 20, 30, "every watcher connected")
    restart(sup, "analytics", signal.SIGTERM)
    ids = [submit_with_retry(clients, complaint()) for _ in range(10)]
    wait_until(lambda: all_final(sup.admin_url, ids), 120, "every complaint final")
    wait_until(lambda: all(seen.get(n, 0) >= 10 for n in range(20)), 60, "every watcher sees the new figures")
    stop.set()
    assert_consistent(sup.admin_url, ids)
    clients.close()


LLM_DOWN = 30 if FULL else 3
LLM_SLOW = 20 if FULL else 3
LLM_GARBAGE = 10 if FULL else 2


def garbage(kind: str, prompt: str) -> object:
    """A model that answers, but nothing it says fits the schema."""
    return "Sorry, as a language model I cannot classify this complaint."


def test_model_endpoint_down_then_slow_then_garbage_loses_nothing():
    with (
        FakeLLM() as fake,
        running_cluster(
            "complaints-chaos-",
            {
                "PIPELINE_ANALYZER": "llm",
                "PIPELINE_LLM_BASE_URL": fake.base_url,
                "PIPELINE_LLM_MODEL": "chaos-model",
                "PIPELINE_LLM_EMBEDDING_MODEL": "chaos-embed",
                "PIPELINE_LLM_TIMEOUT_SECONDS": "3",
                "PIPELINE_LLM_RETRIES": "1",
                "PIPELINE_LLM_RETRY_MAX_WAIT_SECONDS": "0.5",
                "PIPELINE_LLM_BREAKER_FAILURES": "3",
                "PIPELINE_LLM_BREAKER_RESET_SECONDS": "1",
                "PIPELINE_LEASE_SECONDS": "5",
                "PIPELINE_SWEEP_SECONDS": "0.2",
                "PIPELINE_RETRY_BASE_SECONDS": "0.5",
                "PIPELINE_RETRY_MAX_SECONDS": "2",
                "PIPELINE_MAX_ATTEMPTS": "5",
            },
        ) as sup,
    ):
        clients = clients_of(sup)
        fake.down = True
        ids = [submit_with_retry(clients, complaint()) for _ in range(COMPLAINTS // 2)]
        # While the endpoint is down the breakers stop claiming: nothing is processed.
        end = time.monotonic() + LLM_DOWN
        while time.monotonic() < end:
            ids.append(submit_with_retry(clients, complaint()))
            time.sleep(LLM_DOWN / 20)
        assert processed_count(sup.admin_url, ids) == 0
        # ... and the outage burns at most a probe's worth of attempts.
        assert max_attempts(sup.admin_url, ids) <= 2
        fake.down = False
        fake.latency = 2.0  # slow, within the call timeout
        end = time.monotonic() + LLM_SLOW
        while time.monotonic() < end:
            ids.append(submit_with_retry(clients, complaint()))
            time.sleep(LLM_SLOW / 10)
        fake.latency = 0.0
        fake.responder = garbage
        ids += [submit_with_retry(clients, complaint()) for _ in range(5)]
        seen = len(fake.received())
        # Garbage for a while: at least some calls must have met it.
        wait_until(lambda: len(fake.received()) > seen + 5, 30, "calls during the garbage phase")
        end = time.monotonic() + LLM_GARBAGE
        wait_until(lambda: time.monotonic() > end, LLM_GARBAGE + 5, "the garbage phase to pass")
        fake.responder = default_responder
        wait_until(lambda: all_final(sup.admin_url, ids), 240, "every complaint final")
        tally = assert_consistent(sup.admin_url, ids)
        assert sum(tally.values()) == len(ids)
        clients.close()
