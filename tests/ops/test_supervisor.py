"""`make run`'s supervisor: PIPELINE_REPLICAS replicas, a crashed service
(and PostgreSQL) restarted with growing backoff, a bad setting not
restarted, and everything stopped on SIGTERM."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import psutil
import pytest

from complaints import cpu_priority
from complaints.v1 import intake_pb2, intake_pb2_grpc
from ops.embedded_pg import EmbeddedPostgres, free_port
from ops.supervisor import MAX_BACKOFF_SECONDS, Child, Supervisor, wait_serving
from tests.helpers import channel, realtime_allowed, scrape_metrics, wait_until


def test_restart_delays_double_up_to_a_ceiling():
    delays = [Child("x", "m", 1, {}, restarts=n).backoff() for n in range(1, 9)]
    assert delays == [1, 2, 4, 8, 16, MAX_BACKOFF_SECONDS, MAX_BACKOFF_SECONDS, MAX_BACKOFF_SECONDS]


def test_a_service_that_refused_its_settings_is_not_restarted(tmp_path):
    sup = Supervisor(datadir=tmp_path)
    child = Child("intake", "intake_service", 1, {})
    child.proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(2)"])
    child.proc.wait()
    sup.children["intake"] = child
    sup.restart_crashed()
    assert not child.wanted and child.restarts == 0


def free_ports(counts: dict[str, int]) -> dict[str, int]:
    """For each name, a base port with that many free ports from it, no port
    given twice: nothing holds a port between two free_port() calls, so two
    may return the same one (PostgreSQL and a replica's metrics were once
    given one port)."""
    taken: set[int] = set()
    out = {}
    for name, count in counts.items():
        for _ in range(50):
            base = free_port()
            ports = set(range(base, base + count))
            if ports & taken:
                continue
            try:
                for port in ports:
                    with socket.socket() as s:
                        s.bind(("127.0.0.1", port))
            except OSError:
                continue
            taken |= ports
            out[name] = base
            break
        else:
            raise AssertionError(f"no run of {count} free ports for {name}")
    return out


def copy_terminal(master: int, out: Path) -> None:
    """What the supervisor writes to its terminal, into `out`, until it closes."""
    with open(out, "ab", buffering=0) as sink:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the last writer closed the terminal
                return
            if not data:
                return
            sink.write(data)


@contextlib.contextmanager
def supervisor_process(replicas: int) -> Iterator[tuple[subprocess.Popen[bytes], Path, dict[str, int]]]:
    """`python -m ops.supervisor`, as `make run` starts it: on a
    terminal (a pseudo-terminal whose screen is kept in make-run.out)."""
    with tempfile.TemporaryDirectory(prefix="complaints-run-") as tmp:
        ports = free_ports(
            {
                "intake": 1,
                "analytics": 1,
                "pipeline": replicas,
                "pipeline_metrics": replicas,
                "gateway": 1,
                "gateway_metrics": 1,
                "pg": 1,
                "intake_metrics": 1,
                "analytics_metrics": 1,
            }
        )
        env = {
            **os.environ,
            "DATA_DIR": tmp,
            "PG_PORT": str(ports["pg"]),
            "PIPELINE_REPLICAS": str(replicas),
            "INTAKE_PORT": str(ports["intake"]),
            "ANALYTICS_PORT": str(ports["analytics"]),
            "PIPELINE_PORT": str(ports["pipeline"]),
            "PIPELINE_METRICS_PORT": str(ports["pipeline_metrics"]),
            "INTAKE_METRICS_PORT": str(ports["intake_metrics"]),
            "ANALYTICS_METRICS_PORT": str(ports["analytics_metrics"]),
            "GATEWAY_PORT": str(ports["gateway"]),
            "GATEWAY_METRICS_PORT": str(ports["gateway_metrics"]),
        }
        out = Path(tmp) / "make-run.out"
        master, terminal = pty.openpty()
        proc = subprocess.Popen(
            [sys.executable, "-m", "ops.supervisor"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=terminal,
            stderr=terminal,
        )
        os.close(terminal)
        screen = threading.Thread(target=copy_terminal, args=(master, out), daemon=True)
        screen.start()
        try:
            wait_until(
                lambda: (out.exists() and "all services SERVING" in out.read_text()) or proc.poll() is not None,
                timeout=120,
                what="make run to start",
            )
            assert proc.poll() is None, out.read_text()
            yield proc, out, ports
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=60)
            EmbeddedPostgres(Path(tmp) / "pg", 0).stop()  # if the supervisor could not
            screen.join(timeout=10)
            os.close(master)


@pytest.fixture(scope="module")
def make_run() -> Iterator[tuple[subprocess.Popen[bytes], Path, dict[str, int]]]:
    with supervisor_process(3) as running:
        yield running


def listening_pid(port: int) -> int | None:
    for conn in psutil.net_connections(kind="tcp"):
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
            return conn.pid
    return None


def test_pipeline_replicas_sets_how_many_replicas_start_each_on_its_own_ports(make_run):
    _, out, ports = make_run
    printed = out.read_text()
    for i in range(3):
        port = ports["pipeline"] + i
        assert re.search(
            rf"^pipeline-{i} +127\.0\.0\.1:{port}  metrics http://127\.0\.0\.1:"
            rf"{ports['pipeline_metrics'] + i}/metrics\r?$",
            printed,
            re.M,
        ), printed
        wait_serving(f"127.0.0.1:{port}", time.monotonic() + 10)
    assert "pipeline-3" not in printed
    # The gateway's metrics: Envoy's statistics (complaints/gateway.py).
    metrics = f"http://127.0.0.1:{ports['gateway_metrics']}/metrics"
    assert re.search(rf"^gateway .* metrics {re.escape(metrics)}\r?$", printed, re.M), printed
    assert any(name.startswith("envoy_") for name, _ in scrape_metrics(metrics))


def test_a_killed_service_comes_back_serving_after_a_growing_backoff(make_run):
    proc, out, ports = make_run
    address = f"127.0.0.1:{ports['pipeline'] + 1}"
    for restart, delay in ((1, 1), (2, 2)):
        victim = listening_pid(ports["pipeline"] + 1)
        assert victim is not None and psutil.Process(victim).ppid() == proc.pid
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        wait_until(
            lambda: f"pipeline-1 exited with -9; restarting in {delay} s" in out.read_text(),  # noqa: B023 (called within this iteration)
            what=f"restart {restart} announced",
        )
        wait_until(
            lambda: listening_pid(ports["pipeline"] + 1) not in (None, victim),  # noqa: B023 (called within this iteration)
            timeout=60,
            what="a new pipeline-1 process",
        )
        # Not before its backoff: the respawn waits `delay` seconds after the exit.
        assert time.monotonic() - killed_at >= delay
        wait_serving(address, time.monotonic() + 60)
    assert proc.poll() is None


def test_a_killed_postgresql_comes_back_and_the_services_reach_it_again(make_run):
    proc, out, ports = make_run
    pg = EmbeddedPostgres(out.parent / "pg", 0)
    victim = pg.running_pid()
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: "PostgreSQL stopped; restarting in 1 s" in out.read_text(), what="the restart announced")
    wait_until(lambda: pg.running_pid() not in (None, victim), timeout=60, what="a new PostgreSQL")
    key = (out.parent / "dev-api-key").read_text().strip()
    with channel(f"127.0.0.1:{ports['intake']}", key) as ch:
        stub = intake_pb2_grpc.IntakeServiceStub(ch)

        def reached() -> bool:  # NOT_FOUND comes from a query; UNAVAILABLE while it cannot
            try:
                stub.GetComplaintStatus(
                    intake_pb2.GetComplaintStatusRequest(complaint_id=str(uuid.uuid4())), timeout=10
                )
            except grpc.RpcError as err:
                return err.code() == grpc.StatusCode.NOT_FOUND
            return False

        wait_until(reached, timeout=60, what="intake to reach the database again")
    assert proc.poll() is None


def test_the_console_shows_readable_lines_while_each_service_logs_json_to_its_file(make_run):
    _, out, ports = make_run
    lines = [line for line in out.read_text().splitlines() if line.strip()]
    assert not [line for line in lines if line.lstrip().startswith("{")], lines  # no JSON log line on the screen
    assert re.search(rf"^intake +127\.0\.0\.1:{ports['intake']} ", "\n".join(lines), re.M)
    assert f"gateway      http://127.0.0.1:{ports['gateway']}/" in out.read_text()
    assert any(line.startswith("all services SERVING") for line in lines)
    logs = Path(out.parent / "logs")
    for name in ("intake", "analytics", "pipeline-0", "gateway"):
        first = json.loads((logs / f"{name}.log").read_text().splitlines()[0])
        assert {"ts", "level", "service", "msg"} <= first.keys(), name


def test_the_gateway_answers_rest_with_the_read_key_the_console_links_in_a_fragment(make_run):
    _, out, ports = make_run
    [key] = re.findall(rf"^dashboard +http://127\.0\.0\.1:{ports['gateway']}/#key=(\S+)\r?$", out.read_text(), re.M)
    assert key == (out.parent / "dashboard-api-key").read_text().strip()
    request = urllib.request.Request(
        f"http://127.0.0.1:{ports['gateway']}/v1/dashboard", headers={"Authorization": f"Bearer {key}"}
    )

    def answered() -> dict | None:
        # After the PostgreSQL restart above, a key's first look-up may meet a
        # pooled connection that died with it: UNAVAILABLE (503), retried as documented.
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                return json.loads(reply.read()) if reply.status == 200 else None
        except urllib.error.HTTPError as err:
            if err.code != 503:
                raise
            return None

    assert "summary" in wait_until(answered, timeout=30, what="the dashboard through the gateway")


def test_services_run_in_cpu_tiers_analytics_first_intake_and_postgres_second_replicas_last(make_run):
    proc, out, ports = make_run
    base = os.getpriority(os.PRIO_PROCESS, proc.pid)
    postmaster = int(Path(out.parent / "pg" / "postmaster.pid").read_text().split()[0])
    analytics, gateway, intake = (listening_pid(ports[name]) for name in ("analytics", "gateway", "intake"))
    assert analytics and gateway and intake, "a service is not listening"
    # Real-time where this host allows it, else left at the supervisor's priority.
    officers = cpu_priority.RT if realtime_allowed() else str(base)
    for pid in (analytics, gateway):
        assert {cpu_priority.current(t.id) for t in psutil.Process(pid).threads()} == {officers}
    assert cpu_priority.current(intake) == str(min(19, base + 5))
    assert cpu_priority.current(postmaster) == str(min(19, base + 5))
    # PostgreSQL started in its tier, so every backend it forks is in it; a
    # replica moved every thread of its own.
    backends = psutil.Process(postmaster).children()
    assert backends and all(cpu_priority.current(b.pid) == str(min(19, base + 5)) for b in backends)
    # pg_ctl gives PostgreSQL a session of its own: where the kernel shares CPU
    # between sessions first, that session is in the tier as well.
    own = cpu_priority.session_priority(os.getpid())
    if own is not None:
        assert cpu_priority.session_priority(postmaster) == min(19, own + 5)
    replica = psutil.Process(listening_pid(ports["pipeline"] + 2))
    assert {cpu_priority.current(t.id) for t in replica.threads()} == {"19"}


def test_sigterm_stops_every_process_it_started(make_run):
    proc, out, ports = make_run
    children = psutil.Process(proc.pid).children(recursive=True)
    assert len(children) >= 6  # intake, analytics, 3 replicas, the gateway (PostgreSQL runs detached, by pg_ctl)
    postgres = Path(out.parent / "pg" / "postmaster.pid").read_text().split()[0]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=90) == 0
    assert "stopped" in out.read_text().splitlines()[-1]
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive
    assert not running(int(postgres))
    assert listening_pid(ports["gateway"]) is None


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE  # a zombie has exited, its parent not reaped it
    except psutil.NoSuchProcess:
        return False


def test_services_stop_when_the_supervisor_is_killed_outright():
    with supervisor_process(1) as (proc, _, _):
        children = psutil.Process(proc.pid).children()
        assert len(children) == 4  # intake, analytics, the replica, the gateway
        proc.kill()  # no chance to stop anything itself
        proc.wait()
        _, alive = psutil.wait_procs(children, timeout=30)  # each asked for SIGTERM on its parent's death
        assert not alive
