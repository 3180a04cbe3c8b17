"""The officers' gateway: every AnalyticsService RPC has a google.api.http
rule whose path variables are fields of its request, the descriptor set that
`make gen` builds is complete (every import included, as Envoy's gRPC-JSON
transcoder and grpc-gateway load it), and the real Envoy that `make run`
starts (complaints/gateway.py) answers REST, streams the watch, speaks
grpc-web and plain gRPC, maps errors to HTTP codes with the gRPC status in
the body, passes the caller's key on, and serves the dashboard page."""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2, descriptor_pool, json_format

from complaints import gateway
from complaints.v1 import analytics_pb2, analytics_pb2_grpc
from ops.embedded_pg import free_port
from tests.helpers import API_KEY, complaint, metric_value, scrape_metrics, wait_until

ROOT = Path(__file__).resolve().parents[2]
DESCRIPTORS = ROOT / "complaints" / "v1" / "complaints.pb"
SERVICE = "complaints.v1.AnalyticsService"


@pytest.fixture(scope="module")
def descriptor_set() -> descriptor_pb2.FileDescriptorSet:
    return descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTORS.read_bytes())


def test_the_descriptor_set_is_complete(descriptor_set):
    names = [f.name for f in descriptor_set.file]
    for f in descriptor_set.file:
        assert set(f.dependency) <= set(names), f.name
    # Loading it alone, as a gateway does, resolves every type.
    pool = descriptor_pool.DescriptorPool()
    for f in descriptor_set.file:
        pool.Add(f)
    assert {m.name for m in pool.FindServiceByName(SERVICE).methods} >= {
        "GetDashboard",
        "ListComplaints",
        "GetComplaint",
        "ListCases",
        "GetCase",
        "SearchSimilar",
        "WatchDashboard",
    }


def test_every_analytics_rpc_has_an_http_rule_that_fits_its_request(descriptor_set):
    files = {f.name: f for f in descriptor_set.file}
    analytics = files["complaints/v1/analytics.proto"]
    messages = {f".{f.package}.{m.name}": m for f in descriptor_set.file for m in f.message_type}
    [service] = [s for s in analytics.service if s.name == "AnalyticsService"]
    routes = set()
    for method in service.method:
        rule = method.options.Extensions[annotations_pb2.http]
        verb = rule.WhichOneof("pattern")
        assert verb in ("get", "post"), method.name
        path = getattr(rule, verb)
        assert path.startswith("/v1/"), path
        routes.add((verb, path))
        request = messages[method.input_type]
        fields = {f.name: f for f in request.field}
        for variable in re.findall(r"{(\w+)}", path):
            assert fields[variable].type == descriptor_pb2.FieldDescriptorProto.TYPE_STRING, (method.name, variable)
        if verb == "get":
            assert not rule.body, f"{method.name}: a GET has no body"
        else:
            assert rule.body == "*"
    assert len(routes) == len(service.method), "two RPCs share a route"


def test_the_gateway_config_transcodes_the_service_from_that_descriptor_set():
    config = gateway.config("127.0.0.1:8080", "analytics:50052")
    [listener] = config["static_resources"]["listeners"]
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    filters = [f["name"] for f in manager["http_filters"]]
    assert filters == [
        "envoy.filters.http.grpc_web",
        "envoy.filters.http.grpc_json_transcoder",
        "envoy.filters.http.router",
    ]
    transcoder = manager["http_filters"][1]["typed_config"]
    assert transcoder["services"] == [SERVICE] and Path(transcoder["proto_descriptor"]) == DESCRIPTORS
    [cluster] = config["static_resources"]["clusters"]
    assert cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"] == {
        "socket_address": {"address": "analytics", "port_value": 50052}
    }


@pytest.fixture(scope="module")
def http(stack) -> Iterator[httpx.Client]:
    sup, _ = stack
    with httpx.Client(
        base_url=f"http://127.0.0.1:{sup.gateway_port}", timeout=10, headers={"authorization": f"Bearer {API_KEY}"}
    ) as client:
        yield client


def processed(stack, count: int) -> list[str]:
    _, clients = stack
    ids = [clients.intake.SubmitComplaint(complaint(), timeout=10).complaint_id for _ in range(count)]
    wait_until(
        lambda: all(
            clients.analytics.GetComplaint(
                analytics_pb2.GetComplaintRequest(complaint_id=i), timeout=5
            ).complaint.status
            == 3
            for i in ids
        ),
        timeout=90,
        what="complaints processed",
    )
    return ids


