"""Prometheus metrics, served by each service on its own HTTP port
(`<SERVICE>_METRICS_PORT` in its settings; 0 turns it off). README "Metrics" lists them all.

Labels carry only RPC and stage names, status codes, pool names, outcomes and
states: never an ID, a text or anything of a complainant. Figures owned by the
event loop (pool stats, worker state, queue depth) are read on the loop at
scrape time, since the HTTP server answers from its own thread.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, disable_created_metrics, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from complaints.config import SettingsError

log = logging.getLogger(__name__)

T = TypeVar("T")

# Series of creation times (*_created) only double what a scrape carries.
disable_created_metrics()

# How long a scrape waits for the event loop before leaving a figure out.
SCRAPE_WAIT_SECONDS = 2.0

_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

# -- RPCs: every service records these in its handler wrapper (complaints/rpc_observer.py).
# Named as go-grpc-prometheus names them, so existing dashboards fit.
_RPC = ("grpc_service", "grpc_method", "grpc_type")
_RPC_BOUNDS = tuple(floatToGoString(bound) for bound in (*_SECONDS, float("inf")))


class RpcRecord:
    """One registered method's figures: RPCs started and, by status code,
    how many finished in each of _SECONDS's buckets (the last, +Inf) and
    their seconds summed. Plain numbers written by its server's event loop
    alone: no lock per update and no Python walk over the buckets, which a
    prometheus_client Counter and Histogram cost every RPC (the dashboard
    answers thousands a second). RpcCollector reads them at scrape time."""

    __slots__ = ("by_code", "labels", "started")

    def __init__(self, labels: tuple[str, str, str]) -> None:
        self.labels = labels
        self.started = 0
        # code -> one count per bucket, then the seconds summed.
        self.by_code: dict[str, list[float]] = {}

    def finished(self, code: str, seconds: float) -> None:
        figures = self.by_code.get(code)
        if figures is None:
            figures = self.by_code[code] = [0] * (len(_SECONDS) + 1) + [0.0]
        figures[bisect.bisect_left(_SECONDS, seconds)] += 1  # bucket le=b holds seconds <= b
        figures[-1] += seconds


class RpcCollector(Collector):
    """grpc_server_started, grpc_server_handled and grpc_server_handling_seconds
    from every RpcRecord, summed by labels (tests serve a method from more
    than one server in a process). The scrape thread copies what it reads
    in one step each (list(), dict()): a count is its buckets' total, so
    _count, +Inf and grpc_server_handled always agree; only _sum may miss
    the RPC finishing at that instant."""

    def __init__(self) -> None:
        self._records: list[RpcRecord] = []

    def record(self, service: str, method: str, kind: str) -> RpcRecord:
        """A record for one method registered on one server."""
        record = RpcRecord((service, method, kind))
        self._records.append(record)
        return record

    def collect(self) -> Iterator[Metric]:
        started: dict[tuple[str, ...], int] = {}
        finished: dict[tuple[str, ...], list[float]] = {}
        for record in list(self._records):
            started[record.labels] = started.get(record.labels, 0) + record.started
            for code, figures in dict(record.by_code).items():
                figures = list(figures)
                kept = finished.setdefault((*record.labels, code), [0.0] * len(figures))
                for i, value in enumerate(figures):
                    kept[i] += value
        started_family = CounterMetricFamily("grpc_server_started", "RPCs started.", labels=_RPC)
        for labels, count in started.items():
            started_family.add_metric(labels, count)
        handled = CounterMetricFamily(
            "grpc_server_handled", "RPCs finished, by status code.", labels=[*_RPC, "grpc_code"]
        )
        timing = HistogramMetricFamily(
            "grpc_server_handling_seconds",
            "Time from an RPC's start to its status, by status code.",
            labels=[*_RPC, "grpc_code"],
        )
        for labels, figures in finished.items():
            counts = list(itertools.accumulate(figures[:-1]))
            handled.add_metric(labels, counts[-1])
            timing.add_metric(labels, list(zip(_RPC_BOUNDS, counts, strict=True)), figures[-1])
        yield from (started_family, handled, timing)


RPCS = RpcCollector()
REGISTRY.register(RPCS)

# -- Intake's group commit (intake_service/group_commit.py).
COMMIT_WAITING = Gauge(
    "complaints_intake_commit_waiting", "SubmitComplaint calls waiting to share the next transaction."
)

# -- Pipeline stages, observed in pipeline_service/stages.py.
STAGE_SECONDS = Histogram(
    "complaints_pipeline_stage_seconds",
    "Time one complaint spends in a pipeline stage (extract is per document).",
    ("stage",),
    buckets=_SECONDS,
)

# -- Calls to the model endpoint of the llm analyzer.
LLM_OUTCOMES = (
    "ok",
    "timeout",
    "transport_error",
    "rate_limited",
    "server_error",
    "refused",
    "invalid_answer",
    "breaker_open",
    "cancelled",
    "error",
)
LLM_CALLS = Counter(
    "complaints_llm_calls",
    f"Requests to the model endpoint, by outcome ({', '.join(LLM_OUTCOMES)}).",
    ("endpoint", "outcome"),
)
LLM_SECONDS = Histogram(
    "complaints_llm_call_seconds",
    "Time of one request to the model endpoint, retries apart.",
    ("endpoint",),
    buckets=_SECONDS,
)


LLM_TOKENS = Counter(
    "complaints_llm_tokens", "Tokens the model endpoint reported using, by kind (prompt, completion).", ("kind",)
)


def observe_llm_call(endpoint: str, outcome: str, seconds: float | None = None) -> None:
    """One request to the model endpoint: `endpoint` is its path (chat/completions,
    embeddings), `outcome` one of LLM_OUTCOMES; `seconds` when a request was sent."""
    if outcome not in LLM_OUTCOMES:
        raise ValueError(f"unknown LLM call outcome {outcome!r}")
    LLM_CALLS.labels(endpoint, outcome).inc()
    if seconds is not None:
        LLM_SECONDS.labels(endpoint).observe(seconds)


def _on_loop(loop: asyncio.AbstractEventLoop, read: Callable[[], Coroutine[Any, Any, T]]) -> T | None:
    """Runs `read` on the service's event loop; None when the loop does not
    answer in time (a scrape must not hang) or the read fails."""
    try:
        return asyncio.run_coroutine_threadsafe(read(), loop).result(SCRAPE_WAIT_SECONDS)
    except Exception as exc:
        log.warning("metrics read failed", extra={"fields": {"error": repr(exc)[:200]}})
        return None


# psycopg_pool get_stats() keys -> (metric, help). Gauges, then running totals.
_POOL_GAUGES = {
    "pool_min": ("complaints_db_pool_min", "Configured minimum connections."),
    "pool_max": ("complaints_db_pool_max", "Configured maximum connections."),
    "pool_size": ("complaints_db_pool_size", "Connections open or being opened."),
    "pool_available": ("complaints_db_pool_available", "Idle connections ready to lend."),
    "requests_waiting": ("complaints_db_pool_requests_waiting", "Callers waiting for a connection now."),
}
_POOL_COUNTERS = {
    "requests_num": ("complaints_db_pool_requests", "Connections asked of the pool."),
    "requests_queued": ("complaints_db_pool_requests_queued", "Requests that had to wait for a connection."),
    "requests_errors": (
        "complaints_db_pool_requests_errors",
        "Requests that got no connection: timed out (PoolTimeout) or the wait queue was full.",
    ),
    "connections_errors": ("complaints_db_pool_connections_errors", "Failed attempts to open a connection."),
    "connections_lost": ("complaints_db_pool_connections_lost", "Connections found broken and dropped."),
    "returns_bad": ("complaints_db_pool_returns_bad", "Connections returned in a bad state."),
}


class PoolCollector(Collector):
    """The pool's get_stats() at each scrape."""

    def __init__(self, pool: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.pool = pool
        self.loop = loop

    def describe(self) -> Iterator[Metric]:
        # Without describe(), registering would call collect(): a wait for
        # the loop from the loop's own thread, blocking it for a whole
        # SCRAPE_WAIT_SECONDS at every start.
        return self._families({})

    def collect(self) -> Iterator[Metric]:
        async def read() -> dict[str, int]:
            return dict(self.pool.get_stats())

        stats = _on_loop(self.loop, read)
        if stats is not None:
            yield from self._families(stats)

    def _families(self, stats: dict[str, int]) -> Iterator[Metric]:
        for key, (name, text) in _POOL_GAUGES.items():
            yield _one(GaugeMetricFamily(name, text, labels=["pool"]), self.pool.name, stats.get(key, 0))
        for key, (name, text) in _POOL_COUNTERS.items():
            yield _one(CounterMetricFamily(name, text, labels=["pool"]), self.pool.name, stats.get(key, 0))
        yield _one(
            CounterMetricFamily(
                "complaints_db_pool_requests_wait_seconds",
                "Time requests spent waiting for a connection.",
                labels=["pool"],
            ),
            self.pool.name,
            stats.get("requests_wait_ms", 0) / 1000,
        )


class PipelineCollector(Collector):
    """A replica's worker state and the queue depth, read at each scrape.
    `worker` is a pipeline_service Worker; its analyzer's breaker is None for a backend without one."""

    BREAKER_STATES = ("closed", "open", "half_open")

    def __init__(self, worker: Any, queue_depth: Callable[[], Awaitable[int]], loop: asyncio.AbstractEventLoop) -> None:
        self.worker = worker
        self.queue_depth = queue_depth
        self.loop = loop

    def collect(self) -> Iterator[Metric]:
        async def read() -> dict[str, Any]:
            breaker = self.worker.analyzer.breaker
            figures = {
                "in_flight": self.worker.in_flight,
                "capacity": self.worker.capacity,
                "draining": int(self.worker.draining),
                "processed": self.worker.processed_total,
                "failed": self.worker.failed_total,
                "breaker": breaker.state if breaker is not None else None,
            }
            try:
                async with asyncio.timeout(SCRAPE_WAIT_SECONDS / 2):
                    figures["queue_depth"] = await self.queue_depth()
            except Exception:  # database away: the rest still tells something
                figures["queue_depth"] = None
            return figures

        got = _on_loop(self.loop, read)
        if got is not None:
            yield from self._families(got)

    def describe(self) -> Iterator[Metric]:
        # As PoolCollector.describe: registering must not wait for the loop.
        return self._families(
            {
                "in_flight": 0,
                "capacity": 0,
                "draining": 0,
                "processed": 0,
                "failed": 0,
                "queue_depth": 0,
                "breaker": "closed",
            }
        )

    def _families(self, got: dict[str, Any]) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "complaints_pipeline_in_flight", "Complaints this replica is analysing now.", value=got["in_flight"]
        )
        yield GaugeMetricFamily(
            "complaints_pipeline_capacity", "Most complaints this replica analyses at once.", value=got["capacity"]
        )
        yield GaugeMetricFamily(
            "complaints_pipeline_draining", "1 while this replica is shutting down.", value=got["draining"]
        )
        yield CounterMetricFamily(
            "complaints_pipeline_processed", "Complaints this replica committed as PROCESSED.", value=got["processed"]
        )
        yield CounterMetricFamily(
            "complaints_pipeline_failed", "Complaints this replica marked FAILED.", value=got["failed"]
        )
        if got["queue_depth"] is not None:
            yield GaugeMetricFamily(
                "complaints_queue_depth",
                "Complaints waiting as QUEUED, all replicas together (the autoscaling signal).",
                value=got["queue_depth"],
            )
        if got["breaker"] is not None:
            states = GaugeMetricFamily(
                "complaints_llm_breaker_state",
                "Circuit breaker of the model endpoint: 1 on the current state.",
                labels=["state"],
            )
            for state in self.BREAKER_STATES:
                states.add_metric([state], 1 if got["breaker"] == state else 0)
            yield states


def _one(family: Any, label: str, value: float) -> Any:
    family.add_metric([label], value)
    return family


class MetricsServer:
    """The HTTP endpoint, plus the collectors registered for this service's life."""

    def __init__(self, service: str, host: str, port: int) -> None:
        self.service = service
        self.host = host.strip("[]")
        self.wanted_port = port
        self.port = 0
        self._http: WSGIServer | None = None
        self._collectors: list[Collector] = []

    def start(self) -> None:
        port = self.wanted_port
        if port == 0:
            return
        try:
            http, _ = start_http_server(port, addr=self.host)
        except OSError as exc:
            raise SettingsError(
                f"{self.service.upper()}_METRICS_PORT={port}: cannot listen on {self.host}:{port} ({exc.strerror})"
            ) from None
        self._http = http
        self.port = http.server_address[1]
        log.info(
            "metrics listening", extra={"fields": {"event": "metrics_listening", "address": f"{self.host}:{self.port}"}}
        )

    def register(self, collector: Collector) -> None:
        REGISTRY.register(collector)
        self._collectors.append(collector)

    def stop(self) -> None:
        for collector in self._collectors:
            REGISTRY.unregister(collector)
        self._collectors.clear()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
