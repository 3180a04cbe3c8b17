"""Lower CPU priority never costs correctness. Replicas at SCHED_IDLE (the
lowest tier a setting can give them) are starved by higher-priority work on
both cores while they hold leases, then released: every complaint ends
PROCESSED exactly once, with every figure equal to the rows. And a busy host
cannot stop the stack from starting in `make run`'s tiers. The settings: what
each service takes, and the real-time tier taken where the host allows it and
refused cleanly (a log line, the default priority) where it does not."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import psutil
import psycopg
import pytest

from complaints import cpu_priority
from complaints.config import SettingsError
from ops.fake_llm import FakeLLM
from ops.supervisor import CPU_TIERS, Supervisor
from tests.helpers import clients_of, complaint, realtime_allowed, running_cluster, wait_until
from tests.invariants import all_final, assert_consistent
from tests.sql import scalar

COMPLAINTS = 40
# More spinning processes than cores, at the default priority: a SCHED_IDLE
# thread runs only when one of them yields, which they never do.
SPINNERS = psutil.cpu_count() * 2
SPIN = "import time\nend = time.monotonic() + 60\nwhile time.monotonic() < end:\n    pass\n"
# A process that moves itself to the real-time tier as a service does, with a
# second thread started before (moved with it) and a third after (inherits
# it), and prints each thread's priority. Given "unprivileged", it first
# gives up what could allow it: RLIMIT_RTPRIO, and root's capabilities with
# its user id (to nobody's).
MOVES_ITSELF = """
import json, os, resource, sys, threading
from complaints import cpu_priority, logs
if sys.argv[1] == "unprivileged":
    resource.setrlimit(resource.RLIMIT_RTPRIO, (0, 0))
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
logs.setup("test")
stop, started = threading.Event(), threading.Semaphore(0)
ids = []
def wait():
    ids.append(threading.get_native_id())
    started.release()
    stop.wait()
