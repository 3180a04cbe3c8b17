"""Submitting complaints on the shared cluster: the bulk stream, idempotency,
documents typed by content, field validation, status and watching."""

from __future__ import annotations

import asyncio
import hashlib
import io
import itertools
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import grpc
import psycopg
import pytest
from google.rpc import code_pb2, error_details_pb2
from grpc_status import rpc_status
from PIL import Image

from complaints.v1 import intake_pb2, intake_pb2_grpc, types_pb2
from intake_service.status_feed import StatusFeed
from tests.helpers import aio_channel, complaint, metric_value, pdf_document, scrape_metrics, table_counts, wait_until
from tests.sql import scalar


def violations_of(status) -> dict[str, str]:
    found = {}
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            found.update({v.field: v.description for v in bad.field_violations})
    return found


def refused(clients, request) -> tuple[grpc.StatusCode, str, dict[str, str]]:
    with pytest.raises(grpc.RpcError) as caught:
        clients.intake.SubmitComplaint(request, timeout=10)
    status = rpc_status.from_call(caught.value)
    return caught.value.code(), caught.value.details(), violations_of(status) if status else {}


def image(kind: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(out, kind)
    return out.getvalue()


def test_a_bulk_stream_answers_each_request_in_order_and_goes_on_past_bad_ones(cluster, clients):
    requests = [complaint() for _ in range(30)]
    requests[3] = complaint(description="")
    requests[17] = complaint(complainant=intake_pb2.Complainant(email="not-an-email"))
    requests[25] = requests[24]  # a repeat within the stream
    before = table_counts(cluster.admin_url)

    replies = list(clients.intake.SubmitComplaints(iter(requests), timeout=60))

    assert [r.index for r in replies] == list(range(30))
    errors = {r.index: r.error for r in replies if r.HasField("error")}
    assert set(errors) == {3, 17}
    assert errors[3].code == code_pb2.INVALID_ARGUMENT and "description" in violations_of(errors[3])
    assert "complainant.email" in violations_of(errors[17])
    assert replies[25].duplicate and replies[25].complaint_id == replies[24].complaint_id
    good = [r for r in replies if not r.HasField("error")]
    assert all(r.status == types_pb2.QUEUED and r.received_at.seconds for r in good)
    assert len({r.complaint_id for r in good}) == 27
    assert table_counts(cluster.admin_url)["complaints"] == before["complaints"] + 27


def test_a_repeated_key_with_other_content_is_refused_and_says_why(cluster, clients):
    first = clients.intake.SubmitComplaint(complaint(idempotency_key="k-reuse"))
    before = table_counts(cluster.admin_url)
    code, message, _ = refused(clients, complaint(idempotency_key="k-reuse", description="Another matter entirely."))
    assert code == grpc.StatusCode.ALREADY_EXISTS
    assert "different content" in message and first.complaint_id in message
    # The same key from another source system is another complaint.
    other = clients.intake.SubmitComplaint(complaint(idempotency_key="k-reuse", source_system="other-agency"))
    assert not other.duplicate and other.complaint_id != first.complaint_id
    assert table_counts(cluster.admin_url)["complaints"] == before["complaints"] + 1


def test_twenty_concurrent_submissions_with_one_key_store_one_row(cluster, clients):
    request = complaint(idempotency_key=f"race-{uuid.uuid4()}")
    barrier = threading.Barrier(20)
    replies: list[intake_pb2.SubmitComplaintResponse] = []

    def submit() -> None:
        barrier.wait()
        replies.append(clients.intake.SubmitComplaint(request, timeout=30))

    threads = [threading.Thread(target=submit) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(replies) == 20
    assert len({r.complaint_id for r in replies}) == 1
    assert sum(not r.duplicate for r in replies) == 1
    with psycopg.connect(cluster.admin_url) as conn:
        rows = scalar(conn, "SELECT count(*) FROM complaints WHERE idempotency_key = %s", (request.idempotency_key,))
    assert rows == 1


def _waiting_for_the_next_commit(cluster) -> float:
    return metric_value(scrape_metrics(cluster.children["intake"].metrics_url), "complaints_intake_commit_waiting")


def _intake_waiting_on_a_lock(cluster) -> int:
    with psycopg.connect(cluster.admin_url) as conn:
        return scalar(
            conn, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'intake' AND wait_event_type = 'Lock'"
        )


def test_unary_calls_that_arrive_during_a_commit_share_the_next_one_each_with_its_own_answer(cluster, clients):
    def submit(tag: str, request: intake_pb2.SubmitComplaintRequest | None = None):
        request = request or complaint(description=f"Pegawai meminta rasuah RM300 ({tag}).")
        reply = clients.intake.SubmitComplaint(request, timeout=60)
        return tag, reply

    repeated = complaint(idempotency_key=f"group-repeat-{uuid.uuid4()}")
    with psycopg.connect(cluster.admin_url) as lock, ThreadPoolExecutor(10) as pool:
        lock.execute("LOCK TABLE complaints IN EXCLUSIVE MODE")  # inserts wait for it
        first = pool.submit(submit, "first")
        wait_until(lambda: _intake_waiting_on_a_lock(cluster) == 1, 30, "the first call's insert to wait")
        rest = [pool.submit(submit, f"next-{i}") for i in range(6)]
        rest += [pool.submit(submit, f"repeat-{i}", repeated) for i in range(2)]
        rest.append(pool.submit(submit, "bad", complaint(description=" ")))
        wait_until(lambda: _waiting_for_the_next_commit(cluster) == 9, 30, "nine calls to wait for the next commit")
        lock.rollback()
        answers = dict([first.result(), *(f.result() if not f.exception() else (None, f.exception()) for f in rest)])
    bad = answers.pop(None)
    assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT and "description" in bad.details()
    ids = {tag: a.complaint_id for tag, a in answers.items()}
    assert ids["repeat-0"] == ids["repeat-1"]
    assert sorted(a.duplicate for t, a in answers.items() if t.startswith("repeat")) == [False, True]
    assert len(set(ids.values())) == 8  # first, six others, the repeated one
    # Those that waited went in one transaction, after the first call's: received_at is the
    # transaction's now(), unlike xmin, which a replica's claim of the row would change.
    began = {tag: a.received_at.ToNanoseconds() for tag, a in answers.items()}
    assert len({b for tag, b in began.items() if tag != "first"}) == 1
    assert began["first"] < began["next-0"]


async def test_concurrent_bulk_streams_sharing_keys_neither_deadlock_nor_duplicate(cluster):
    requests = [complaint(idempotency_key=f"shared-{uuid.uuid4()}") for _ in range(60)]
    async with aio_channel(f"127.0.0.1:{cluster.intake_port}") as ch:
        stub = intake_pb2_grpc.IntakeServiceStub(ch)

        async def stream(order: list[intake_pb2.SubmitComplaintRequest]) -> dict[str, str]:
            return {order[r.index].idempotency_key: r.complaint_id async for r in stub.SubmitComplaints(iter(order))}

        forward, backward = await asyncio.gather(stream(requests), stream(requests[::-1]))
    assert forward == backward and len(set(forward.values())) == 60


def test_documents_are_stored_with_size_hash_and_the_type_their_content_shows(cluster, clients):
    pdf = pdf_document("Resit bayaran RM5,000 kepada pegawai.")
    contents = {
        "looks-like-a-photo.jpg": (pdf, "application/pdf"),
        "scan.pdf": (image("PNG"), "image/png"),
        "a.bin": (image("JPEG"), "image/jpeg"),
        "b.txt": (image("TIFF"), "image/tiff"),
        "note.png": (b"Nota: wang diserahkan di kedai kopi.", "text/plain"),
    }
    docs = [
        intake_pb2.Document(filename=name, content_type="application/octet-stream", content=data)
        for name, (data, _) in contents.items()
    ]
    reply = clients.intake.SubmitComplaint(complaint(documents=docs))
    with psycopg.connect(cluster.admin_url) as conn:
        rows = conn.execute(
            "SELECT filename, detected_type, size_bytes, sha256, content FROM documents"
            " WHERE complaint_id = %s ORDER BY ordinal",
            (reply.complaint_id,),
        ).fetchall()
    assert [r[0] for r in rows] == list(contents)
    for filename, detected, size, sha, stored in rows:
        data, expected = contents[filename]
        assert detected == expected, filename
        assert size == len(data) and sha == hashlib.sha256(data).hexdigest() and bytes(stored) == data


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"description": " "}, "description"),
        ({"subject": "x" * 501}, "subject"),
        ({"location": "nul\x00byte"}, "location"),
        ({"complainant": intake_pb2.Complainant(id_number="851301-14-5678")}, "complainant.id_number"),
        ({"complainant": intake_pb2.Complainant(email="ali@")}, "complainant.email"),
        ({"complainant": intake_pb2.Complainant(phone="12ab")}, "complainant.phone"),
        ({"complainant": intake_pb2.Complainant(anonymous=True, name="Ali")}, "complainant.anonymous"),
        ({"incident_date": "2999-01-01"}, "incident_date"),
        ({"incident_date": "2026-02-30"}, "incident_date"),
        (
            {"documents": [intake_pb2.Document(filename="x.exe", content=b"MZ\x90\x00\x03\x00\x00\x00\xff\xfe")]},
            "documents[0].content",
        ),
        ({"documents": [intake_pb2.Document(filename="", content=b"text")]}, "documents[0].filename"),
    ],
)
def test_each_bad_field_is_named_and_nothing_is_stored(cluster, clients, overrides, field):
    before = table_counts(cluster.admin_url)
    code, message, violations = refused(clients, complaint(**overrides))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert violations.get(field)
    assert field in message
    assert table_counts(cluster.admin_url) == before


