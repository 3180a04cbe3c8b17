"""Two pipeline replicas with the `llm` analyzer against the fake model server,
on a real cluster: status figures, no connection held across a model call, the
circuit breaker keeping complaints QUEUED, retries to FAILED and Reprocess,
privacy of the complainant, graceful SIGTERM drain, and a replica killed with
SIGKILL while 100 complaints are in flight."""

from __future__ import annotations

import itertools
import json
import signal
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.rows import dict_row

from complaints.v1 import intake_pb2, pipeline_pb2, types_pb2
from ops.fake_llm import FakeLLM, answer
from ops.supervisor import Supervisor
from pipeline_service.extract import ocr_available
from tests.data.documents import encrypted_pdf, text_pdf, text_png
from tests.helpers import Clients, clients_of, complaint, running_cluster, wait_until
from tests.invariants import all_final, assert_consistent
from tests.sql import scalar

pytestmark = pytest.mark.timeout(300)

CAPACITY = 16
MAX_ATTEMPTS = 3
RETRY_BASE = 0.2


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


@pytest.fixture(scope="module")
def sup(fake: FakeLLM) -> Iterator[Supervisor]:
    with running_cluster(
        "pipeline-replicas-",
        {
            "PIPELINE_ANALYZER": "llm",
            "PIPELINE_LLM_BASE_URL": fake.base_url,
            "PIPELINE_LLM_MODEL": "fake-model",
            "PIPELINE_LLM_EMBEDDING_MODEL": "fake-embed",
            "PIPELINE_LLM_TIMEOUT_SECONDS": "5",
            "PIPELINE_LLM_RETRIES": "1",
            "PIPELINE_LLM_RETRY_MAX_WAIT_SECONDS": "0.2",
            "PIPELINE_LLM_BREAKER_FAILURES": "3",
            "PIPELINE_LLM_BREAKER_RESET_SECONDS": "1",
            "PIPELINE_MAX_IN_FLIGHT": str(CAPACITY),
            "PIPELINE_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
            "PIPELINE_RETRY_BASE_SECONDS": str(RETRY_BASE),
            # Short leases so a killed replica's work is taken over quickly.
            "PIPELINE_LEASE_SECONDS": "2",
            "PIPELINE_SWEEP_SECONDS": "0.2",
            "PIPELINE_GRACE_SECONDS": "3",
            # Fewer connections than complaints in flight: none may be held across a model call.
            "PIPELINE_DB_POOL_MAX": "2",
            "ANALYTICS_MAX_STALENESS_SECONDS": "0.5",
        },
    ) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def clients(sup: Supervisor) -> Iterator[Clients]:
    c = clients_of(sup)
    yield c
    c.close()


@pytest.fixture(autouse=True)
def model_answers_normally(sup: Supervisor, fake: FakeLLM) -> Iterator[None]:
    """Each test starts with the model answering, both replicas up and no
    work left over from the test before, whatever that test did or failed to do."""
    fake.clear()
    fake.latency = 0.0
    for i, port in enumerate(sup.pipeline_ports):
        child = sup.children[f"pipeline-{i}"]
        if child.proc is None or child.proc.poll() is not None:
            sup.start_pipeline(i, port)
    wait_until(lambda: quiet(sup), 60, "no complaint left QUEUED or PROCESSING")
    yield
    fake.release()
    fake.clear()


def submit(clients: Clients, n: int, **fields) -> list[str]:
    return [clients.intake.SubmitComplaint(complaint(**fields), timeout=10).complaint_id for _ in range(n)]


def rows(sup: Supervisor, ids: list[str]) -> dict[str, dict]:
    with psycopg.connect(sup.admin_url, row_factory=dict_row) as conn:
        found = conn.execute(
            "SELECT id::text, status, attempts, stage, lease_owner, last_error FROM complaints"
            " WHERE id = ANY(%s::uuid[])",
            (ids,),
        ).fetchall()
    return {r["id"]: r for r in found}


def quiet(sup: Supervisor) -> bool:
    with psycopg.connect(sup.admin_url) as conn:
        return scalar(conn, "SELECT count(*) FROM complaints WHERE status IN ('QUEUED', 'PROCESSING')") == 0


def processed(sup: Supervisor, ids: list[str]) -> bool:
    return all(r["status"] == "PROCESSED" for r in rows(sup, ids).values())


def status(clients: Clients, i: int, deadline: float = 5) -> pipeline_pb2.PipelineStatus:
    return clients.pipelines[i].GetPipelineStatus(pipeline_pb2.GetPipelineStatusRequest(), timeout=deadline)


