"""`make run`: the whole system on one machine, in the foreground.

Starts an embedded PostgreSQL (unless DATABASE_URL is set), applies
migrations, starts intake, analytics and PIPELINE_REPLICAS pipeline replicas,
prints where each listens (gRPC and metrics), restarts a crashed service (and
the embedded PostgreSQL) with backoff, and on Ctrl-C or SIGTERM stops
everything it started. Tests drive the same class.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from analytics_service import settings as analytics
from complaints import cpu_priority, gateway
from complaints.config import env_int, env_str
from intake_service import settings as intake
from ops import keys, migrate
from ops.embedded_pg import EmbeddedPostgres, free_port
from ops.roles import ROLES
from pipeline_service import settings as pipeline

# The CPU tiers `make run` gives each service unless <SERVICE>_CPU_PRIORITY
# says otherwise (complaints/cpu_priority.py). Officers first: analytics (and
# the gateway) real-time (SCHED_RR; the default priority where that is
# refused), intake and PostgreSQL second (a higher nice value), pipeline
# replicas last (nice 19: about 1.5% of a core against one busy
# default-priority process). With analytics at the default priority the
# dashboard's open-loop p99 doubled on a busy host, each of a request's
# thread switches waiting a little for a core; real-time, none waits
# (bench/report.md). SCHED_IDLE replicas measured no better than nice 19.
CPU_TIERS = {"analytics": "rt", "gateway": "rt", "intake": "5", "postgres": "5", "pipeline": "19"}

# A service exits with 2 on a bad setting: restarting it cannot help.
BAD_SETTINGS_EXIT = 2
# Restart delays double from 1 s up to this; a service that ran this long
# before exiting starts again from 1 s.
MAX_BACKOFF_SECONDS = 30.0


@dataclass(kw_only=True)
class Restarting:
    """When to start again a process that keeps exiting: 1, 2, 4, ... seconds
    after it exits, at most MAX_BACKOFF_SECONDS; one that ran that long had
    been healthy, so its next exit starts the count again."""

    restarts: int = 0
    next_start: float = 0.0
    started_at: float = 0.0
    exited_at: float = 0.0

    def backoff(self) -> float:
        """Delay before the next restart: 1, 2, 4, ... seconds, at most MAX_BACKOFF_SECONDS."""
        return min(2.0 ** max(self.restarts - 1, 0), MAX_BACKOFF_SECONDS)

    def exited(self, now: float) -> float:
        """Records an exit seen at `now`; returns the delay before the next start."""
        self.exited_at = now
        if now - self.started_at >= MAX_BACKOFF_SECONDS:
            self.restarts = 0  # it had been healthy: this is a new crash, not a loop
        self.restarts += 1
        self.next_start = now + self.backoff()
        return self.backoff()

    def due(self, now: float) -> bool:
        """True once the delay after an exit has passed (and clears it)."""
        if self.next_start == 0.0 or now < self.next_start:
            return False
        self.next_start = 0.0
        return True


@dataclass
class Child(Restarting):
    name: str
    module: str
    port: int
    env: dict[str, str]
    log_path: Path | None = None
    metrics_port: int = 0
    # Its CPU tier (complaints/cpu_priority.py): "rt", "idle" or a nice value.
    priority: str = "0"
    proc: subprocess.Popen[bytes] | None = None
    wanted: bool = True

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def wait_serving(self, deadline: float) -> None:
        """Like wait_serving, but a child that exits says so at once, with
        the end of its log, instead of leaving a time-out to explain."""
        while True:
            try:
                return wait_serving(self.address, min(deadline, time.monotonic() + 1))
            except TimeoutError:
                code = self.proc.poll() if self.proc else None
                if code is not None:
                    tail = self.log_path.read_text(errors="replace").splitlines()[-5:] if self.log_path else []
                    raise RuntimeError(
                        f"{self.name} exited with {code} before SERVING" + "".join(f"\n  {line}" for line in tail)
                    ) from None
                if time.monotonic() > deadline:
                    raise

    def spawn(self) -> None:
        self.started_at = time.monotonic()
        out = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115 - owned by the child
        # No preexec_fn: it would make subprocess fork() a process whose gRPC
        # threads then abort the child before exec. The child asks for SIGTERM
        # on our death itself (complaints.server), given our PID.
        # It moves itself to its tier once started (complaints/cpu_priority.py).
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.module],
            env={
                **self.env,
                "SUPERVISOR_PID": str(os.getpid()),
                f"{self.name.split('-')[0].upper()}_CPU_PRIORITY": self.priority,
            },
            stdout=out or None,
            stderr=out or None,
        )
        if out:
            out.close()


def wait_serving(address: str, deadline: float, service: str = "") -> None:
    """Blocks until the server at `address` answers SERVING on grpc.health.v1."""
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{address} did not report SERVING in time")
            time.sleep(0.05)


@dataclass
class Supervisor:
    datadir: Path
    intake_port: int = intake.PORT
    analytics_port: int = analytics.PORT
    pipeline_ports: list[int] = field(default_factory=lambda: [pipeline.PORT + i for i in range(pipeline.REPLICAS)])
    # The officers' gateway (Envoy, complaints/gateway.py) in front of
    # analytics; 0: not started.
    gateway_port: int = 0
    database_url: str | None = None
    pg_port: int = 54329
    durable: bool = True
    logs_dir: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    # Metrics port per child name (intake, analytics, pipeline-0, ...); a
    # free port for any child not listed.
    metrics_ports: dict[str, int] = field(default_factory=dict)
    # CPU tier per service (analytics, intake, postgres, pipeline; the
    # gateway); a service not listed runs at the supervisor's own priority.
    # `make run` takes CPU_TIERS (from_env).
    cpu_priorities: dict[str, str] = field(default_factory=dict)
    pg: EmbeddedPostgres | None = None
    # The embedded PostgreSQL's restarts, as a child's (restart_crashed).
    pg_run: Restarting = field(default_factory=Restarting)
    children: dict[str, Child] = field(default_factory=dict)
    # Set by start_database: the development key (all of submit, read,
    # admin; DEV_API_KEY picks its value) and intake's key for Dispatch.
    dev_key: str = ""
    dispatch_key: str = ""
    # A key with role read only, for the dashboard page (never the dev key).
    read_key: str = ""
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _watching: threading.Event = field(default_factory=threading.Event)
    _watchdog: threading.Thread | None = None

    @classmethod
    def from_env(cls) -> Supervisor:
        """`make run`'s settings: ports, PIPELINE_REPLICAS, DATABASE_URL."""
        replicas = env_int("PIPELINE_REPLICAS", pipeline.REPLICAS, minimum=0)
        base = env_int("PIPELINE_PORT", pipeline.PORT, minimum=1)
        metrics_base = env_int("PIPELINE_METRICS_PORT", pipeline.METRICS_PORT, minimum=1)
        return cls(
            datadir=Path(env_str("DATA_DIR", ".data")),
            intake_port=env_int("INTAKE_PORT", intake.PORT, minimum=1),
            analytics_port=env_int("ANALYTICS_PORT", analytics.PORT, minimum=1),
            pipeline_ports=[base + i for i in range(replicas)],
            gateway_port=env_int("GATEWAY_PORT", 8080, minimum=0),
            database_url=os.environ.get("DATABASE_URL") or None,
            pg_port=env_int("PG_PORT", 54329, minimum=1),
            metrics_ports={
                "intake": env_int("INTAKE_METRICS_PORT", intake.METRICS_PORT, minimum=1),
                "analytics": env_int("ANALYTICS_METRICS_PORT", analytics.METRICS_PORT, minimum=1),
                "gateway": env_int("GATEWAY_METRICS_PORT", gateway.METRICS_PORT, minimum=1),
                **{f"pipeline-{i}": metrics_base + i for i in range(replicas)},
            },
            cpu_priorities={service: cpu_priority.setting(service, tier) for service, tier in CPU_TIERS.items()},
        )

    def url(self, service: str) -> str:
        if self.pg is not None:
            return self.pg.url_for(ROLES[service])
        assert self.database_url
        return os.environ.get(f"{service.upper()}_DATABASE_URL") or self.database_url

    @property
    def admin_url(self) -> str:
        return self.pg.url if self.pg is not None else str(self.database_url)

    def start_database(self) -> None:
        if self.database_url is None:
            self.pg = EmbeddedPostgres(
                self.datadir / "pg",
                self.pg_port,
                durable=self.durable,
                priority=self.cpu_priorities.get("postgres", "0"),
            )
            self._start_postgres()
        migrate.apply(self.admin_url)
        self.dev_key = keys.ensure_file(
            self.admin_url,
            self.datadir / "dev-api-key",
            "development key (make run)",
            ["submit", "read", "admin"],
            key=os.environ.get("DEV_API_KEY") or None,
        )
        self.dispatch_key = keys.ensure_file(
            self.admin_url, self.datadir / "intake-dispatch-key", "intake dispatch (make run)", ["dispatch"]
        )
        self.read_key = keys.ensure_file(
            self.admin_url, self.datadir / "dashboard-api-key", "dashboard page (make run)", ["read"]
        )

    def _env(self, service: str, **more: str) -> dict[str, str]:
        env = {**os.environ, **self.extra_env, **more}
        env.pop("DATABASE_URL", None)
        env[f"{service.upper()}_DATABASE_URL"] = self.url(service)
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def _child(self, name: str, module: str, port: int, env: dict[str, str]) -> Child:
        log_path = self.logs_dir / f"{name}.log" if self.logs_dir else None
        service = name.split("-")[0]  # pipeline-0 is a pipeline
        metrics_port = self.metrics_ports.get(name) or self._unclaimed_port()
        env[f"{service.upper()}_METRICS_PORT"] = str(metrics_port)
        child = Child(name, module, port, env, log_path, metrics_port, self.cpu_priorities.get(service, "0"))
        with self._lock:
            self.children[name] = child
            child.spawn()
        return child

    def _unclaimed_port(self) -> int:
        # A free port none of our children will bind later: ports are picked
        # before the processes that bind them start.
        taken = {
            self.intake_port,
            self.analytics_port,
            self.gateway_port,
            self.pg_port,
            *self.pipeline_ports,
            *self.metrics_ports.values(),
            *(c.metrics_port for c in self.children.values()),
        }
        while (port := free_port()) in taken:
            pass
        return port

    def pipeline_targets(self) -> str:
        return ",".join(f"127.0.0.1:{p}" for p in self.pipeline_ports)

    def start_services(self, timeout: float = 60, *, pipelines: bool = True) -> None:
        """Starts every service; with pipelines=False intake still targets
        pipeline_ports, whose replicas start_pipeline can start later."""
        deadline = time.monotonic() + timeout
        for i, port in enumerate(self.pipeline_ports if pipelines else []):
            self.start_pipeline(i, port, wait=False)
        self._child(
            "intake",
            "intake_service",
            self.intake_port,
            self._env(
                "intake",
                INTAKE_BIND=f"127.0.0.1:{self.intake_port}",
                PIPELINE_TARGETS=self.pipeline_targets(),
                INTAKE_DISPATCH_API_KEY=self.dispatch_key,
            ),
        )
        self._child(
            "analytics",
            "analytics_service",
            self.analytics_port,
            self._env("analytics", ANALYTICS_BIND=f"127.0.0.1:{self.analytics_port}"),
        )
        if self.gateway_port:
            # SERVING through the gateway: its health route reaches analytics.
            self._child(
                "gateway",
                "complaints.gateway",
                self.gateway_port,
                {
                    **os.environ,
                    **self.extra_env,
                    "GATEWAY_BIND": f"127.0.0.1:{self.gateway_port}",
                    "GATEWAY_ANALYTICS": f"127.0.0.1:{self.analytics_port}",
                },
            )
        for child in list(self.children.values()):
            child.wait_serving(deadline)

    def start_pipeline(self, index: int, port: int, *, wait: bool = True, timeout: float = 60) -> Child:
        name = f"pipeline-{index}"
        # The replica count bounds the pipeline's database budget (README, Pool sizing).
        replicas = str(max(len(self.pipeline_ports), index + 1))
        child = self._child(
            name,
            "pipeline_service",
            port,
            self._env(
                "pipeline", PIPELINE_BIND=f"127.0.0.1:{port}", PIPELINE_REPLICA_ID=name, PIPELINE_REPLICAS=replicas
            ),
        )
        if wait:
            child.wait_serving(time.monotonic() + timeout)
        return child

    def send(self, name: str, sig: int) -> None:
        """Sends a signal to one service; a stopped service stays stopped."""
        with self._lock:
            child = self.children[name]
            child.wanted = sig not in (signal.SIGKILL, signal.SIGTERM)
            if child.proc and child.proc.poll() is None:
                child.proc.send_signal(sig)

    def restart_crashed(self) -> None:
        """Restarts, with backoff, PostgreSQL (the embedded one) and any wanted
        service that exited; a service that refused a bad setting stays down
        (it would only fail again)."""
        with self._lock:
            now = time.monotonic()
            self._restart_postgres(now)
            for child in self.children.values():
                if not child.wanted or child.proc is None or child.proc.poll() is None:
                    continue
                code = child.proc.returncode
                if code == BAD_SETTINGS_EXIT:
                    child.wanted = False
                    print(
                        f"{child.name} refused its settings (see its log); not restarting", file=sys.stderr, flush=True
                    )
                elif child.next_start == 0.0:
                    delay = child.exited(now)
                    print(f"{child.name} exited with {code}; restarting in {delay:g} s", file=sys.stderr, flush=True)
                elif child.due(now):
                    child.spawn()

    def _restart_postgres(self, now: float) -> None:
        # Without it every service waits (answering UNAVAILABLE) for ever.
        if self.pg is None or self.pg.running_pid() is not None:
            return
        if self.pg_run.next_start == 0.0:
            delay = self.pg_run.exited(now)
            print(f"PostgreSQL stopped; restarting in {delay:g} s", file=sys.stderr, flush=True)
        elif self.pg_run.due(now):
            try:
                self._start_postgres()
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
                # Not running, so the next turn schedules another try, later.
                print(f"PostgreSQL did not start: {exc}", file=sys.stderr, flush=True)

    def _start_postgres(self) -> None:
        assert self.pg is not None
        self.pg_run.started_at = time.monotonic()
        self.pg.start()

    def start_watchdog(self, interval: float = 0.2) -> None:
        """Calls restart_crashed every `interval` seconds until stop()."""

        def watch() -> None:
            while not self._watching.wait(interval):
                self.restart_crashed()

        self._watchdog = threading.Thread(target=watch, name="supervisor-watchdog", daemon=True)
        self._watchdog.start()

    def stop(self, grace: float = 30) -> None:
        self._watching.set()
        if self._watchdog is not None:
            self._watchdog.join()
        for child in self.children.values():
            child.wanted = False
            if child.proc and child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in self.children.values():
            if child.proc is None:
                continue
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait()
        if self.pg is not None:
            self.pg.stop()


