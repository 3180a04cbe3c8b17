"""Property-based bad input: arbitrary messages for every request type of
every RPC, and forged page tokens. No input may yield INTERNAL (or UNKNOWN)
or crash a server (each is still SERVING afterwards), and a refused
submission leaves the database unchanged."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor as d
from google.protobuf import message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics_service import pages
from analytics_service.store import ComplaintFilter
from complaints.v1 import analytics_pb2, analytics_pb2_grpc, intake_pb2, pipeline_pb2
from tests.helpers import channel, complaint, method_stub, table_counts

FORBIDDEN = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
NASTY = [
    "",
    " ",
    "\x00",
    "\x01\x1b[31m",
    "'; DROP TABLE complaints; --",
    "Robert'); --",
    "%s%s%n",
    "\u202eRTL",
    "😀" * 40,
    "a" * 70_000,
    "00000000-0000-0000-0000-000000000000",
    "../../etc/passwd",
]
MAGIC = [b"%PDF-1.4\n", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MZ"]

_INTS = {
    d.FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    d.FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    d.FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    d.FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
}


def field_values(field: d.FieldDescriptor, depth: int) -> st.SearchStrategy:
    if field.type == d.FieldDescriptor.TYPE_STRING:
        return st.one_of(st.text(max_size=60), st.sampled_from(NASTY))
    if field.type == d.FieldDescriptor.TYPE_BYTES:
        return st.one_of(
            st.binary(max_size=80), st.tuples(st.sampled_from(MAGIC), st.binary(max_size=80)).map(b"".join)
        )
    if field.type == d.FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if field.type in _INTS:
        low, high = _INTS[field.type]
        return st.one_of(st.integers(low, high), st.sampled_from([0, -1, 1, low, high]))
    if field.type in (d.FieldDescriptor.TYPE_DOUBLE, d.FieldDescriptor.TYPE_FLOAT):
        return st.floats(allow_nan=True, allow_infinity=True, width=32)
    if field.type == d.FieldDescriptor.TYPE_ENUM:
        assert field.enum_type is not None  # an enum field names its enum
        return st.one_of(st.sampled_from([v.number for v in field.enum_type.values]), st.integers(-5, 99))
    if field.type == d.FieldDescriptor.TYPE_MESSAGE:
        assert field.message_type is not None  # a message field names its type
        return messages(field.message_type, depth + 1)
    raise NotImplementedError(field.type)


def messages(descriptor: d.Descriptor, depth: int = 0) -> st.SearchStrategy:
    cls = message_factory.GetMessageClass(descriptor)
    if depth > 3:
        return st.just(cls())
    optional = {}
    for field in descriptor.fields:
        values = field_values(field, depth)
        if field.is_repeated and not (field.message_type and field.message_type.GetOptions().map_entry):
            values = st.lists(values, max_size=3)
        elif field.message_type and field.message_type.GetOptions().map_entry:
            continue
        optional[field.name] = values

    def build(kwargs: dict) -> object:
        msg = cls()
        for name, value in kwargs.items():
            field = descriptor.fields_by_name[name]
            if field.is_repeated:
                if field.type == d.FieldDescriptor.TYPE_MESSAGE:
                    for item in value:
                        getattr(msg, name).add().CopyFrom(item)
                else:
                    getattr(msg, name).extend(value)
            elif field.type == d.FieldDescriptor.TYPE_MESSAGE:
                getattr(msg, name).CopyFrom(value)
            else:
                setattr(msg, name, value)
        return msg

    return st.fixed_dictionaries({}, optional=optional).map(build)


def methods() -> list[tuple[str, d.MethodDescriptor]]:
    found = []
    for module, service, port_attr in (
        (intake_pb2, "IntakeService", "intake"),
        (pipeline_pb2, "PipelineService", "pipeline"),
        (analytics_pb2, "AnalyticsService", "analytics"),
    ):
        for method in module.DESCRIPTOR.services_by_name[service].methods:
            found.append((port_attr, method))
    return found


def call(ch: grpc.Channel, method: d.MethodDescriptor, requests: list) -> list[Any] | grpc.RpcError:
    stub = method_stub(ch, method)
    argument = iter(requests) if method.client_streaming else requests[0]
    try:
        if not method.server_streaming:
            return [stub(argument, timeout=10)]
        replies = []
        stream = stub(argument, timeout=10)
        for reply in stream:
            replies.append(reply)
            # Watch streams never end by themselves; a few answers are enough.
            if len(replies) >= len(requests) or method.name.startswith("Watch"):
                stream.cancel()
                break
        return replies
    except grpc.RpcError as err:
        return err


def serving(address: str) -> bool:
    with grpc.insecure_channel(address) as ch:
        reply = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10)
    return reply.status == health_pb2.HealthCheckResponse.SERVING


@pytest.fixture(scope="module")
def channels(cluster):
    made = {
        "intake": channel(f"127.0.0.1:{cluster.intake_port}"),
        "pipeline": channel(f"127.0.0.1:{cluster.pipeline_ports[0]}"),
        "analytics": channel(f"127.0.0.1:{cluster.analytics_port}"),
    }
    yield made
    for ch in made.values():
        ch.close()


@pytest.mark.parametrize(("service", "method"), methods(), ids=lambda v: getattr(v, "name", v))
def test_no_request_yields_internal_or_a_half_stored_complaint(cluster, channels, service, method):
    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(messages(method.input_type), min_size=1, max_size=3))
    def check(requests: list) -> None:
        before = table_counts(cluster.admin_url) if service == "intake" else None
        outcome = call(channels[service], method, requests)
        if isinstance(outcome, grpc.RpcError):
            assert outcome.code() not in FORBIDDEN, (method.name, outcome.code(), outcome.details())
            if outcome.code() == grpc.StatusCode.CANCELLED:
                return
            if before is not None and method.name == "SubmitComplaint":
                assert table_counts(cluster.admin_url) == before
            return
        if method.name == "SubmitComplaints":
            assert before is not None  # an intake method
            assert len(outcome) == len(requests)
            new = sum(1 for r in outcome if not r.HasField("error") and not r.duplicate)
            after = table_counts(cluster.admin_url)
            assert after["complaints"] == before["complaints"] + new

    check()
    # Not crashed, nor left unable to serve: every server still says SERVING.
    for address in (
        f"127.0.0.1:{cluster.intake_port}",
        f"127.0.0.1:{cluster.analytics_port}",
        *(f"127.0.0.1:{port}" for port in cluster.pipeline_ports),
    ):
        assert serving(address), address


def test_undecodable_frames_are_invalid_argument(cluster, channels):
    # Field 6 (description) with bytes that are not UTF-8.
    raw = bytes([0x0A, 1, ord("k"), 0x32, 2, 0xFF, 0xFE])
    stub = channels["intake"].unary_unary("/complaints.v1.IntakeService/SubmitComplaint")
    before = table_counts(cluster.admin_url)
    with pytest.raises(grpc.RpcError) as caught:
        stub(raw, timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "UTF-8" in caught.value.details()
    assert table_counts(cluster.admin_url) == before


def test_an_undecodable_frame_in_a_bulk_stream_gets_its_own_error_and_the_stream_goes_on(cluster, channels):
    raw = bytes([0x0A, 1, ord("k"), 0x32, 2, 0xFF, 0xFE])  # as above: not UTF-8
    good = [complaint().SerializeToString() for _ in range(2)]
    stub = channels["intake"].stream_stream(
        "/complaints.v1.IntakeService/SubmitComplaints",
        response_deserializer=intake_pb2.SubmitComplaintResponse.FromString,
    )
    before = table_counts(cluster.admin_url)
    answers = list(stub(iter([good[0], raw, good[1]]), timeout=30))
    assert [a.index for a in answers] == [0, 1, 2]
    assert not answers[0].HasField("error") and not answers[2].HasField("error")
    assert answers[1].error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "is not a valid message" in answers[1].error.message and "UTF-8" in answers[1].error.message
    assert table_counts(cluster.admin_url)["complaints"] == before["complaints"] + 2


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=20,
)
# The filters of a request with none set, as each RPC digests them into its tokens.
NO_FILTERS = {"ListComplaints": ComplaintFilter(), "ListCases": (None, None)}
REQUESTS = {"ListComplaints": analytics_pb2.ListComplaintsRequest, "ListCases": analytics_pb2.ListCasesRequest}
AT = "2026-01-01T00:00:00+00:00"
# Keys of the wrong shape that the issue (11) saw answered INTERNAL, and their kin.
WRONG_KEYS = [
    [1, 2],
    [[AT], "x"],
    [AT, ["x"]],
    [AT, 7],
    [True],
    [False],
    [None],
    [1.5],
    ["1"],
    [2**70],
    [-1],
    [0],
    [{"a": 1}],
    [[1]],
    [AT, str(uuid.uuid4()), 1],
    [AT[:-6], str(uuid.uuid4())],
    [AT, "not-a-uuid"],
    [],
]


def _token(value: object) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _forged_tokens(rpc: str) -> st.SearchStrategy[str]:
    """Well-formed tokens (base64 of JSON) that we did not issue: any JSON; our
    shape with any values; our shape with the right filter digest, so that
    only the key can refuse it; JSON nested deeper than Python recurses."""
    digest = pages._digest(NO_FILTERS[rpc])
    keys = st.one_of(st.sampled_from(WRONG_KEYS), st.lists(JSON, max_size=3))
    anything = st.builds(
        lambda v, k, f: _token({"v": v, "k": k, "f": f}),
        st.one_of(st.just(1), st.just(True), st.just(1.0), JSON),
        keys,
        st.one_of(st.just(digest), JSON),
    )
    right_digest = keys.map(lambda k: _token({"v": 1, "k": k, "f": digest}))
    nested = st.integers(1, 200_000).map(
        lambda depth: base64.urlsafe_b64encode(("[" * depth + "]" * depth).encode()).decode().rstrip("=")
    )
    return st.one_of(JSON.map(_token), anything, right_digest, nested)


@pytest.mark.parametrize("rpc", ["ListComplaints", "ListCases"])
def test_a_forged_page_token_is_invalid_argument_never_internal(cluster, channels, rpc):
    stub = analytics_pb2_grpc.AnalyticsServiceStub(channels["analytics"])
    for key in WRONG_KEYS:
        token = _token({"v": 1, "k": key, "f": pages._digest(NO_FILTERS[rpc])})
        with pytest.raises(grpc.RpcError) as caught:
            getattr(stub, rpc)(REQUESTS[rpc](page_size=1, page_token=token), timeout=10)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (key, caught.value.details())

    @settings(
        max_examples=150,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(_forged_tokens(rpc))
    def check(token: str) -> None:
        try:
            getattr(stub, rpc)(REQUESTS[rpc](page_size=1, page_token=token), timeout=10)
        except grpc.RpcError as err:
            # A forged token of exactly our shape may serve a page; anything else is refused.
            assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (token[:80], err.code(), err.details())

    check()
