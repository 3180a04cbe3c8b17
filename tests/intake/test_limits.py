"""Size limits and flow control, on a cluster of our own with small limits
and no pipeline replica (nothing here needs analysis)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import grpc
import psycopg
import pytest
from google.rpc import code_pb2

from complaints.auth import bearer
from complaints.v1 import intake_pb2, intake_pb2_grpc
from intake_service.read_ahead import ReadAhead
from ops.supervisor import Supervisor
from tests.helpers import API_KEY, Clients, aio_channel, clients_of, complaint, running_cluster, table_counts
from tests.intake.test_submission import refused, violations_of

LIMITS = {
    "INTAKE_MAX_DOCUMENTS": "2",
    "INTAKE_MAX_DOCUMENT_BYTES": "2000",
    "INTAKE_MAX_TOTAL_DOCUMENT_BYTES": "3000",
    "INTAKE_MAX_DESCRIPTION_CHARS": "500",
    "INTAKE_STREAM_BATCH": "16",
    "INTAKE_STREAM_READ_AHEAD_BYTES": "65536",
}


@pytest.fixture(scope="module")
def small() -> Iterator[Supervisor]:
    with running_cluster("complaints-limits-", LIMITS, replicas=1, pipelines=False) as sup:
        yield sup


@pytest.fixture(scope="module")
def small_clients(small) -> Iterator[Clients]:
    c = clients_of(small)
    yield c
    c.close()


def doc(size: int, name: str = "note.txt") -> intake_pb2.Document:
    return intake_pb2.Document(filename=name, content=b"a" * size)


@pytest.mark.parametrize(
    ("documents", "field"),
    [
        ([doc(10), doc(10), doc(10)], "documents"),
        ([doc(2001)], "documents[0].content"),
        ([doc(1600), doc(1600)], "documents"),
    ],
)
def test_over_a_document_limit_is_resource_exhausted_with_the_field_and_nothing_stored(
    small, small_clients, documents, field
):
    before = table_counts(small.admin_url)
    code, _, violations = refused(small_clients, complaint(documents=documents))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert field in violations and "at most" in violations[field]
    assert table_counts(small.admin_url) == before


def test_a_description_over_its_limit_is_refused(small, small_clients):
    before = table_counts(small.admin_url)
    code, _, violations = refused(small_clients, complaint(description="x" * 501))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "500" in violations["description"]
    assert table_counts(small.admin_url) == before


def test_the_grpc_message_limit_follows_the_document_limits(small, small_clients):
    before = table_counts(small.admin_url)
    # Limits of 3,000 document bytes give a message limit of about 1 MiB.
    code, message, _ = refused(small_clients, complaint(documents=[doc(2 * 1024 * 1024)]))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, message
    assert table_counts(small.admin_url) == before


def test_within_a_stream_an_oversized_item_gets_its_own_error(small, small_clients):
    requests = [complaint(), complaint(documents=[doc(2001)]), complaint()]
    replies = list(small_clients.intake.SubmitComplaints(iter(requests), timeout=30))
    assert [r.HasField("error") for r in replies] == [False, True, False]
    assert replies[1].error.code == code_pb2.RESOURCE_EXHAUSTED
    assert "documents[0].content" in violations_of(replies[1].error)


async def test_a_client_that_does_not_read_answers_is_held_back(small):
    """Intake stops reading once its bounded read-ahead is full and its answers
    are not read, so the client's writes block: no buffering without bound."""
    offered = 40_000
    written = 0
    before = table_counts(small.admin_url)["complaints"]
    # A fixed receive window (no BDP probing), as a slow client would have.
    async with grpc.aio.insecure_channel(f"127.0.0.1:{small.intake_port}", options=[("grpc.http2.bdp_probe", 0)]) as ch:
        call = intake_pb2_grpc.IntakeServiceStub(ch).SubmitComplaints(metadata=bearer(API_KEY))
        for _ in range(offered):
            try:
                await asyncio.wait_for(call.write(complaint(description="x" * 400)), 2)
            except TimeoutError:
                break
            written += 1
        call.cancel()
    stored = table_counts(small.admin_url)["complaints"] - before
    assert written < offered // 2, (written, stored)
    # What intake took in is bounded by the answers the client's window holds
    # plus the read-ahead, not by what the client offers.
    assert stored < 2_000, stored
    # Intake is still serving after the stream was cut.
    async with aio_channel(f"127.0.0.1:{small.intake_port}") as ch:
        reply = await intake_pb2_grpc.IntakeServiceStub(ch).SubmitComplaint(complaint(), timeout=10)
    assert reply.complaint_id


async def test_read_ahead_never_holds_more_than_its_bounds():
    pulled = 0

    async def source():
        nonlocal pulled
        for i in range(1000):
            pulled += 1
            yield i

    ahead = ReadAhead(source(), lambda _: 10, max_items=8, max_bytes=1000)
    batches = ahead.batches()
    first = await batches.__anext__()
    for _ in range(20):
        await asyncio.sleep(0)  # the reader runs as far as it is allowed
    assert pulled - len(first) <= 8 + 1  # the buffer, and the one waiting for room
    by_bytes = ReadAhead(source(), lambda _: 400, max_items=100, max_bytes=1000)
    pulled = 0
    more = by_bytes.batches()
    got = await more.__anext__()
    for _ in range(20):
        await asyncio.sleep(0)
    assert pulled - len(got) <= 3 + 1
    rest = [item async for batch in batches for item in batch]
    assert first + rest == list(range(1000))
    await more.aclose()


async def test_read_ahead_hands_on_the_error_that_ended_the_stream_after_what_came_before():
    async def source():
        yield 1
        yield 2
        raise ValueError("broken frame")

    seen = []
    with pytest.raises(ValueError, match="broken frame"):
        async for batch in ReadAhead(source(), lambda _: 1, max_items=10, max_bytes=100).batches():
            seen.extend(batch)
    assert seen == [1, 2]


def test_a_bulk_stream_is_stored_in_batches_of_at_most_the_batch_setting(small, small_clients):
    requests = [complaint(idempotency_key=f"batch-{i}") for i in range(160)]
    replies = list(small_clients.intake.SubmitComplaints(iter(requests), timeout=60))
    assert not any(r.HasField("error") for r in replies)
    with psycopg.connect(small.admin_url) as conn:
        # Rows committed together share their transaction ID (xmin).
        sizes = [
            n
            for (n,) in conn.execute(
                "SELECT count(*) FROM complaints WHERE idempotency_key LIKE 'batch-%' GROUP BY xmin::text"
            ).fetchall()
        ]
    assert sum(sizes) == 160
    assert max(sizes) <= 16  # INTAKE_STREAM_BATCH here
    assert len(sizes) < 160 // 2, sizes  # many per transaction, not one each
