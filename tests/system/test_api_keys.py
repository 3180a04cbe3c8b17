"""API keys on all three services: one handler wrapper, one role table."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import grpc
import psycopg
import pytest
from google.protobuf import descriptor, message_factory

from complaints.auth import POLICY, required_roles
from complaints.v1 import analytics_pb2, analytics_pb2_grpc, intake_pb2, intake_pb2_grpc, pipeline_pb2, types_pb2
from ops import keys
from ops.supervisor import Supervisor
from tests.helpers import API_KEY, channel, complaint, method_stub, table_counts, wait_until
from tests.sql import scalar

SERVICES = [(intake_pb2, "IntakeService"), (pipeline_pb2, "PipelineService"), (analytics_pb2, "AnalyticsService")]


def address(cluster: Supervisor, service: str) -> str:
    port = {
        "IntakeService": cluster.intake_port,
        "AnalyticsService": cluster.analytics_port,
        "PipelineService": cluster.pipeline_ports[0],
    }[service]
    return f"127.0.0.1:{port}"


def rpcs() -> list[tuple[str, descriptor.MethodDescriptor]]:
    return [(name, m) for module, name in SERVICES for m in module.DESCRIPTOR.services_by_name[name].methods]


def outcome(ch: grpc.Channel, method, metadata=None, requests=None) -> grpc.StatusCode:
    """Calls `method` with `requests` (else an empty request, or none in a
    stream); the status it ends with."""
    if requests is None:
        requests = [] if method.client_streaming else [message_factory.GetMessageClass(method.input_type)()]
    stub = method_stub(ch, method)
    argument = iter(requests) if method.client_streaming else requests[0]
    try:
        if method.server_streaming:
            stream = stub(argument, timeout=30, metadata=metadata)
            for _ in stream:
                stream.cancel()  # one answer shows the call was let in
                return grpc.StatusCode.OK
            return grpc.StatusCode.OK
        stub(argument, timeout=30, metadata=metadata)
        return grpc.StatusCode.OK
    except grpc.RpcError as err:
        return err.code()


@pytest.fixture(scope="module")
def role_keys(cluster) -> dict[str, str]:
    made = {}
    with psycopg.connect(cluster.admin_url, autocommit=True) as conn:
        for role in ("submit", "read", "admin", "dispatch"):
            made[role] = keys.create(conn, f"test {role}", [role])[1]
    return made


@pytest.fixture(scope="module")
def valid_requests(cluster) -> dict[str, list]:
    """A request each RPC answers OK: on an analysed complaint and its case."""
    with channel(address(cluster, "IntakeService")) as ch:
        intake = intake_pb2_grpc.IntakeServiceStub(ch)
        complaint_id = intake.SubmitComplaint(complaint()).complaint_id
        wait_until(
            lambda: (
                intake.GetComplaintStatus(intake_pb2.GetComplaintStatusRequest(complaint_id=complaint_id)).status
                == types_pb2.PROCESSED
            ),
            120,
            "the complaint analysed",
        )
    with channel(address(cluster, "AnalyticsService")) as ch:
        case_id = (
            analytics_pb2_grpc.AnalyticsServiceStub(ch)
            .GetComplaint(analytics_pb2.GetComplaintRequest(complaint_id=complaint_id))
            .complaint.case_id
        )
    return {
        "SubmitComplaint": [complaint()],
        "SubmitComplaints": [complaint()],
        "GetComplaintStatus": [intake_pb2.GetComplaintStatusRequest(complaint_id=complaint_id)],
        "WatchComplaint": [intake_pb2.WatchComplaintRequest(complaint_id=complaint_id)],
        "Dispatch": [pipeline_pb2.DispatchRequest(complaint_id=complaint_id)],
        "GetPipelineStatus": [pipeline_pb2.GetPipelineStatusRequest()],
        "Reprocess": [pipeline_pb2.ReprocessRequest(complaint_id=complaint_id)],
        "GetDashboard": [analytics_pb2.GetDashboardRequest()],
        "WatchDashboard": [analytics_pb2.WatchDashboardRequest()],
        "ListComplaints": [analytics_pb2.ListComplaintsRequest()],
        "GetComplaint": [analytics_pb2.GetComplaintRequest(complaint_id=complaint_id)],
        "ListCases": [analytics_pb2.ListCasesRequest()],
        "GetCase": [analytics_pb2.GetCaseRequest(case_id=case_id)],
        "SearchSimilar": [analytics_pb2.SearchSimilarRequest(text="polis meminta rasuah")],
    }


@pytest.mark.parametrize(("service", "method"), rpcs(), ids=lambda v: getattr(v, "name", v))
def test_every_rpc_refuses_a_missing_unknown_or_malformed_key(cluster, service, method):
    with grpc.insecure_channel(address(cluster, service)) as bare:
        assert outcome(bare, method) == grpc.StatusCode.UNAUTHENTICATED
        assert outcome(bare, method, [("authorization", "Bearer ck_not-a-key")]) == grpc.StatusCode.UNAUTHENTICATED
        assert outcome(bare, method, [("authorization", API_KEY)]) == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize(("service", "method"), rpcs(), ids=lambda v: getattr(v, "name", v))
def test_the_role_matrix_for_every_rpc(cluster, role_keys, valid_requests, service, method):
    needed = required_roles(f"/{method.containing_service.full_name}/{method.name}")
    assert needed, f"{method.name} must not be open"
    for role, key in role_keys.items():
        with channel(address(cluster, service), key) as ch:
            code = outcome(ch, method, requests=valid_requests[method.name])
        # Let in means answered: a valid request gets OK, not merely "not refused".
        expected = grpc.StatusCode.OK if role == "admin" or role in needed else grpc.StatusCode.PERMISSION_DENIED
        assert code == expected, (method.name, role, code)


def test_the_role_table_names_only_known_roles_and_rpcs():
    known = {f"/{m.containing_service.full_name}/{m.name}" for _, m in rpcs()}
    services = {f"/{m.containing_service.full_name}/" for _, m in rpcs()}
    for method, roles in POLICY.items():
        assert method in known or method in services, method
        assert roles <= set(keys.ROLES)
    assert required_roles("/grpc.health.v1.Health/Check") is None
    assert required_roles("/some.Other/Thing") == {"admin"}


def test_a_revoked_key_is_refused_once_its_cache_entry_expires(cluster):
    with psycopg.connect(cluster.admin_url, autocommit=True) as conn:
        key_id, key = keys.create(conn, "soon revoked", ["submit"])
    method = intake_pb2.DESCRIPTOR.services_by_name["IntakeService"].methods_by_name["GetComplaintStatus"]
    with channel(address(cluster, "IntakeService"), key) as ch:
        assert outcome(ch, method) == grpc.StatusCode.INVALID_ARGUMENT  # let in; the empty ID is refused
        with psycopg.connect(cluster.admin_url, autocommit=True) as conn:
            assert keys.revoke(conn, key_id)
        # Once its cache entry (AUTH_CACHE_SECONDS, 2) expires: a deadline that
        # only a hung service would miss, not a measure of speed.
        wait_until(lambda: outcome(ch, method) == grpc.StatusCode.UNAUTHENTICATED, 60, "the revoked key refused")


def test_keys_are_stored_hashed_and_never_logged(cluster):
    with psycopg.connect(cluster.admin_url) as conn:
        rows = conn.execute("SELECT id, name, key_sha256, roles FROM api_keys").fetchall()
    digests = {bytes(r[2]) for r in rows}
    assert hashlib.sha256(API_KEY.encode()).digest() in digests
    assert not any(API_KEY in repr(r) for r in rows)
    assert cluster.logs_dir is not None
    for log in cluster.logs_dir.glob("*.log"):
        text = log.read_text(errors="replace")
        assert API_KEY not in text and cluster.dispatch_key not in text, log.name


def test_the_keys_command_creates_lists_and_revokes(cluster, capsys):
    url = ["--database-url", cluster.admin_url]
    assert keys.main([*url, "create", "--name", "agency-cli", "--roles", "submit,read"]) == 0
    printed = capsys.readouterr().out
    key_id = printed.split("id:")[1].split()[0]
    key = printed.split("key:")[1].split()[0]
    assert keys.main([*url, "list"]) == 0
    listed = capsys.readouterr().out
    assert key_id in listed and "agency-cli" in listed and "read,submit" in listed and key not in listed
    assert keys.main([*url, "revoke", key_id]) == 0
    assert keys.main([*url, "revoke", key_id]) == 1
    with pytest.raises(SystemExit):
        keys.main([*url, "create", "--name", "x", "--roles", "root"])


def test_make_run_keeps_one_development_key_until_it_is_revoked(cluster, tmp_path, monkeypatch):
    monkeypatch.delenv("DEV_API_KEY")

    def started() -> Supervisor:
        sup = Supervisor(datadir=tmp_path, database_url=cluster.admin_url)
        sup.start_database()  # applies nothing new; makes sure of the keys
        return sup

    first = started()
    path = Path(tmp_path / "dev-api-key")
    assert path.read_text().strip() == first.dev_key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert started().dev_key == first.dev_key
    with psycopg.connect(cluster.admin_url, autocommit=True) as conn:
        key_id = scalar(
            conn, "SELECT id FROM api_keys WHERE key_sha256 = %s", (hashlib.sha256(first.dev_key.encode()).digest(),)
        )
        keys.revoke(conn, key_id)
    renewed = started().dev_key
    assert renewed != first.dev_key and path.read_text().strip() == renewed
    method = analytics_pb2.DESCRIPTOR.services_by_name["AnalyticsService"].methods_by_name["GetDashboard"]
    with channel(address(cluster, "AnalyticsService"), renewed) as ch:
        assert outcome(ch, method) == grpc.StatusCode.OK


def test_a_submission_with_the_wrong_role_stores_nothing(cluster, role_keys):
    before = table_counts(cluster.admin_url)
    with channel(address(cluster, "IntakeService"), role_keys["read"]) as ch, pytest.raises(grpc.RpcError) as caught:
        intake_pb2_grpc.IntakeServiceStub(ch).SubmitComplaint(complaint(), timeout=10)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "submit" in caught.value.details()
    assert table_counts(cluster.admin_url) == before
