"""Shared test tools: waiting on conditions with a deadline, and clients."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import secrets
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Literal, TypeVar

import grpc
import psycopg
from google.protobuf import descriptor, message_factory
from prometheus_client.parser import text_string_to_metric_families

from complaints.auth import bearer
from complaints.v1 import analytics_pb2_grpc, intake_pb2, intake_pb2_grpc, pipeline_pb2_grpc
from ops.embedded_pg import free_port
from ops.supervisor import Supervisor
from tests.sql import scalar

T = TypeVar("T")

# Every Supervisor started by the tests stores this key (roles submit, read,
# admin) as its development key, and every channel below presents it.
API_KEY = os.environ.setdefault("DEV_API_KEY", "ck_test_" + secrets.token_urlsafe(32))


def wait_until(check: Callable[[], T | Literal[False] | None], timeout: float = 30, what: str = "condition") -> T:
    """Polls `check` until it returns something truthy; fails at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value {value!r}")
        time.sleep(0.05)


async def eventually(
    check: Callable[[], Awaitable[T | Literal[False] | None]], timeout: float = 30, what: str = "condition"
) -> T:
    """Awaits `check()` until it returns something truthy; fails at the deadline."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value {value!r}")
        await asyncio.sleep(0.02)


def complaint(**overrides: Any) -> intake_pb2.SubmitComplaintRequest:
    fields: dict[str, Any] = dict(
        idempotency_key=str(uuid.uuid4()),
        source_system="test-suite",
        channel="web",
        subject="Rasuah di sekatan jalan",
        description="Seorang anggota polis di sekatan jalan meminta wang RM300 supaya saman dibatalkan.",
        incident_date="2026-01-15",
        location="Cheras, Kuala Lumpur",
    )
    fields.update(overrides)
    return intake_pb2.SubmitComplaintRequest(**fields)


def scrape_metrics(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """A service's /metrics: (sample name, labels) -> value."""
    with urllib.request.urlopen(url, timeout=10) as reply:
        text = reply.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def metric_value(samples, name: str, **labels: str) -> float:
    """Sum of `name` over the samples whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def table_counts(url: str) -> dict[str, int]:
    """Rows in the tables intake writes. Not analyses: a running pipeline may
    still be adding those for earlier tests' complaints, which would make
    "nothing was stored" checks fail on a slow machine."""
    with psycopg.connect(url) as conn:
        return {t: scalar(conn, f"SELECT count(*) FROM {t}") for t in ("complaints", "complainants", "documents")}


def with_key(metadata, key: str):
    """`metadata` plus the bearer key, unless the call brings its own."""
    pairs = list(metadata or ())
    if not any(k == "authorization" for k, _ in pairs):
        pairs.extend(bearer(key))
    return pairs


class _Details(
    collections.namedtuple(
        "_Details", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")
    ),
    grpc.ClientCallDetails,
):
    pass


class _Key(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    def __init__(self, key: str) -> None:
        self.key = key

    def _details(self, d):
        return _Details(
            d.method, d.timeout, with_key(d.metadata, self.key), d.credentials, d.wait_for_ready, d.compression
        )

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._details(details), request)

    intercept_unary_stream = intercept_stream_unary = intercept_stream_stream = intercept_unary_unary


class _AioKey:
    def __init__(self, key: str) -> None:
        self.key = key

    async def _call(self, continuation, details, request):
        return await continuation(
            details._replace(metadata=grpc.aio.Metadata(*with_key(details.metadata, self.key))), request
        )


# grpc.aio files an interceptor under the first of the four kinds it is, so one per kind.
class _AioKeyUnaryUnary(_AioKey, grpc.aio.UnaryUnaryClientInterceptor):
    intercept_unary_unary = _AioKey._call


class _AioKeyUnaryStream(_AioKey, grpc.aio.UnaryStreamClientInterceptor):
    intercept_unary_stream = _AioKey._call


class _AioKeyStreamUnary(_AioKey, grpc.aio.StreamUnaryClientInterceptor):
    intercept_stream_unary = _AioKey._call


class _AioKeyStreamStream(_AioKey, grpc.aio.StreamStreamClientInterceptor):
    intercept_stream_stream = _AioKey._call


def channel(address: str, key: str = API_KEY) -> grpc.Channel:
    """A client channel to one of our services; every test and benchmark makes
    its channels here, so credentials and limits are set in one place. Each
    call presents `key` unless it passes its own authorization metadata."""
    return grpc.intercept_channel(grpc.insecure_channel(address), _Key(key))


def aio_channel(address: str, key: str = API_KEY) -> grpc.aio.Channel:
    """The asyncio twin of `channel`."""
    kinds = (_AioKeyUnaryUnary, _AioKeyUnaryStream, _AioKeyStreamUnary, _AioKeyStreamStream)
    return grpc.aio.insecure_channel(address, interceptors=[kind(key) for kind in kinds])


class Clients:
    def __init__(self, intake: str, analytics: str, pipelines: list[str]) -> None:
        self._channels = [channel(a) for a in (intake, analytics, *pipelines)]
        self.intake = intake_pb2_grpc.IntakeServiceStub(self._channels[0])
        self.analytics = analytics_pb2_grpc.AnalyticsServiceStub(self._channels[1])
        self.pipelines = [pipeline_pb2_grpc.PipelineServiceStub(c) for c in self._channels[2:]]

    def close(self) -> None:
        for channel in self._channels:
            channel.close()


def pdf_document(text: str, min_bytes: int = 0) -> bytes:
    """A real text PDF (fpdf2) that says `text`, with as many pages as it
    takes to reach `min_bytes`."""
    from fpdf import FPDF

    def build(pages: int) -> bytes:
        pdf = FPDF()
        pdf.set_compression(False)
        pdf.set_font("helvetica", size=10)
        for _ in range(pages):
            pdf.add_page()
            pdf.multi_cell(0, 5, text)
        return bytes(pdf.output())

    pages = 1
    while len(data := build(pages)) < min_bytes:
        pages = max(pages + 1, pages * min_bytes // len(data))
    return data


def realtime_allowed() -> bool:
    """Whether processes started here may take a real-time CPU priority
    (root, CAP_SYS_NICE or an RLIMIT_RTPRIO of 1 or more): asked of one."""
    return subprocess.run(["chrt", "--rr", "1", "true"], capture_output=True, check=False).returncode == 0


# Clusters running now, so a failing test's report can show their services' logs (conftest.py).
RUNNING: list[Supervisor] = []


@contextlib.contextmanager
def running_cluster(
    prefix: str,
    env: dict[str, str],
    replicas: int = 2,
    *,
    gateway: bool = False,
    cpu_priorities: dict[str, str] | None = None,
    services: bool = True,
    pipelines: bool = True,
) -> Iterator[Supervisor]:
    """PostgreSQL, intake, analytics and `replicas` pipeline replicas (and with
    `gateway`, Envoy in front of analytics), as `make run` starts them, on free
    loopback ports with `env` on top; stopped (by PID) at the end. The only
    way tests start the system. Without `services`, PostgreSQL alone (with
    migrations and keys), for services run in the test's process
    (in_process_env); without `pipelines`, no replica runs at first but intake
    targets all `replicas` ports (Supervisor.start_pipeline starts one)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        root = Path(tmp)
        sup = Supervisor(
            datadir=root,
            intake_port=free_port(),
            analytics_port=free_port(),
            pipeline_ports=[free_port() for _ in range(replicas)],
            pg_port=free_port(),
            gateway_port=free_port() if gateway else 0,
            durable=False,
            logs_dir=root,
            extra_env=env,
            cpu_priorities=cpu_priorities or {},
        )
        RUNNING.append(sup)
        try:
            sup.start_database()
            if services:
                sup.start_services(pipelines=pipelines)
            yield sup
        finally:
            RUNNING.remove(sup)
            sup.stop()


def in_process_env(sup: Supervisor, service: str, **env: str) -> dict[str, str]:
    """The variables a service's Settings.from_env reads to run in this process
    against `sup`'s database, bound to port 0 (App.running picks a free one),
    with `env` on top."""
    prefix = service.upper()
    return {f"{prefix}_DATABASE_URL": sup.url(service), f"{prefix}_BIND": "127.0.0.1:0", **env}


def clients_of(sup: Supervisor) -> Clients:
    return Clients(
        f"127.0.0.1:{sup.intake_port}",
        f"127.0.0.1:{sup.analytics_port}",
        [f"127.0.0.1:{p}" for p in sup.pipeline_ports],
    )


def method_stub(ch: grpc.Channel, method: descriptor.MethodDescriptor) -> Any:
    """A stub for any method of any service, by its descriptor, in the
    calling form its streaming kinds ask for."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    out = message_factory.GetMessageClass(method.output_type)
    kind = {
        (False, False): ch.unary_unary,
        (False, True): ch.unary_stream,
        (True, False): ch.stream_unary,
        (True, True): ch.stream_stream,
    }[(method.client_streaming, method.server_streaming)]
    return kind(path, request_serializer=lambda m: m.SerializeToString(), response_deserializer=out.FromString)