def test_an_unauthenticated_submission_stores_nothing(cluster):
    before = table_counts(cluster.admin_url)
    with grpc.insecure_channel(f"127.0.0.1:{cluster.intake_port}") as bare, pytest.raises(grpc.RpcError) as caught:
        intake_pb2_grpc.IntakeServiceStub(bare).SubmitComplaint(complaint(), timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert table_counts(cluster.admin_url) == before


def test_watch_streams_each_change_until_processed(clients):
    reply = clients.intake.SubmitComplaint(complaint())
    seen = [
        s
        for s in clients.intake.WatchComplaint(
            intake_pb2.WatchComplaintRequest(complaint_id=reply.complaint_id), timeout=60
        )
    ]
    assert seen[-1].status == types_pb2.PROCESSED and seen[-1].stage == "done"
    assert all(s.complaint_id == reply.complaint_id for s in seen)
    assert all(a != b for a, b in itertools.pairwise(seen)), "only changes are streamed"
    status = clients.intake.GetComplaintStatus(intake_pb2.GetComplaintStatusRequest(complaint_id=reply.complaint_id))
    assert status == seen[-1]
    assert status.received_at.seconds and status.processed_at.seconds and status.attempts == 1


async def test_many_watchers_share_one_listen_connection_and_end_cleanly_on_cancel(cluster, clients):
    ids = [r.complaint_id for r in clients.intake.SubmitComplaints(iter([complaint() for _ in range(3)]))]
    watchers = 40  # five times intake's pool
    async with aio_channel(f"127.0.0.1:{cluster.intake_port}") as ch:
        stub = intake_pb2_grpc.IntakeServiceStub(ch)
        calls = [
            stub.WatchComplaint(intake_pb2.WatchComplaintRequest(complaint_id=ids[n % 3])) for n in range(watchers)
        ]
        finals = await asyncio.gather(*[_last(call) for call in calls])
        assert all(s.status == types_pb2.PROCESSED for s in finals)

        # Watching a complaint that is still QUEUED forever: cancel it.
        with psycopg.connect(cluster.admin_url, autocommit=True) as conn:
            stuck = scalar(
                conn,
                "INSERT INTO complaints (id, source_system, idempotency_key, request_sha256,"
                " description, next_attempt_at) VALUES (gen_random_uuid(), 'test-suite', %s,"
                " '\\x00', 'held back', now() + interval '1 day') RETURNING id::text",
                (str(uuid.uuid4()),),
            )
        held = [stub.WatchComplaint(intake_pb2.WatchComplaintRequest(complaint_id=stuck)) for _ in range(watchers)]
        for call in held:
            assert (await call.read()).status == types_pb2.QUEUED
        connections = _intake_connections(cluster.admin_url)
        assert connections <= 8 + 1, connections  # the pool's maximum and the listen connection
        for call in held:
            call.cancel()
        for call in held:
            assert call.cancelled()
        # Intake still answers, and a change to the held complaint still reaches a new watcher.
        watch = stub.WatchComplaint(intake_pb2.WatchComplaintRequest(complaint_id=stuck))
        assert (await watch.read()).status == types_pb2.QUEUED
        with psycopg.connect(cluster.admin_url, autocommit=True) as conn:
            conn.execute(
                "UPDATE complaints SET status = 'FAILED', stage = 'failed', last_error = 'test' WHERE id = %s", (stuck,)
            )
        pushed = await asyncio.wait_for(watch.read(), 60)
        assert pushed.status == types_pb2.FAILED and pushed.last_error == "test"


async def test_a_status_change_wakes_its_watchers_by_notify(cluster):
    """The feed itself, without the servicer's periodic re-read: only the
    NOTIFY of migration 005 can wake a watcher, and only that complaint's."""
    with psycopg.connect(cluster.admin_url, autocommit=True) as conn:
        # Before the feed listens, so their own NOTIFYs reach nobody.
        watched, other = [
            scalar(
                conn,
                "INSERT INTO complaints (id, source_system, idempotency_key, request_sha256, description,"
                " next_attempt_at) VALUES (gen_random_uuid(), 'test-suite', %s, '\\x00', 'held back',"
                " now() + interval '1 day') RETURNING id::text",
                (str(uuid.uuid4()),),
            )
            for _ in range(2)
        ]
        feed = StatusFeed(cluster.url("intake"))
        with feed.watch("before-listening") as connected:
            await feed.start()
            try:
                # Every watcher is woken once the feed listens (what changed before).
                await asyncio.wait_for(connected.wait(), 60)
                with feed.watch(watched) as changed, feed.watch(other) as untouched:
                    conn.execute("UPDATE complaints SET stage = 'noted' WHERE id = %s", (watched,))
                    await asyncio.wait_for(changed.wait(), 60)
                    assert not untouched.is_set()
            finally:
                await feed.stop()


async def _last(call):
    last = None
    async for status in call:
        last = status
    return last


def _intake_connections(url: str) -> int:
    with psycopg.connect(url) as conn:
        return scalar(conn, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'complaints_intake'")


def test_watch_and_status_of_an_unknown_complaint_are_not_found(clients):
    with pytest.raises(grpc.RpcError) as caught:
        list(clients.intake.WatchComplaint(intake_pb2.WatchComplaintRequest(complaint_id=str(uuid.uuid4())), timeout=5))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
