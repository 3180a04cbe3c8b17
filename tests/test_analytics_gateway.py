"""Gateway-ready: every AnalyticsService RPC has a google.api.http rule whose
path variables are fields of its request, and the descriptor set that
`make gen` builds is complete (every import included), which is what
Envoy's gRPC-JSON transcoder (deploy/gateway/envoy.yaml) and grpc-gateway
load at start."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2, descriptor_pool

ROOT = Path(__file__).resolve().parents[1]
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
        "GetDashboard", "ListComplaints", "GetComplaint", "ListCases", "GetCase", "SearchSimilar", "WatchDashboard"}


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


def test_the_example_envoy_config_transcodes_the_service_from_that_descriptor_set():
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((ROOT / "deploy" / "gateway" / "envoy.yaml").read_text())
    [listener] = config["static_resources"]["listeners"]
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    transcoder = manager["http_filters"][0]["typed_config"]
    assert transcoder["services"] == [SERVICE]
    assert transcoder["proto_descriptor"].endswith("complaints.pb")
    routes = manager["route_config"]["virtual_hosts"][0]["routes"]
    assert all(r["match"].get("path", r["match"].get("prefix", "")).startswith(f"/{SERVICE}/") for r in routes)
    assert manager["http_filters"][-1]["name"] == "envoy.filters.http.router"
