"""Metrics on each service's own HTTP port, and structured logs that carry the
request and complaint IDs but never a complainant's identity.

One cluster as `make run` starts it, with the llm analyzer against a fake
OpenAI-compatible endpoint (so LLM calls and the breaker are measured) and
DEBUG logs (so every line a service can write is scanned)."""

from __future__ import annotations

import json
import re
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from complaints.metrics import RpcCollector
from complaints.v1 import analytics_pb2, intake_pb2, pipeline_pb2, types_pb2
from ops.fake_llm import FakeLLM, status
from ops.supervisor import Supervisor
from tests.helpers import (
    Clients,
    clients_of,
    complaint,
    metric_value,
    pdf_document,
    running_cluster,
    scrape_metrics,
    wait_until,
)

README = Path(__file__).parents[2] / "README.md"

# Who complains: none of these may appear in a log line or a metric.
IDENTITIES: list[dict[str, Any]] = [
    {
        "name": "Zulkarnain bin Hamidon",
        "id_number": "780912-10-5521",
        "phone": "+60 13-777 4821",
        "email": "zulkarnain.hamidon@contoh.my",
    },
    {
        "name": "Margaret Lim Siew Ling",
        "id_number": "900230-08-6642",
        "phone": "012-998 3310",
        "email": "mlim.whistle@example.org",
    },
    {
        "name": "Arumugam a/l Selvaraj",
        "id_number": "660405-05-1187",
        "phone": "+60195550142",
        "email": "arumugam.s@mail.example.com",
    },
]


@pytest.fixture(scope="module")
def fake_llm() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


@pytest.fixture(scope="module")
def ops(fake_llm: FakeLLM) -> Iterator[Supervisor]:
    with running_cluster(
        "complaints-ops-",
        {
            "LOG_LEVEL": "DEBUG",
            "PIPELINE_SWEEP_SECONDS": "0.2",
            "ANALYTICS_MAX_STALENESS_SECONDS": "0.3",
            "PIPELINE_ANALYZER": "llm",
            "PIPELINE_LLM_BASE_URL": fake_llm.base_url,
            "PIPELINE_LLM_MODEL": "test-model",
            "PIPELINE_LLM_RETRIES": "1",
            "PIPELINE_LLM_RETRY_MAX_WAIT_SECONDS": "0.05",
        },
    ) as sup:
        # Dispatch streams open: submissions go by the fast path, request IDs with them.
        wait_until(lambda: _log_lines(sup, "intake").count("dispatch stream open") == 2, what="dispatch streams")
        yield sup


@pytest.fixture(scope="module")
def clients(ops: Supervisor) -> Iterator[Clients]:
    c = clients_of(ops)
    yield c
    c.close()


@pytest.fixture(scope="module")
def processed(ops: Supervisor, clients: Clients, fake_llm: FakeLLM) -> dict[str, str]:
    """Complaints from known complainants, unary and bulk, with evidence, all
    PROCESSED (the model endpoint failing once and rate limiting once on the
    way); plus refused ones whose bad fields hold identity. Returns request
    ID -> complaint ID for the unary submissions."""
    fake_llm.script("analysis", status(503), status(429, retry_after=0))
    by_request = {}
    for who in IDENTITIES:
        request_id = f"ops-{uuid.uuid4().hex}"
        reply = clients.intake.SubmitComplaint(
            complaint(
                complainant=intake_pb2.Complainant(**who),
                description=f"Saya, {who['name']} ({who['phone']}), melaporkan pegawai JPJ meminta rasuah RM500.",
                documents=[intake_pb2.Document(filename="resit.pdf", content=pdf_document(f"Resit {who['name']}"))],
            ),
            metadata=[("x-request-id", request_id)],
        )
        by_request[request_id] = reply.complaint_id
    bulk = [
        complaint(complainant=intake_pb2.Complainant(**who), description=f"Tender dimanipulasi; hubungi {who['email']}")
        for who in IDENTITIES
    ]
    answers = list(clients.intake.SubmitComplaints(iter(bulk)))
    assert all(a.complaint_id and not a.HasField("error") for a in answers)
    for who in IDENTITIES:  # refused: the bad value is identity itself
        with pytest.raises(grpc.RpcError) as refused:
            clients.intake.SubmitComplaint(
                complaint(
                    complainant=intake_pb2.Complainant(
                        name=who["name"], id_number=who["id_number"] + "9", email=who["email"] + "@"
                    )
                )
            )
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    ids = [*by_request.values(), *(a.complaint_id for a in answers)]

    def all_processed() -> bool:
        states = [
            clients.intake.GetComplaintStatus(intake_pb2.GetComplaintStatusRequest(complaint_id=i)).status for i in ids
        ]
        return all(s == types_pb2.PROCESSED for s in states)

    wait_until(all_processed, timeout=60, what="every complaint PROCESSED")
    clients.analytics.GetDashboard(analytics_pb2.GetDashboardRequest())
    return by_request