threading.Thread(target=wait).start()
started.acquire()
cpu_priority.move_self(cpu_priority.RT)
threading.Thread(target=wait).start()
started.acquire()
print(json.dumps([cpu_priority.current(tid) for tid in [threading.get_native_id(), *ids]]))
stop.set()
"""


def _taken_over(url: str, ids: list[str]) -> int:
    """Complaints whose lease ran out while the replicas starved (or that
    another claim took over since): the case the fencing token exists for."""
    with psycopg.connect(url) as conn:
        return scalar(
            conn,
            "SELECT count(*) FROM complaints WHERE id = ANY(%s::uuid[])"
            " AND ((status = 'PROCESSING' AND lease_expires_at < now()) OR attempts > 1)",
            (ids,),
        )


def _processing(url: str, ids: list[str]) -> int:
    with psycopg.connect(url) as conn:
        return scalar(
            conn, "SELECT count(*) FROM complaints WHERE id = ANY(%s::uuid[]) AND status = 'PROCESSING'", (ids,)
        )


def test_replicas_starved_at_the_lowest_priority_lose_nothing_and_process_nothing_twice():
    with (
        FakeLLM() as fake,
        running_cluster(
            "pipeline-priority-",
            {
                # Embeddings from the local model: real CPU work for the starved replicas.
                "PIPELINE_ANALYZER": "llm",
                "PIPELINE_LLM_BASE_URL": fake.base_url,
                "PIPELINE_LLM_MODEL": "fake-model",
                "PIPELINE_LEASE_SECONDS": "2",
                "PIPELINE_SWEEP_SECONDS": "0.2",
                "PIPELINE_MAX_IN_FLIGHT": "8",
            },
            cpu_priorities={"pipeline": cpu_priority.IDLE},
        ) as sup,
    ):
        fake.latency = 0.2
        for child in sup.children.values():
            if child.name.startswith("pipeline-"):
                assert child.proc is not None, child.name
                threads = psutil.Process(child.proc.pid).threads()
                assert {cpu_priority.current(t.id) for t in threads} == {cpu_priority.IDLE}
        clients = clients_of(sup)
        try:
            ids = [clients.intake.SubmitComplaint(complaint(), timeout=10).complaint_id for _ in range(COMPLAINTS)]
            wait_until(lambda: _processing(sup.admin_url, ids) > 0, what="replicas to hold leases")
            with _spinning(SPINNERS):
                # Until a lease has lapsed (or been taken over), at most 20 s.
                _until(lambda: _taken_over(sup.admin_url, ids) > 0, seconds=20)
            # Released: the replicas leave SCHED_IDLE too, so that busy work this
            # test does not control (a loaded CI host) cannot starve them for ever.
            _lift_replicas(sup)
            wait_until(lambda: all_final(sup.admin_url, ids), timeout=180, what="every complaint to be final")
            tally = assert_consistent(sup.admin_url, ids)
        finally:
            clients.close()
    assert tally == {"PROCESSED": COMPLAINTS}


def test_the_stack_starts_in_its_tiers_while_both_cores_are_kept_busy():
    with contextlib.ExitStack() as stack:
        with _spinning(psutil.cpu_count()):
            # Each service starts at the caller's priority and moves to its tier
            # once SERVING, so a busy host slows the start but cannot stop it.
            sup = stack.enter_context(running_cluster("pipeline-busy-start-", {}, cpu_priorities=dict(CPU_TIERS)))
            for child in sup.children.values():
                assert child.proc is not None, child.name
                threads = psutil.Process(child.proc.pid).threads()
                want = _expected(CPU_TIERS[child.name.split("-")[0]])
                assert {cpu_priority.current(t.id) for t in threads} == {want}, child.name
        clients = stack.enter_context(contextlib.closing(clients_of(sup)))
        ids = [clients.intake.SubmitComplaint(complaint(), timeout=10).complaint_id for _ in range(3)]
        wait_until(lambda: all_final(sup.admin_url, ids), timeout=120, what="every complaint to be final")
        assert assert_consistent(sup.admin_url, ids) == {"PROCESSED": 3}


def test_a_cpu_priority_setting_is_rt_idle_or_a_nice_value(monkeypatch):
    for value in ("rt", "idle", "0", "19"):
        monkeypatch.setenv("ANALYTICS_CPU_PRIORITY", f" {value.upper()} ")
        assert cpu_priority.setting("analytics", "0") == value
    for wrong in ("-5", "20", "low", "realtime", "rt1"):
        monkeypatch.setenv("PIPELINE_CPU_PRIORITY", wrong)
        with pytest.raises(SettingsError, match="PIPELINE_CPU_PRIORITY"):
            cpu_priority.setting("pipeline", "0")
    # pg_ctl would hand a real-time postmaster's tier to every backend.
    monkeypatch.setenv("POSTGRES_CPU_PRIORITY", "rt")
    with pytest.raises(SettingsError, match="POSTGRES_CPU_PRIORITY"):
        cpu_priority.setting("postgres", "5")


def test_the_real_time_tier_moves_every_thread_where_the_host_allows_it():
    if not realtime_allowed():
        pytest.skip("this host refuses real-time priorities (no CAP_SYS_NICE, RLIMIT_RTPRIO 0)")
    moved = subprocess.run(
        [sys.executable, "-c", MOVES_ITSELF, "privileged"], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(moved.stdout) == [cpu_priority.RT] * 3
    assert "cpu_priority_refused" not in moved.stderr


def test_a_refused_real_time_tier_leaves_the_default_priority_and_says_so():
    refused = subprocess.run(
        [sys.executable, "-c", MOVES_ITSELF, "unprivileged"], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(refused.stdout) == [str(os.getpriority(os.PRIO_PROCESS, 0))] * 3
    [line] = [json.loads(line) for line in refused.stderr.splitlines() if "cpu_priority_refused" in line]
    assert line["level"] == "warning" and line["priority"] == cpu_priority.RT


def _expected(tier: str) -> str:
    """The priority a service started from this process shows in `tier`."""
    own = os.getpriority(os.PRIO_PROCESS, 0)
    if tier == cpu_priority.RT:
        return cpu_priority.RT if realtime_allowed() else str(own)
    return str(min(19, own + int(tier)))


def _lift_replicas(sup: Supervisor) -> None:
    """Every replica thread back to the normal scheduling policy (threads
    started later inherit it from the thread that starts them)."""
    for child in sup.children.values():
        if child.name.startswith("pipeline-") and child.proc is not None:
            for thread in psutil.Process(child.proc.pid).threads():
                with contextlib.suppress(OSError):  # gone meanwhile
                    os.sched_setscheduler(thread.id, os.SCHED_OTHER, os.sched_param(0))


@contextlib.contextmanager
def _spinning(count: int) -> Iterator[None]:
    """`count` processes at the default priority that never yield the CPU,
    stopped (by PID) on leaving."""
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(count)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def _until(check, seconds: float) -> None:
    """The busy phase: until `check` holds, at most `seconds` (a load profile's
    length, not a synchronisation: the test's claims hold either way)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not check():
        time.sleep(0.1)
