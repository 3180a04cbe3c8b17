"""Intake throughput on this machine: the bulk stream without documents and
with a 200 KB PDF each, and unary submissions from 16 concurrent clients.

Intake, analytics and PostgreSQL run as `make run` starts them (Supervisor,
free loopback ports), without pipeline replicas, so the figures are intake's
own: the complaints stay QUEUED. Run twice: PostgreSQL durable (fsync on, as
`make run` runs it: the headline) and without fsync. Target: 1,000 complaints/s over the stream
without documents.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import grpc

from bench.percentiles import p50_p99_ms
from complaints.auth import bearer
from complaints.v1 import intake_pb2, intake_pb2_grpc
from ops.embedded_pg import free_port
from ops.supervisor import Supervisor
from tests.helpers import complaint, pdf_document

STREAM_COMPLAINTS = 5_000
PDF_COMPLAINTS = 300
UNARY_COMPLAINTS = 2_000
UNARY_CLIENTS = 16
TARGET_PER_SECOND = 1_000


def _requests(
    n: int, run: str, documents: list[intake_pb2.Document] | None = None
) -> list[intake_pb2.SubmitComplaintRequest]:
    return [complaint(idempotency_key=f"{run}-{i}", source_system="bench", documents=documents or []) for i in range(n)]


async def _stream(stub: intake_pb2_grpc.IntakeServiceStub, requests: list, metadata) -> float:
    """Complaints per second over one SubmitComplaints stream; every answer checked."""
    started = time.perf_counter()
    answered = 0
    async for reply in stub.SubmitComplaints(iter(requests), metadata=metadata, timeout=600):
        if reply.HasField("error") or reply.duplicate or reply.index != answered:
            raise RuntimeError(f"unexpected answer: {reply}")
        answered += 1
    elapsed = time.perf_counter() - started
    if answered != len(requests):
        raise RuntimeError(f"{answered} answers for {len(requests)} requests")
    return len(requests) / elapsed


async def _unary(stub: intake_pb2_grpc.IntakeServiceStub, requests: list, metadata) -> dict[str, float]:
    latencies: list[float] = []
    queue = iter(requests)

    async def client() -> None:
        for request in queue:
            t0 = time.perf_counter()
            await stub.SubmitComplaint(request, metadata=metadata, timeout=60)
            latencies.append(time.perf_counter() - t0)

    started = time.perf_counter()
    await asyncio.gather(*[client() for _ in range(UNARY_CLIENTS)])
    elapsed = time.perf_counter() - started
    p50, p99 = p50_p99_ms(latencies, digits=2)
    return {"per_second": round(len(requests) / elapsed, 1), "p50_ms": p50, "p99_ms": p99}


async def _measure(sup: Supervisor) -> dict[str, object]:
    metadata = bearer(sup.dev_key)
    pdf = pdf_document("Saya ingin melaporkan pegawai yang meminta wang RM5,000. " * 40, 200 * 1024)
    evidence = [intake_pb2.Document(filename="evidence.pdf", content_type="application/pdf", content=pdf)]
    run = uuid.uuid4().hex[:8]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{sup.intake_port}") as channel:
        stub = intake_pb2_grpc.IntakeServiceStub(channel)
        await _stream(stub, _requests(200, f"{run}-warm"), metadata)
        print(f"[bench] intake: stream of {STREAM_COMPLAINTS} without documents", flush=True)
        plain = await _stream(stub, _requests(STREAM_COMPLAINTS, f"{run}-plain"), metadata)
        print(f"[bench] intake: stream of {PDF_COMPLAINTS} with a {len(pdf) // 1024} KB PDF each", flush=True)
        with_pdf = await _stream(stub, _requests(PDF_COMPLAINTS, f"{run}-pdf", evidence), metadata)
        print(f"[bench] intake: {UNARY_COMPLAINTS} unary submissions from {UNARY_CLIENTS} clients", flush=True)
        unary = await _unary(stub, _requests(UNARY_COMPLAINTS, f"{run}-unary"), metadata)
    return {
        "stream_no_documents_per_second": round(plain, 1),
        "stream_no_documents_vs_target": round(plain / TARGET_PER_SECOND, 2),
        "stream_pdf_per_second": round(with_pdf, 1),
        "stream_pdf_mib_per_second": round(with_pdf * len(pdf) / 2**20, 1),
        "pdf_bytes": len(pdf),
        "unary_clients": UNARY_CLIENTS,
        "unary_per_second": unary["per_second"],
        "unary_p50_ms": unary["p50_ms"],
        "unary_p99_ms": unary["p99_ms"],
        "unary_vs_stream": round(unary["per_second"] / plain, 2),
        "counts": {"stream": STREAM_COMPLAINTS, "pdf": PDF_COMPLAINTS, "unary": UNARY_COMPLAINTS},
    }


def _once(durable: bool) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp:
        root = Path(tmp)
        sup = Supervisor(
            datadir=root,
            intake_port=free_port(),
            analytics_port=free_port(),
            pipeline_ports=[free_port()],
            pg_port=free_port(),
            durable=durable,
            logs_dir=root,
        )
        try:
            sup.start_database()
            sup.start_services(pipelines=False)
            return asyncio.run(_measure(sup))
        finally:
            sup.stop()


def run() -> dict[str, object]:
    """Durable (fsync on, as make run runs PostgreSQL) is the headline; without fsync for comparison."""
    return {"durable": _once(True), "no_fsync": _once(False)}


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