def held_by(sup: Supervisor, replica: str) -> list[str]:
    with psycopg.connect(sup.admin_url) as conn:
        return [
            r[0]
            for r in conn.execute(
                "SELECT id::text FROM complaints WHERE status = 'PROCESSING' AND lease_owner = %s", (replica,)
            ).fetchall()
        ]


def test_status_reports_real_figures(sup, clients):
    before = [status(clients, i) for i in range(2)]
    ids = submit(clients, 10)
    wait_until(lambda: processed(sup, ids), 60, "10 complaints processed")
    # A replica counts a complaint just after its commit, so the figures may trail the rows a moment.
    seen: list[tuple[int, int, int]] = []

    def counted() -> list[pipeline_pb2.PipelineStatus] | None:
        now = [status(clients, i) for i in range(2)]
        seen[:] = [(s.processed_total, s.in_flight, s.failed_total) for s in now]
        done = sum(a.processed_total - b.processed_total for a, b in zip(now, before)) == 10
        return now if done and all(s.in_flight == 0 for s in now) else None

    try:
        # Replicas run in the lowest CPU tier: on a busy host they may wait their turn.
        after = wait_until(counted, 60, "figures to count the 10")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; (processed, in flight, failed) by replica: {seen}") from None
    assert [s.replica_id for s in after] == ["pipeline-0", "pipeline-1"]
    for s in after:
        assert (s.capacity, s.analyzer, s.llm_breaker_state, s.draining) == (CAPACITY, "llm", "closed", False)
        assert s.failed_total == 0 and s.in_flight == 0 and s.queue_depth == 0
        assert s.pool.stats["pool_max"] == 2 and s.pool.stats["pool_size"] >= 1


def test_intake_shows_the_stage_a_complaint_is_in(sup, fake, clients):
    fake.hold()
    (cid,) = submit(clients, 1)

    def stage() -> str:
        request = intake_pb2.GetComplaintStatusRequest(complaint_id=cid)
        return clients.intake.GetComplaintStatus(request, timeout=5).stage

    wait_until(lambda: stage() == "analysing", 30, "the stage of a complaint waiting on the model")
    fake.release()
    final = list(clients.intake.WatchComplaint(intake_pb2.WatchComplaintRequest(complaint_id=cid), timeout=30))[-1]
    assert (final.status, final.stage) == (types_pb2.PROCESSED, "done")


def test_no_connection_is_held_while_the_model_is_asked(sup, fake, clients):
    fake.hold()
    ids = submit(clients, 2 * CAPACITY + 8)
    wait_until(lambda: sum(status(clients, i).in_flight for i in range(2)) == 2 * CAPACITY, 30, "both replicas full")
    full = [status(clients, i) for i in range(2)]
    # 32 complaints wait on the model with two connections per replica, all idle.
    assert [s.queue_depth for s in full] == [8, 8]
    for i in range(2):
        wait_until(
            lambda: (p := status(clients, i).pool.stats)["pool_available"] == p["pool_size"],  # noqa: B023 (called within this iteration)
            10,
            f"pipeline-{i}'s connections all back in its pool",
        )
    with psycopg.connect(sup.admin_url) as conn:
        busy = scalar(
            conn,
            "SELECT count(*) FROM pg_stat_activity WHERE usename = 'complaints_pipeline'"
            " AND state = 'idle in transaction'",
        )
    assert busy == 0
    fake.release()
    wait_until(lambda: processed(sup, ids), 60, "all processed once the model answers")


def test_a_complaint_the_model_cannot_answer_backs_off_fails_with_its_error_and_can_be_reprocessed(sup, fake, clients):
    # Every ask and every correction answers with no JSON object at all.
    fake.script("analysis", *[answer(["CORRUPTION"])] * (2 * MAX_ATTEMPTS))
    (cid,) = submit(clients, 1)
    wait_until(lambda: rows(sup, [cid])[cid]["status"] == "FAILED", 30, "FAILED")
    state = rows(sup, [cid])[cid]
    assert state["attempts"] == MAX_ATTEMPTS
    assert "InvalidAnswer: the answer is not a JSON object" in state["last_error"]
    starts = [r.at for r in fake.received("analysis")][::2]  # an attempt asks, then asks for a correction
    assert len(starts) == MAX_ATTEMPTS
    for attempt, (a, b) in enumerate(itertools.pairwise(starts), 1):
        assert b - a >= RETRY_BASE * 2 ** (attempt - 1) * 0.5, "retried before its exponential backoff"
    with psycopg.connect(sup.admin_url) as conn:
        assert scalar(conn, "SELECT count(*) FROM analyses WHERE complaint_id = %s", (cid,)) == 0

    reply = clients.pipelines[0].Reprocess(pipeline_pb2.ReprocessRequest(complaint_id=cid), timeout=5)
    assert reply.status.status == types_pb2.QUEUED
    wait_until(lambda: processed(sup, [cid]), 30, "PROCESSED after Reprocess")
    # Reprocessing a processed complaint replaces its analysis instead of adding one.
    clients.pipelines[1].Reprocess(pipeline_pb2.ReprocessRequest(complaint_id=cid), timeout=5)
    wait_until(lambda: processed(sup, [cid]), 30, "PROCESSED again")
    assert_consistent(sup.admin_url, [cid])


