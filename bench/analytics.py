"""GetDashboard latency (p50, p99) and requests per second at 1, 16 and 64
concurrent callers: against a bare grpc.aio server that returns a prebuilt
Dashboard (the ceiling), against the analytics service while idle, and while
two pipeline replicas are saturated (llm analyzer, tests/fake_llm.py) and
intake takes a bulk stream, all in one run.

Every party is its own process: the load generator (one grpc.aio process,
many concurrent calls, requests and answers left as bytes so that it is not
the bottleneck; its CPU use is reported), the server under test, the bulk
stream client, intake, the pipeline replicas and PostgreSQL. The model runs
in this process, which otherwise only waits.

Throughput (analytics against the ceiling) is measured with the machine
otherwise idle and every process free to use both cores. Latency idle
against loaded is measured twice: with the two cores split as separate pods
would split them (analytics and its load generator on core 0; PostgreSQL,
intake, the replicas, the bulk client and the model on core 1), idle then
loaded; and loaded with everything sharing both cores as equals, for
comparison.

Targets: p99 under load at most 1.5 x idle p99 (cores split); analytics at
least half the ceiling's requests per second.

    python -m bench analytics
    python -m bench.analytics load|ceiling|bulk ...   (the child processes)
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
import psutil

from bench.percentiles import p50_p99_ms
from complaints.auth import bearer
from complaints.embedded_pg import free_port
from complaints.supervisor import Supervisor
from complaints.v1 import analytics_pb2, analytics_pb2_grpc, intake_pb2, intake_pb2_grpc, pipeline_pb2, pipeline_pb2_grpc
from tests.data.labelled import load as labelled
from tests.fake_llm import FakeLLM

LEVELS = (1, 16, 64)
SECONDS = float(os.environ.get("BENCH_ANALYTICS_SECONDS", "15"))
WARMUP_SECONDS = 1.0
LLM_LATENCY = float(os.environ.get("BENCH_ANALYTICS_LLM_LATENCY", "0.3"))
BULK_PER_SECOND = float(os.environ.get("BENCH_ANALYTICS_BULK_PER_SECOND", "200"))
SEED_COMPLAINTS = 300
TIMELINE_PHASES = (("idle", 8.0), ("loaded", 16.0), ("recovery", 8.0))
TIMELINE_CALLERS = 16
TIMELINE_BUCKET = 0.25
DASHBOARD = "/complaints.v1.AnalyticsService/GetDashboard"
ANALYTICS_CORE = {0}
BACKGROUND_CORE = {1}
ALL_CORES = {0, 1}


# --- child processes -------------------------------------------------------

async def _load(address: str, concurrency: int, seconds: float, key: str) -> dict[str, Any]:
    """`concurrency` callers in a loop for `seconds` after a warm-up."""
    metadata = bearer(key) if key else None
    me = psutil.Process()
    async with grpc.aio.insecure_channel(address) as channel:
        call = channel.unary_unary(DASHBOARD)  # bytes in, bytes out: no parsing on this side
        latencies: list[float] = []
        loop = asyncio.get_running_loop()
        start = loop.time() + WARMUP_SECONDS
        end = start + seconds

        async def caller() -> None:
            while (now := loop.time()) < end:
                t0 = time.perf_counter()
                await call(b"", metadata=metadata, timeout=30)
                if now >= start:
                    latencies.append(time.perf_counter() - t0)

        await asyncio.sleep(0)
        cpu_before, wall_before = None, None

        async def mark() -> None:
            nonlocal cpu_before, wall_before
            await asyncio.sleep(WARMUP_SECONDS)
            cpu_before, wall_before = sum(me.cpu_times()[:2]), time.perf_counter()

        await asyncio.gather(mark(), *(caller() for _ in range(concurrency)))
        cpu = (sum(me.cpu_times()[:2]) - cpu_before) / (time.perf_counter() - wall_before)
    p50, p99 = p50_p99_ms(latencies)
    return {
        "p50_ms": p50,
        "p99_ms": p99,
        "requests_per_second": round(len(latencies) / seconds),
        "load_generator_cpu": round(cpu, 2),
    }


async def _timeline(address: str, concurrency: int, seconds: float, key: str) -> dict[str, Any]:
    """Like _load, but keeps when each answer came, in 250 ms buckets: for the
    latency-over-time plot across the idle, loaded and recovery phases."""
    metadata = bearer(key) if key else None
    samples: list[tuple[float, float]] = []
    async with grpc.aio.insecure_channel(address) as channel:
        call = channel.unary_unary(DASHBOARD)
        start = time.time()
        end = start + seconds

        async def caller() -> None:
            while time.time() < end:
                t0 = time.perf_counter()
                await call(b"", metadata=metadata, timeout=30)
                samples.append((time.time() - start, time.perf_counter() - t0))

        await asyncio.gather(*(caller() for _ in range(concurrency)))
    buckets: dict[int, list[float]] = {}
    for at, latency in samples:
        buckets.setdefault(int(at / TIMELINE_BUCKET), []).append(latency)
    rows = [[round(index * TIMELINE_BUCKET, 2), len(buckets[index]), *p50_p99_ms(buckets[index])]
            for index in sorted(buckets)]
    return {"start": start, "buckets": rows}


async def _ceiling(port: int, dashboard_path: str) -> None:
    """A bare grpc.aio server: no interceptors, no database, one prebuilt Dashboard."""
    dashboard = analytics_pb2.Dashboard.FromString(Path(dashboard_path).read_bytes())

    class Bare(analytics_pb2_grpc.AnalyticsServiceServicer):
        async def GetDashboard(self, request, context):
            return dashboard

    server = grpc.aio.server()
    analytics_pb2_grpc.add_AnalyticsServiceServicer_to_server(Bare(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


async def _bulk(address: str, key: str, per_second: float, run: str) -> None:
    """One SubmitComplaints stream at a steady rate until killed."""
    texts = [row["text"] for row in labelled()]

    async def requests():
        started = time.monotonic()
        i = 0
        while True:
            yield intake_pb2.SubmitComplaintRequest(
                idempotency_key=f"{run}-{i}", source_system="bench-analytics", channel="bulk",
                subject="Aduan", description=f"{texts[i % len(texts)]} (rujukan {run}-{i})")
            i += 1
            ahead = started + i / per_second - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)

    async with grpc.aio.insecure_channel(address) as channel:
        stub = intake_pb2_grpc.IntakeServiceStub(channel)
        async for reply in stub.SubmitComplaints(requests(), metadata=bearer(key)):
            if reply.HasField("error"):
                raise RuntimeError(reply.error.message)


def _child(*args: str) -> list[str]:
    return [sys.executable, "-m", "bench.analytics", *args]


def _spawn(args: list[str], cores: set[int] | None, **kwargs: Any) -> subprocess.Popen[str]:
    """A child process, on `cores` from its first instruction (its threads inherit them).

    taskset rather than preexec_fn: preexec_fn makes subprocess fork() this
    gRPC process, whose fork handlers can crash the child before it execs.
    """
    if cores:
        args = ["taskset", "--cpu-list", ",".join(map(str, sorted(cores))), *args]
    return subprocess.Popen(args, text=True, **kwargs)


def _pin(pids: list[int], cores: set[int]) -> None:
    """Every thread of each process onto `cores`; threads started later inherit it."""
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            for thread in psutil.Process(pid).threads():
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(thread.id, cores)


def _background(sup: Supervisor) -> list[int]:
    """Everything but analytics: this process (the model), intake, the replicas, PostgreSQL."""
    postmaster = sup.pg.running_pid() if sup.pg else None
    pids = [os.getpid()] + [c.proc.pid for n, c in sup.children.items() if c.proc and n != "analytics"]
    if postmaster:
        pids += [postmaster] + [c.pid for c in psutil.Process(postmaster).children()]
    return pids


# --- the run ----------------------------------------------------------------

def _measure(address: str, key: str, server_pid: int, cores: set[int] | None = None) -> dict[str, Any]:
    figures = {}
    server = psutil.Process(server_pid)
    for concurrency in LEVELS:
        server.cpu_percent()
        load = _spawn(_child("load", address, str(concurrency), str(SECONDS), key), cores, stdout=subprocess.PIPE)
        out, _ = load.communicate(timeout=SECONDS * 10 + 60)
        if load.returncode:
            raise RuntimeError(f"load generator failed ({load.returncode})")
        result = json.loads(out.strip().splitlines()[-1])
        result["server_cpu"] = round(server.cpu_percent() / 100, 2)  # over warm-up and measurement
        figures[str(concurrency)] = result
        print(f"[bench] analytics {address} x{concurrency}: {result}", flush=True)
    return figures


def _pipeline_status(sup: Supervisor) -> list[pipeline_pb2.PipelineStatus]:
    answers = []
    for port in sup.pipeline_ports:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            answers.append(pipeline_pb2_grpc.PipelineServiceStub(channel).GetPipelineStatus(
                pipeline_pb2.GetPipelineStatusRequest(), metadata=bearer(sup.dev_key), timeout=10))
    return answers


def _wait(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _saturated(sup: Supervisor) -> bool:
    """More work queued than both replicas could hold twice over: they run
    flat out (all slots busy, or as fast as their core lets them)."""
    status = _pipeline_status(sup)
    return all(s.in_flight > 0 for s in status) and status[0].queue_depth >= 2 * sum(s.capacity for s in status)


def _loaded(sup: Supervisor, fake: FakeLLM, run: str, split: bool) -> dict[str, Any]:
    """The three levels while the pipeline is saturated and intake takes a bulk stream."""
    bulk = _spawn(_child("bulk", f"127.0.0.1:{sup.intake_port}", sup.dev_key, str(BULK_PER_SECOND), run),
                  BACKGROUND_CORE if split else None)
    try:
        _wait(lambda: _saturated(sup), 120, "both pipeline replicas to be saturated")
        before = sum(s.processed_total for s in _pipeline_status(sup))
        asked = len(fake.requests)
        started = time.monotonic()
        figures = _measure(f"127.0.0.1:{sup.analytics_port}", sup.dev_key, sup.children["analytics"].proc.pid,
                           ANALYTICS_CORE if split else None)
        status = _pipeline_status(sup)
        figures["pipeline"] = {
            "saturated_at_end": status[0].queue_depth >= 2 * sum(s.capacity for s in status),
            "capacity": [s.capacity for s in status],
            "in_flight": [s.in_flight for s in status],
            "queue_depth": status[0].queue_depth,
            "processed_per_second": round((sum(s.processed_total for s in status) - before)
                                          / (time.monotonic() - started), 1),
            "model_requests_per_second": round((len(fake.requests) - asked) / (time.monotonic() - started), 1),
        }
        figures["load_average"] = round(os.getloadavg()[0], 2)
        return figures
    finally:
        bulk.terminate()
        bulk.wait(timeout=30)


def _timeline_run(sup: Supervisor) -> dict[str, Any]:
    """GetDashboard latency over time with the cores split: idle, then a bulk
    stream keeps intake and the replicas busy, then the stream stops
    (recovery: the replicas still work through what it queued)."""
    total = sum(seconds for _, seconds in TIMELINE_PHASES)
    load = _spawn(_child("timeline", f"127.0.0.1:{sup.analytics_port}", str(TIMELINE_CALLERS), str(total),
                         sup.dev_key), ANALYTICS_CORE, stdout=subprocess.PIPE)
    started = time.time()
    bounds: dict[str, list[float]] = {}
    at = 0.0
    bulk = None
    try:
        for name, seconds in TIMELINE_PHASES:
            bounds[name] = [round(time.time() - started, 2)]
            if name == "loaded":
                bulk = _spawn(_child("bulk", f"127.0.0.1:{sup.intake_port}", sup.dev_key, str(BULK_PER_SECOND),
                                     "timeline"), BACKGROUND_CORE)
            elif bulk is not None:
                bulk.terminate()
                bulk.wait(timeout=30)
                bulk = None
            at += seconds
            time.sleep(max(0.0, started + at - time.time()))  # a benchmark's schedule, not a test's wait
            bounds[name].append(round(time.time() - started, 2))
        out, _ = load.communicate(timeout=total + 60)
    finally:
        if bulk is not None:
            bulk.terminate()
            bulk.wait(timeout=30)
    result = json.loads(out.strip().splitlines()[-1])
    # Shift the phase bounds onto the load generator's clock.
    shift = started - result["start"]
    result["phases"] = {name: [round(a + shift, 2), round(b + shift, 2)] for name, (a, b) in bounds.items()}
    p99 = {}
    for name, (a, b) in result["phases"].items():
        values = sorted(row[3] for row in result["buckets"] if a <= row[0] < b)
        p99[name] = values[len(values) // 2] if values else None
    result["median_bucket_p99_ms"] = p99
    if p99.get("idle") and p99.get("loaded"):
        result["loaded_over_idle"] = round(p99["loaded"] / p99["idle"], 2)
    print(f"[bench] analytics timeline: {p99}", flush=True)
    return result


def _ratios(results: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for level in map(str, LEVELS):
        idle, ceiling = results["idle"][level], results["ceiling"][level]
        split_idle = results["idle_cores_split"][level]
        out[level] = {
            "p99_under_load_over_idle": round(results["under_load_cores_split"][level]["p99_ms"]
                                              / split_idle["p99_ms"], 2),
            "p99_under_load_shared_cores_over_idle":
                round(results["under_load_shared_cores"][level]["p99_ms"] / idle["p99_ms"], 2),
            "idle_rps_over_ceiling": round(idle["requests_per_second"] / ceiling["requests_per_second"], 2),
            "under_load_rps_over_idle": round(results["under_load_cores_split"][level]["requests_per_second"]
                                              / split_idle["requests_per_second"], 2),
        }
    out["targets"] = {
        "p99_under_load_at_most_1.5x_idle": all(out[l]["p99_under_load_over_idle"] <= 1.5 for l in map(str, LEVELS)),
        "rps_at_least_half_ceiling": all(out[l]["idle_rps_over_ceiling"] >= 0.5 for l in map(str, LEVELS)),
    }
    return out


def run() -> dict[str, Any]:
    results: dict[str, Any] = {
        "setup": f"GetDashboard from one load-generator process (grpc.aio, bytes in and out), {SECONDS:g} s per "
                 f"level after {WARMUP_SECONDS:g} s warm-up; under load: 2 pipeline replicas (llm analyzer, fake "
                 f"model answering in {LLM_LATENCY * 1000:g} ms, PIPELINE_MAX_IN_FLIGHT 64 each, all slots busy) "
                 f"and a SubmitComplaints stream at {BULK_PER_SECOND:g}/s; embedded PostgreSQL without fsync; "
                 "this 2-core machine. cpu figures are cores used; cores_split: analytics and its load generator "
                 "on core 0, everything else on core 1.",
    }
    with tempfile.TemporaryDirectory(prefix="bench-analytics-") as tmp, FakeLLM() as fake:
        root = Path(tmp)
        sup = Supervisor(
            datadir=root, intake_port=free_port(), analytics_port=free_port(),
            pipeline_ports=[free_port(), free_port()], pg_port=free_port(), durable=False, logs_dir=root,
            extra_env={"PIPELINE_ANALYZER": "llm", "PIPELINE_LLM_BASE_URL": fake.base_url,
                       "PIPELINE_LLM_MODEL": "bench-model", "PIPELINE_LLM_EMBEDDING_MODEL": "bench-embed",
                       "PIPELINE_SWEEP_SECONDS": "0.2", "LOG_LEVEL": "WARNING"},
        )
        ceiling = None
        try:
            sup.start_database()
            sup.start_services()
            # A dashboard with real figures: complaints analysed at once.
            fake.latency = 0.0
            seed = _spawn(_child("bulk", f"127.0.0.1:{sup.intake_port}", sup.dev_key, "1000", "seed"), None)
            try:
                _wait(lambda: _processed(sup) >= SEED_COMPLAINTS, 180, "the seed complaints")
            finally:
                seed.terminate()
                seed.wait(timeout=30)
            _wait(lambda: not any(s.in_flight for s in _pipeline_status(sup)), 180, "the pipeline to be idle")
            with grpc.insecure_channel(f"127.0.0.1:{sup.analytics_port}") as channel:
                dashboard = analytics_pb2_grpc.AnalyticsServiceStub(channel).GetDashboard(
                    analytics_pb2.GetDashboardRequest(), metadata=bearer(sup.dev_key), timeout=10)
            (root / "dashboard.pb").write_bytes(dashboard.SerializeToString())
            results["dashboard_bytes"] = dashboard.ByteSize()
            results["complaints_in_database"] = dashboard.summary.total

            port = free_port()
            ceiling = _spawn(_child("ceiling", str(port), str(root / "dashboard.pb")), None)
            _wait(lambda: _answers(f"127.0.0.1:{port}"), 30, "the ceiling server")
            results["ceiling"] = _measure(f"127.0.0.1:{port}", "", ceiling.pid)
            ceiling.terminate()
            ceiling.wait(timeout=30)
            ceiling = None

            results["idle"] = _measure(f"127.0.0.1:{sup.analytics_port}", sup.dev_key,
                                       sup.children["analytics"].proc.pid)
            analytics_pid = sup.children["analytics"].proc.pid
            _pin([analytics_pid], ANALYTICS_CORE)
            _pin(_background(sup), BACKGROUND_CORE)
            results["idle_cores_split"] = _measure(f"127.0.0.1:{sup.analytics_port}", sup.dev_key, analytics_pid,
                                                   ANALYTICS_CORE)
            fake.latency = LLM_LATENCY
            results["timeline"] = _timeline_run(sup)
            results["under_load_cores_split"] = _loaded(sup, fake, "split", split=True)
            _pin([analytics_pid, *_background(sup)], ALL_CORES)
            results["under_load_shared_cores"] = _loaded(sup, fake, "shared", split=False)
            results["ratios"] = _ratios(results)
        finally:
            if ceiling is not None:
                ceiling.terminate()
                ceiling.wait(timeout=30)
            sup.stop()
    return results


def _processed(sup: Supervisor) -> int:
    return sum(s.processed_total for s in _pipeline_status(sup))


def _answers(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        try:
            channel.unary_unary(DASHBOARD)(b"", timeout=1)
            return True
        except grpc.RpcError:
            return False


def main(argv: list[str]) -> None:
    kind, *args = argv
    if kind == "load":
        address, concurrency, seconds, *key = args
        print(json.dumps(asyncio.run(_load(address, int(concurrency), float(seconds), key[0] if key else ""))))
    elif kind == "timeline":
        address, concurrency, seconds, key = args
        print(json.dumps(asyncio.run(_timeline(address, int(concurrency), float(seconds), key))))
    elif kind == "ceiling":
        asyncio.run(_ceiling(int(args[0]), args[1]))
    elif kind == "bulk":
        address, key, per_second, run_name = args
        asyncio.run(_bulk(address, key, float(per_second), run_name))
    else:
        raise SystemExit(f"unknown child {kind}")


if __name__ == "__main__":
    main(sys.argv[1:])