def _log_lines(sup: Supervisor, name: str) -> str:
    assert sup.logs_dir is not None  # running_cluster logs each service to a file
    path = sup.logs_dir / f"{name}.log"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def test_each_service_serves_prometheus_metrics_on_its_own_port(ops, processed):
    ports = {child.metrics_port for child in ops.children.values()}
    assert len(ports) == len(ops.children) == 4
    for child in ops.children.values():
        samples = scrape_metrics(child.metrics_url)
        pool = child.name.split("-")[0]
        # Pool figures straight from psycopg_pool's get_stats().
        for name in (
            "complaints_db_pool_size",
            "complaints_db_pool_available",
            "complaints_db_pool_max",
            "complaints_db_pool_requests_waiting",
            "complaints_db_pool_requests_errors_total",
            "complaints_db_pool_requests_total",
        ):
            assert (name, frozenset({("pool", pool)})) in samples, (child.name, name)
        assert metric_value(samples, "complaints_db_pool_size", pool=pool) >= 1
        assert metric_value(samples, "complaints_db_pool_requests_total", pool=pool) >= 1


def test_a_service_start_does_not_wait_for_its_own_event_loop(ops, processed):
    # Registering a collector without describe() makes prometheus_client call
    # collect() on the event loop's own thread, which then waits for that
    # loop until SCRAPE_WAIT_SECONDS pass: each start stalled and logged this.
    for child in ops.children.values():
        assert '"metrics read failed"' not in _log_lines(ops, child.name), child.name


def test_rpcs_are_counted_and_timed_by_method_and_status_code(ops, clients, processed):
    unknown = str(uuid.uuid4())
    with pytest.raises(grpc.RpcError) as missing:
        clients.intake.GetComplaintStatus(intake_pb2.GetComplaintStatusRequest(complaint_id=unknown))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as refused:
        clients.analytics.GetDashboard(analytics_pb2.GetDashboardRequest(), metadata=[("authorization", "Bearer nope")])
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED

    intake = scrape_metrics(ops.children["intake"].metrics_url)
    service = "complaints.v1.IntakeService"
    assert metric_value(
        intake,
        "grpc_server_handled_total",
        grpc_service=service,
        grpc_method="SubmitComplaint",
        grpc_code="OK",
        grpc_type="unary",
    ) == len(IDENTITIES)
    assert metric_value(
        intake, "grpc_server_handled_total", grpc_method="SubmitComplaint", grpc_code="INVALID_ARGUMENT"
    ) == len(IDENTITIES)
    assert (
        metric_value(
            intake, "grpc_server_handled_total", grpc_method="SubmitComplaints", grpc_code="OK", grpc_type="bidi_stream"
        )
        == 1
    )
    assert (
        metric_value(intake, "grpc_server_handled_total", grpc_method="GetComplaintStatus", grpc_code="NOT_FOUND") == 1
    )
    assert (
        metric_value(intake, "grpc_server_handling_seconds_count", grpc_method="SubmitComplaint", grpc_code="OK") == 3
    )
    assert metric_value(intake, "grpc_server_handling_seconds_sum", grpc_method="SubmitComplaint", grpc_code="OK") > 0
    assert metric_value(intake, "grpc_server_started_total", grpc_method="SubmitComplaint") == 2 * len(IDENTITIES)

    analytics = scrape_metrics(ops.children["analytics"].metrics_url)
    assert (
        metric_value(analytics, "grpc_server_handled_total", grpc_method="GetDashboard", grpc_code="UNAUTHENTICATED")
        == 1
    )
    dashboards = metric_value(analytics, "grpc_server_handled_total", grpc_method="GetDashboard", grpc_code="OK")
    assert dashboards >= 1
    # Every RPC counted is in the histogram, in the +Inf bucket and in _count.
    ok = {"grpc_method": "GetDashboard", "grpc_code": "OK"}
    assert metric_value(analytics, "grpc_server_handling_seconds_count", **ok) == dashboards
    assert metric_value(analytics, "grpc_server_handling_seconds_bucket", le="+Inf", **ok) == dashboards
    assert metric_value(analytics, "grpc_server_started_total", grpc_method="GetDashboard") >= dashboards + 1
    # Health and reflection register through the same wrapping as the services
    # (complaints/service_server.py): the supervisor's readiness checks are counted.
    assert (
        metric_value(
            analytics,
            "grpc_server_handled_total",
            grpc_service="grpc.health.v1.Health",
            grpc_method="Check",
            grpc_code="OK",
        )
        >= 1
    )