def test_the_complainants_identity_never_reaches_the_model(sup, fake, clients):
    who = intake_pb2.Complainant(
        name="Muthu a/l Rajan", id_number="880512-08-5531", phone="012-336 9087", email="muthu.rajan@example.my"
    )
    evidence = intake_pb2.Document(
        filename="kenyataan.txt",
        content_type="text/plain",
        content=b"Saya Muthu a/l Rajan, IC 880512085531, tel +60123369087.",
    )
    (cid,) = [
        clients.intake.SubmitComplaint(
            complaint(
                complainant=who,
                documents=[evidence],
                subject="Aduan Muthu a/l Rajan",
                description="Saya, Muthu a/l Rajan (012-3369087, muthu.rajan@example.my), melihat pegawai kastam "
                "menerima rasuah RM800.",
            ),
            timeout=10,
        ).complaint_id
    ]
    wait_until(lambda: processed(sup, [cid]), 30, "PROCESSED")
    sent = " ".join(r.text() for r in fake.received())
    assert "[PELAPOR]" in sent and "menerima rasuah RM800" in sent
    for secret in ("Muthu", "Rajan", "880512", "3369087", "336 9087", "muthu.rajan"):
        assert secret not in sent
    with psycopg.connect(sup.admin_url) as conn:
        stored = scalar(
            conn,
            "SELECT subject || description || summary || entities::text FROM analyses WHERE complaint_id = %s",
            (cid,),
        )
    assert "Muthu" not in stored and "880512" not in stored


def test_evidence_is_read_and_a_bad_document_never_fails_the_complaint(sup, fake, clients):
    documents = [
        ("invois.pdf", text_pdf("Invois INV-7731 kepada Majlis Perbandaran", "Jumlah RM12,400.00")),
        ("rosak.pdf", text_pdf("Laporan")[:300]),
        ("sulit.pdf", encrypted_pdf()),
        ("nota.txt", b"Nota: bayaran tunai di belakang pejabat."),
        ("resit.png", text_png("Resit bayaran RM5,000 kepada pegawai", "pada 12 Mac 2025")),
    ]
    (cid,) = [
        clients.intake.SubmitComplaint(
            complaint(documents=[intake_pb2.Document(filename=name, content=content) for name, content in documents]),
            timeout=10,
        ).complaint_id
    ]
    wait_until(lambda: processed(sup, [cid]), 60, "PROCESSED despite two bad documents")
    with psycopg.connect(sup.admin_url) as conn:
        found = conn.execute(
            "SELECT filename, extraction_status, extraction_error FROM documents"
            " WHERE complaint_id = %s ORDER BY ordinal",
            (cid,),
        ).fetchall()
    statuses = {name: (status, error) for name, status, error in found}
    assert statuses["invois.pdf"][0] == statuses["nota.txt"][0] == "extracted"
    assert statuses["rosak.pdf"][0] == "error" and statuses["sulit.pdf"] == ("error", "PDF is encrypted")
    asked = fake.received("analysis")[-1].body["messages"][-1]["content"]
    assert "INV-7731" in asked and "bayaran tunai" in asked
    if ocr_available():
        assert statuses["resit.png"][0] == "extracted" and "RM5,000" in asked
    else:
        assert statuses["resit.png"][0] == "not_extracted"


@pytest.mark.skipif(not ocr_available(), reason="tesseract is not installed")
def test_the_replicas_keep_answering_while_documents_are_read_in_threads(sup, clients):
    pages = [
        intake_pb2.Document(filename=f"halaman-{i}.png", content=text_png(f"Halaman {i}: bayaran RM{i}00"))
        for i in range(8)
    ]
    ids = [clients.intake.SubmitComplaint(complaint(documents=pages), timeout=10).complaint_id for _ in range(4)]
    answered_busy = 0
    while not processed(sup, ids):
        busy = [status(clients, i, deadline=3) for i in range(2)]  # each within 3 s, or the test fails
        answered_busy += sum(s.in_flight > 0 for s in busy)
    assert answered_busy >= 2, "status was never asked while OCR ran"