def main() -> None:
    sup = Supervisor.from_env()
    root = sup.datadir
    # On a terminal the console stays readable: each service's JSON log goes
    # to its file. Otherwise (a container, a pipe) the JSON lines go to stderr
    # as they are, and these lines to stdout.
    if sys.stdout.isatty():
        sup.logs_dir = root / "logs"
        sup.logs_dir.mkdir(parents=True, exist_ok=True)
    stopping = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        sup.start_database()
        # Not the URL itself: it holds the admin's password.
        where = (
            f"127.0.0.1:{sup.pg_port} (passwords in {sup.pg.passwords_file})" if sup.pg is not None else "DATABASE_URL"
        )
        print(f"{'PostgreSQL':<12} {where}", flush=True)
        print(
            f"{'API key':<12} {root / 'dev-api-key'} (roles submit, read, admin); {root / 'dashboard-api-key'} (read)",
            flush=True,
        )
        sup.start_services()
        for child in sup.children.values():
            where = (
                f"http://{child.address}/ (REST /v1/..., grpc-web, the page)"
                if child.name == "gateway"
                else child.address
            )
            print(f"{child.name:<12} {where}  metrics {child.metrics_url}", flush=True)
        if sup.gateway_port:
            # The key rides in the fragment, which a browser never sends.
            print(f"{'dashboard':<12} http://127.0.0.1:{sup.gateway_port}/#key={sup.read_key}", flush=True)
        if sup.logs_dir:
            print(f"{'logs':<12} {sup.logs_dir}/<service>.log (JSON lines)", flush=True)
        print("all services SERVING; Ctrl-C stops everything", flush=True)
        sup.start_watchdog()
        stopping.wait()
    finally:
        print("stopping...", flush=True)
        sup.stop()
        print("stopped", flush=True)


if __name__ == "__main__":
    main()