def dashboard_of(stack) -> dict:
    _, clients = stack
    answer = clients.analytics.GetDashboard(analytics_pb2.GetDashboardRequest(), timeout=5)
    return json_format.MessageToDict(
        answer, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def test_rest_reads_answer_what_grpc_answers(stack, http):
    [cid] = processed(stack, 1)
    got = http.get("/v1/dashboard")
    assert got.status_code == 200 and got.headers["content-type"] == "application/json"
    wait_until(
        lambda: http.get("/v1/dashboard").json()["summary"] == dashboard_of(stack)["summary"],
        what="the same summary over REST and gRPC",
    )
    listed = http.get("/v1/complaints", params={"status": "PROCESSED", "page_size": 1}).json()
    assert [c["complaint_id"] for c in listed["complaints"]] == [cid] and "next_page_token" in listed
    detail = http.get(f"/v1/complaints/{cid}").json()
    assert detail["complaint"]["complaint_id"] == cid and detail["complaint"]["status"] == "PROCESSED"
    similar = http.post("/v1/complaints:searchSimilar", json={"complaint_id": cid, "limit": 3})
    assert similar.status_code == 200, similar.text


def test_errors_come_back_as_http_codes_with_the_grpc_status_in_the_body(stack, http):
    bad = http.get("/v1/complaints/not-a-uuid")
    assert bad.status_code == 400
    status = bad.json()
    assert status["code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0] and status["message"]
    [detail] = status["details"]
    assert detail["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    assert detail["field_violations"][0]["field"] == "complaint_id"
    missing = http.get(f"/v1/complaints/{uuid.uuid4()}")
    assert missing.status_code == 404 and missing.json()["code"] == grpc.StatusCode.NOT_FOUND.value[0]
    anonymous = http.get("/v1/dashboard", headers={"authorization": ""})
    assert anonymous.status_code == 401 and anonymous.json()["code"] == grpc.StatusCode.UNAUTHENTICATED.value[0]
    assert http.get("/v1/complaints", params={"colour": "red"}).status_code == 400  # unknown query parameter
    nothing = http.get("/v1/nothing-here")
    assert nothing.status_code == 404 and nothing.json()["code"] == grpc.StatusCode.NOT_FOUND.value[0]


def test_analytics_unreachable_is_503_with_unavailable_in_the_body(tmp_path):
    env = {
        **os.environ,
        "GATEWAY_BIND": f"127.0.0.1:{(port := free_port())}",
        "GATEWAY_ANALYTICS": f"127.0.0.1:{free_port()}",  # nothing listens there
        "GATEWAY_METRICS_PORT": "0",
    }
    with open(tmp_path / "gateway.log", "wb") as log:
        envoy = subprocess.Popen([sys.executable, "-m", "complaints.gateway"], env=env, stdout=log, stderr=log)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            page = wait_until(lambda: _answer(client, "/"), what="the gateway to listen")
            assert page.status_code == 200 and page.content == (gateway.PAGE / "index.html").read_bytes()
            down = client.get("/v1/dashboard", headers={"authorization": f"Bearer {API_KEY}"})
        assert down.status_code == 503 and down.headers["content-type"] == "application/json"
        assert down.json()["code"] == grpc.StatusCode.UNAVAILABLE.value[0] and down.json()["message"]
    finally:
        envoy.terminate()
        envoy.wait(timeout=30)


def test_the_gateway_serves_envoys_statistics_as_metrics_and_nothing_else_of_its_admin(stack, http):
    """GET /metrics on the gateway's metrics port is Envoy's /stats/prometheus;
    the admin interface's other endpoints (stop, log levels, config with its
    addresses) are not reachable there."""
    sup, _ = stack
    metrics = sup.children["gateway"].metrics_url

    def served() -> float:
        return metric_value(
            scrape_metrics(metrics), "envoy_http_downstream_rq_total", envoy_http_conn_manager_prefix="gateway"
        )

    before = served()
    assert http.get("/").status_code == 200
    wait_until(lambda: served() > before, what="the page request counted")
    base = metrics.removesuffix("/metrics")
    with httpx.Client(base_url=base, timeout=10) as admin:
        assert admin.post("/metrics").status_code == 404
        for path in ("/quitquitquit", "/logging?level=trace", "/healthcheck/fail", "/stats", "/config_dump"):
            assert admin.post(path).status_code == 404 and admin.get(path).status_code == 404, path
    assert http.get("/").status_code == 200  # still serving


def test_the_metrics_listener_reads_the_admin_interface_on_this_gateways_own_socket():
    config = gateway.config("0.0.0.0:8080", "analytics:50052", 9150, "@complaints-gateway-7-admin")
    assert config["admin"]["address"] == {"pipe": {"path": "@complaints-gateway-7-admin"}}
    listeners = {x["name"]: x for x in config["static_resources"]["listeners"]}
    assert listeners["metrics"]["address"] == {"socket_address": {"address": "0.0.0.0", "port_value": 9150}}
    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}
    [endpoint] = clusters["admin"]["load_assignment"]["endpoints"][0]["lb_endpoints"]
    assert endpoint["endpoint"]["address"] == {"pipe": {"path": "@complaints-gateway-7-admin"}}
    assert "admin" not in gateway.config("0.0.0.0:8080", "analytics:50052")  # GATEWAY_METRICS_PORT=0


def _answer(client: httpx.Client, path: str) -> httpx.Response | None:
    try:
        return client.get(path)
    except httpx.TransportError:
        return None


def test_the_watch_streams_one_json_dashboard_per_line_as_it_changes(stack, http):
    seen = []
    with http.stream("GET", "/v1/dashboard:watch", timeout=httpx.Timeout(10, read=60)) as watch:
        assert watch.status_code == 200
        lines = (json.loads(line) for line in watch.iter_lines() if line.strip())
        seen.append(next(lines)["summary"])
        processed(stack, 1)
        # int64 fields are JSON strings (proto3 JSON). Done: more complaints
        # than the first line counted, every one of them processed.
        before = int(seen[0]["total"])
        try:
            while not (int(seen[-1]["total"]) > before and seen[-1]["processed"] == seen[-1]["total"]):
                seen.append(next(lines)["summary"])
        except (StopIteration, httpx.ReadTimeout):
            raise AssertionError(f"the watch never showed the new complaint processed; it sent {seen}") from None


def grpc_web_frame(message: bytes) -> bytes:
    return b"\x00" + struct.pack(">I", len(message)) + message


def test_browsers_speak_grpc_web_and_the_key_is_passed_on(stack, http):
    request = grpc_web_frame(b"")  # GetDashboardRequest has no fields
    web = {"content-type": "application/grpc-web+proto", "x-grpc-web": "1"}
    reply = http.post(f"/{SERVICE}/GetDashboard", content=request, headers=web)
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/grpc-web+proto"
    body = reply.content
    frames = []
    while body:
        flag, size = body[0], struct.unpack(">I", body[1:5])[0]
        frames.append((flag, body[5 : 5 + size]))
        body = body[5 + size :]
    [(data_flag, message), (trailer_flag, trailers)] = frames
    assert data_flag == 0 and trailer_flag == 0x80 and b"grpc-status:0" in trailers.replace(b" ", b"")
    assert analytics_pb2.Dashboard.FromString(message).summary.total == int(dashboard_of(stack)["summary"]["total"])
    refused = http.post(f"/{SERVICE}/GetDashboard", content=request, headers={**web, "authorization": "Bearer wrong"})
    assert refused.headers.get("grpc-status") == str(grpc.StatusCode.UNAUTHENTICATED.value[0])


def test_plain_grpc_and_health_checks_pass_through(stack):
    sup, _ = stack
    with grpc.insecure_channel(f"127.0.0.1:{sup.gateway_port}") as channel:
        stub = analytics_pb2_grpc.AnalyticsServiceStub(channel)
        answer = stub.GetDashboard(
            analytics_pb2.GetDashboardRequest(), timeout=10, metadata=[("authorization", f"Bearer {API_KEY}")]
        )
        assert answer.HasField("as_of")
        with pytest.raises(grpc.RpcError) as refused:
            stub.GetDashboard(analytics_pb2.GetDashboardRequest(), timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_the_page_is_served_at_the_root_and_tells_the_browser_to_keep_to_itself(http):
    page = http.get("/", headers={"authorization": ""})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for path, (name, kind) in gateway.PAGE_FILES.items():
        served = http.get(path)
        assert served.content == (gateway.PAGE / name).read_bytes() and served.headers["content-type"] == kind