def test_rpc_figures_land_in_their_buckets_and_add_up_over_servers():
    # The same method served by two servers in one process: one series.
    collector = RpcCollector()
    one, two = collector.record("s.S", "M", "unary"), collector.record("s.S", "M", "unary")
    one.started, two.started = 2, 1
    one.finished("OK", 0.001)  # on a bound: in that bucket (le is "at most")
    two.finished("OK", 0.003)
    one.finished("NOT_FOUND", 500.0)  # past the last bound: +Inf only
    registry = CollectorRegistry()
    registry.register(collector)
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
    }
    assert metric_value(samples, "grpc_server_started_total", grpc_service="s.S", grpc_method="M") == 3
    assert metric_value(samples, "grpc_server_handled_total", grpc_code="OK", grpc_type="unary") == 2
    assert metric_value(samples, "grpc_server_handled_total", grpc_code="NOT_FOUND") == 1
    ok = {"grpc_code": "OK"}
    assert [
        metric_value(samples, "grpc_server_handling_seconds_bucket", le=le, **ok)
        for le in ("0.001", "0.0025", "0.005", "+Inf")
    ] == [1, 1, 2, 2]
    assert metric_value(samples, "grpc_server_handling_seconds_count", **ok) == 2
    assert metric_value(samples, "grpc_server_handling_seconds_sum", **ok) == pytest.approx(0.004)
    late = {"grpc_code": "NOT_FOUND"}
    assert metric_value(samples, "grpc_server_handling_seconds_bucket", le="120.0", **late) == 0
    assert metric_value(samples, "grpc_server_handling_seconds_bucket", le="+Inf", **late) == 1