def test_while_the_model_is_down_complaints_wait_queued_instead_of_spending_attempts(sup, fake, clients):
    fake.down = True
    ids = submit(clients, 6)
    wait_until(lambda: all(status(clients, i).llm_breaker_state == "open" for i in range(2)), 30, "both circuits open")
    wait_until(lambda: all(r["status"] == "QUEUED" for r in rows(sup, ids).values()), 30, "all back in the queue")
    # Several reset periods pass with probes failing; attempts stay unspent.
    probes = len(fake.received())
    wait_until(lambda: len(fake.received()) >= probes + 4, 30, "half-open probes")
    states = rows(sup, ids)
    assert all(r["status"] in ("QUEUED", "PROCESSING") for r in states.values())
    assert max(r["attempts"] for r in states.values()) <= 1, states
    # At most one probe per replica holds a complaint at any moment.
    assert all(status(clients, i).queue_depth >= len(ids) - 2 for i in range(2))

    fake.down = False
    wait_until(lambda: processed(sup, ids), 60, "processed once the model is back")
    assert max(r["attempts"] for r in rows(sup, ids).values()) <= 2
    # A replica that had no call to probe with stays half open until its next complaint.
    wait_until(
        lambda: all(status(clients, i).llm_breaker_state in ("closed", "half_open") for i in range(2)),
        30,
        "circuits no longer open",
    )


def drained(sup: Supervisor, name: str) -> dict:
    assert sup.logs_dir is not None  # running_cluster logs each service to a file
    log = (sup.logs_dir / f"{name}.log").read_text()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{") and '"drained"' in line]
    return lines[-1]


def test_sigterm_releases_unfinished_work_to_the_other_replica_at_once(sup, fake, clients):
    fake.hold()
    ids = submit(clients, 2 * CAPACITY + 4)
    mine = wait_until(lambda: held_by(sup, "pipeline-0"), 30, "pipeline-0 working")
    child = sup.children["pipeline-0"]
    sup.send("pipeline-0", signal.SIGTERM)
    assert child.proc is not None and child.proc.wait(timeout=30) == 0
    assert drained(sup, "pipeline-0")["released"] >= len(mine)
    # Given back without spending an attempt, so not waiting for a lease to expire.
    states = rows(sup, mine)
    assert all((r["attempts"] == 0 and r["status"] == "QUEUED") or r["attempts"] == 1 for r in states.values()), states
    assert all(r["lease_owner"] in (None, "pipeline-1") for r in states.values())
    fake.release()
    wait_until(lambda: processed(sup, ids), 60, "everything processed by pipeline-1")
    assert max(r["attempts"] for r in rows(sup, mine).values()) == 1


def test_sigterm_finishes_in_flight_work_within_the_grace_period(sup, fake, clients):
    fake.latency = 1.0
    ids = submit(clients, 2 * CAPACITY)
    wait_until(lambda: len(held_by(sup, "pipeline-0")) > 0, 30, "pipeline-0 working")
    mine = held_by(sup, "pipeline-0")
    child = sup.children["pipeline-0"]
    sup.send("pipeline-0", signal.SIGTERM)
    assert child.proc is not None and child.proc.wait(timeout=30) == 0
    states = rows(sup, mine)
    assert all(r["status"] == "PROCESSED" and r["attempts"] == 1 for r in states.values()), states
    wait_until(lambda: processed(sup, ids), 60, "the rest processed")


def test_a_replica_killed_mid_run_loses_nothing_and_counts_nothing_twice(sup, fake, clients):
    fake.latency = 0.05
    ids = submit(clients, 100)
    wait_until(
        lambda: (
            sum(r["status"] == "PROCESSED" for r in rows(sup, ids).values()) >= 20
            and len(held_by(sup, "pipeline-0")) >= 4
        ),
        60,
        "pipeline-0 mid-run",
    )
    sup.send("pipeline-0", signal.SIGKILL)
    killed_with = set(held_by(sup, "pipeline-0"))
    wait_until(lambda: all_final(sup.admin_url, ids), 120, "every complaint final")
    tally = assert_consistent(sup.admin_url, ids)
    assert tally == {"PROCESSED": 100}
    states = rows(sup, ids)
    # What the dead replica held was taken over when its lease expired, on a new attempt.
    assert killed_with and all(states[c]["attempts"] == 2 for c in killed_with)
    assert all(r["attempts"] == 1 for c, r in states.items() if c not in killed_with)
    # The whole module's work, not only this test's, adds up.
    with psycopg.connect(sup.admin_url) as conn:
        everything = [r[0] for r in conn.execute("SELECT id::text FROM complaints").fetchall()]
    assert_consistent(sup.admin_url, everything)
