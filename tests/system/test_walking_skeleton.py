"""The whole path, end to end, on real servers and a real PostgreSQL."""

from __future__ import annotations

import grpc
import psycopg
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from complaints.v1 import analytics_pb2, intake_pb2, types_pb2
from tests.helpers import complaint, table_counts, wait_until


def field_violations(err: grpc.RpcError) -> dict[str, str]:
    status = rpc_status.from_call(err)
    assert status is not None, "the error carries no google.rpc.Status"
    found = {}
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            found.update({v.field: v.description for v in bad.field_violations})
    return found


def test_a_submitted_complaint_is_processed_and_counted_by_the_dashboard(cluster, clients):
    before = clients.analytics.GetDashboard(analytics_pb2.GetDashboardRequest()).summary

    reply = clients.intake.SubmitComplaint(complaint())
    assert reply.status == types_pb2.QUEUED
    assert not reply.duplicate

    status = wait_until(
        lambda: (
            (
                s := clients.intake.GetComplaintStatus(
                    intake_pb2.GetComplaintStatusRequest(complaint_id=reply.complaint_id)
                )
            ).status
            == types_pb2.PROCESSED
            and s
        ),
        what="PROCESSED",
    )
    assert status.attempts == 1
    assert status.stage == "done"

    after = wait_until(
        lambda: (
            (d := clients.analytics.GetDashboard(analytics_pb2.GetDashboardRequest()).summary).processed
            >= before.processed + 1
            and d
        ),
        what="dashboard to count the complaint",
    )
    assert after.total >= before.total + 1
    dashboard = clients.analytics.GetDashboard(analytics_pb2.GetDashboardRequest())
    assert "BRIBERY" in {c.key for c in dashboard.categories}
    assert "LAW_ENFORCEMENT" in {s.key for s in dashboard.sectors}

    with psycopg.connect(cluster.admin_url) as conn:
        row = conn.execute(
            "SELECT category, sector, acts, vector_dims(embedding) FROM analyses WHERE complaint_id = %s",
            (reply.complaint_id,),
        ).fetchone()
    assert row is not None
    assert row[0] == "BRIBERY" and row[1] == "LAW_ENFORCEMENT"
    assert "MACC Act 2009 s.16" in row[2]
    assert row[3] == 384


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"description": ""}, "description"),
        ({"description": "   "}, "description"),
    ],
)
def test_a_complaint_without_key_or_description_is_refused_and_nothing_is_stored(cluster, clients, overrides, field):
    before = table_counts(cluster.admin_url)
    with pytest.raises(grpc.RpcError) as caught:
        clients.intake.SubmitComplaint(complaint(**overrides))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(caught.value)
    assert field in caught.value.details()
    assert table_counts(cluster.admin_url) == before


def test_every_service_reports_serving(cluster):
    addresses = {
        "complaints.v1.IntakeService": [f"127.0.0.1:{cluster.intake_port}"],
        "complaints.v1.AnalyticsService": [f"127.0.0.1:{cluster.analytics_port}"],
        "complaints.v1.PipelineService": [f"127.0.0.1:{p}" for p in cluster.pipeline_ports],
    }
    for service, targets in addresses.items():
        for target in targets:
            with grpc.insecure_channel(target) as channel:
                stub = health_pb2_grpc.HealthStub(channel)
                for name in ("", service):
                    reply = stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
                    assert reply.status == health_pb2.HealthCheckResponse.SERVING, (target, name)


def test_reflection_lists_each_service(cluster):
    with grpc.insecure_channel(f"127.0.0.1:{cluster.intake_port}") as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = {s.name for r in replies for s in r.list_services_response.service}
    assert {"complaints.v1.IntakeService", "grpc.health.v1.Health"} <= names


def test_a_repeated_key_returns_the_original_id(clients):
    request = complaint()
    first = clients.intake.SubmitComplaint(request)
    again = clients.intake.SubmitComplaint(request)
    assert again.duplicate and again.complaint_id == first.complaint_id


def test_an_unknown_complaint_id_is_not_found(clients):
    with pytest.raises(grpc.RpcError) as caught:
        clients.intake.GetComplaintStatus(
            intake_pb2.GetComplaintStatusRequest(complaint_id="00000000-0000-0000-0000-000000000000")
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as caught:
        clients.intake.GetComplaintStatus(intake_pb2.GetComplaintStatusRequest(complaint_id="nope"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_migrations_are_recorded_and_applied_once(cluster):
    from ops import migrate

    assert migrate.apply(cluster.admin_url) == []
    with psycopg.connect(cluster.admin_url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == [v for v, _, _ in migrate.available()]