def test_pipeline_replicas_export_work_queue_stages_llm_calls_and_breaker(ops, clients, processed):
    replicas = [scrape_metrics(ops.children[f"pipeline-{i}"].metrics_url) for i in range(2)]
    total = len(IDENTITIES) * 2
    assert sum(metric_value(r, "complaints_pipeline_processed_total") for r in replicas) == total
    for samples in replicas:
        assert metric_value(samples, "complaints_pipeline_capacity") == 64
        assert ("complaints_pipeline_in_flight", frozenset()) in samples
        assert ("complaints_queue_depth", frozenset()) in samples
        assert metric_value(samples, "complaints_llm_breaker_state", state="closed") == 1
        assert metric_value(samples, "complaints_llm_breaker_state", state="open") == 0
        # Dispatch streams are counted like any RPC.
        assert metric_value(samples, "grpc_server_started_total", grpc_method="Dispatch") >= 1
    for stage in ("extract", "analyse"):
        assert sum(metric_value(r, "complaints_pipeline_stage_seconds_count", stage=stage) for r in replicas) >= (
            len(IDENTITIES) if stage == "extract" else total
        ), stage
    # A queue depth that moves: nothing waits once everything is processed.
    assert all(metric_value(r, "complaints_queue_depth") == 0 for r in replicas)
    reply = clients.pipelines[0].GetPipelineStatus(pipeline_pb2.GetPipelineStatusRequest())
    assert reply.llm_breaker_state == "closed"
    # Every request to the model endpoint, by outcome; the failed ones were retried.
    calls = "complaints_llm_calls_total"
    assert sum(metric_value(r, calls, endpoint="chat/completions", outcome="ok") for r in replicas) >= total
    assert sum(metric_value(r, calls, outcome="server_error") for r in replicas) == 1
    assert sum(metric_value(r, calls, outcome="rate_limited") for r in replicas) == 1
    assert (
        sum(metric_value(r, "complaints_llm_call_seconds_count", endpoint="chat/completions") for r in replicas)
        >= total
    )
    # One structured call per complaint, and the tokens the endpoint reported.
    assert sum(metric_value(r, "complaints_llm_tokens_total", kind="prompt") for r in replicas) > 0


def test_every_exported_metric_is_documented_in_the_readme(ops, processed):
    documented = set(re.findall(r"`([a-z_]+)`", README.read_text(encoding="utf-8")))
    exported = set()
    for child in ops.children.values():
        with urllib.request.urlopen(child.metrics_url, timeout=10) as reply:
            families = text_string_to_metric_families(reply.read().decode())
            exported |= {f.name for f in families if not f.name.startswith(("python_", "process_"))}
    assert exported, "no metric scraped"
    missing = sorted(name for name in exported if name not in documented and f"{name}_total" not in documented)
    assert not missing, f"metrics not listed in README: {missing}"


def _identity_strings() -> list[str]:
    found = []
    for who in IDENTITIES:
        found += [
            who["name"],
            who["email"],
            who["id_number"],
            who["id_number"].replace("-", ""),
            who["phone"],
            re.sub(r"\D", "", who["phone"]),
        ]
    return found


def test_no_complainant_identity_in_any_metric(ops, processed):
    for child in ops.children.values():
        with urllib.request.urlopen(child.metrics_url, timeout=10) as reply:
            text = reply.read().decode()
        for value in _identity_strings():
            assert value not in text, (child.name, value)


def test_every_log_line_is_json_and_none_holds_a_complainants_identity(ops, processed):
    lines = 0
    for path in sorted(ops.logs_dir.glob("*.log")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)  # one JSON object per line, nothing else
            assert {"ts", "level", "service", "msg"} <= record.keys(), line
            lines += 1
            for value in _identity_strings():
                assert value not in line, (path.name, value)
    assert lines > 50  # DEBUG logs of a full run: there was something to scan


def test_the_request_id_is_carried_from_intake_to_the_pipeline_with_the_complaint_id(ops, processed):
    intake = [json.loads(line) for line in _log_lines(ops, "intake").splitlines()]
    pipeline = [
        json.loads(line) for name in ("pipeline-0", "pipeline-1") for line in _log_lines(ops, name).splitlines()
    ]
    for request_id, complaint_id in processed.items():
        answered = [r for r in intake if r.get("request_id") == request_id and r.get("event") == "rpc"]
        assert [(r["method"], r["code"], r["complaint_id"]) for r in answered] == [
            ("/complaints.v1.IntakeService/SubmitComplaint", "OK", complaint_id)
        ]
        handed = [r for r in pipeline if r.get("request_id") == request_id]
        assert handed and all(r["complaint_id"] == complaint_id for r in handed), request_id
        assert any(r["msg"] == "complaint dispatched" for r in handed)
    # A caller without an x-request-id gets one made up, on every line of its RPC.
    assert all(r.get("request_id") for r in intake if r.get("event") == "rpc")
