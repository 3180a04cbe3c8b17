"""The officers' reads on a real cluster: ListComplaints with filters and
keyset pages that stay put while complaints arrive, GetComplaint, ListCases,
GetCase, SearchSimilar through the HNSW index, bad input, unknown IDs, an
index behind every query, statement_timeout and client deadlines."""

from __future__ import annotations

import datetime as dt
import uuid

import grpc
import psycopg
import pytest
from google.protobuf import timestamp_pb2
from psycopg import sql

from analytics_service import dashboard
from analytics_service.store import AnalyticsStore, ComplaintFilter, ComplaintKey
from complaints import embedding
from complaints.db import make_pool
from complaints.v1 import analytics_pb2 as pb
from complaints.v1 import intake_pb2, types_pb2
from tests.helpers import complaint, wait_until
from tests.sql import scalar
from tests.system.test_walking_skeleton import field_violations

TEXTS = {
    "roadblock": (
        "Rasuah di sekatan jalan",
        "Seorang anggota polis di sekatan jalan Cheras meminta wang RM300 supaya saman dibatalkan.",
    ),
    "roadblock_again": (
        "Polis minta duit di sekatan jalan",
        "Anggota polis trafik di sekatan jalan Cheras meminta RM300 tunai untuk batalkan saman saya.",
    ),
    "land": (
        "Pegawai tanah minta wang",
        "Pegawai Pejabat Tanah Gombak meminta RM5,000 untuk mempercepatkan kelulusan geran tanah saya.",
    ),
    "claims": (
        "False claims for road works",
        "The contractor Maju Jaya Sdn Bhd submitted false invoices to JKR for road repairs that were never done.",
    ),
    "hospital": (
        "Hospital funds misused",
        "The procurement officer at Hospital Kuala Lumpur misappropriated funds entrusted for medical supplies.",
    ),
    "council": (
        "Council contracts to family",
        "A Majlis Bandaraya officer awarded cleaning contracts to his wife's company, abusing his position.",
    ),
}


def _status(clients, complaint_id: str) -> int:
    return clients.intake.GetComplaintStatus(intake_pb2.GetComplaintStatusRequest(complaint_id=complaint_id)).status


def _submit_processed(clients, items: dict[str, tuple[str, str]], **extra) -> dict[str, str]:
    ids = {
        name: clients.intake.SubmitComplaint(complaint(subject=s, description=d, **extra)).complaint_id
        for name, (s, d) in items.items()
    }
    wait_until(lambda: all(_status(clients, i) == types_pb2.PROCESSED for i in ids.values()), 120, "all PROCESSED")
    return ids


@pytest.fixture(scope="module")
def seeded(cluster, clients) -> dict[str, str]:
    doc = intake_pb2.Document(
        filename="nota.txt", content_type="text/plain", content=b"Nota: wang diserahkan di tepi jalan."
    )
    ids = _submit_processed(clients, {"roadblock": TEXTS["roadblock"]}, documents=[doc])
    ids.update(_submit_processed(clients, {k: v for k, v in TEXTS.items() if k != "roadblock"}))
    return ids


def _all_pages(stub, request, field: str) -> tuple[list, int]:
    items, pages = [], 0
    while True:
        reply = stub(request)
        pages += 1
        items += list(getattr(reply, field))
        if not reply.next_page_token:
            return items, pages
        request.page_token = reply.next_page_token


def _code(method, request) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as caught:
        method(request)
    return caught.value.code()


def test_pages_stay_put_while_new_complaints_arrive(clients, seeded):
    everything = clients.analytics.ListComplaints(pb.ListComplaintsRequest(page_size=500)).complaints
    first = clients.analytics.ListComplaints(pb.ListComplaintsRequest(page_size=2))
    assert [c.complaint_id for c in first.complaints] == [c.complaint_id for c in everything[:2]]
    # New complaints arrive between pages: later pages neither repeat nor skip.
    newcomers = {clients.intake.SubmitComplaint(complaint()).complaint_id for _ in range(3)}
    rest, _ = _all_pages(
        clients.analytics.ListComplaints,
        pb.ListComplaintsRequest(page_size=2, page_token=first.next_page_token),
        "complaints",
    )
    assert [c.complaint_id for c in [*first.complaints, *rest]] == [c.complaint_id for c in everything]
    # They are on a new first page, newest first.
    fresh = clients.analytics.ListComplaints(pb.ListComplaintsRequest(page_size=3))
    assert {c.complaint_id for c in fresh.complaints} == newcomers
    received = [c.received_at.ToDatetime() for c in everything]
    assert received == sorted(received, reverse=True)


def test_default_and_maximum_page_size(clients, seeded):
    # More than a default page (50), whatever other tests stored.
    # Unlike the seeded texts, so no similarity search below finds them first.
    list(
        clients.intake.SubmitComplaints(
            iter(
                [
                    complaint(subject="Inventori", description=f"Senarai inventori alat tulis pejabat, helaian {i}.")
                    for i in range(51)
                ]
            )
        )
    )
    default = clients.analytics.ListComplaints(pb.ListComplaintsRequest())
    assert len(default.complaints) == 50 and default.next_page_token
    everything, _ = _all_pages(clients.analytics.ListComplaints, pb.ListComplaintsRequest(page_size=500), "complaints")
    # Above the maximum (500) is cut to it: one page of all of them, or 500.
    cut = clients.analytics.ListComplaints(pb.ListComplaintsRequest(page_size=10**6))
    assert len(cut.complaints) == min(len(everything), 500)
    assert bool(cut.next_page_token) == (len(everything) > 500)


def test_filters_status_category_sector_case_and_dates(clients, seeded):
    list_ = clients.analytics.ListComplaints
    detail = {k: clients.analytics.GetComplaint(pb.GetComplaintRequest(complaint_id=v)) for k, v in seeded.items()}
    road = detail["roadblock"].complaint
    assert road.category == "BRIBERY" and road.sector == "LAW_ENFORCEMENT"

    by_category = list_(pb.ListComplaintsRequest(category="BRIBERY", page_size=500)).complaints
    assert road.complaint_id in {c.complaint_id for c in by_category}
    assert all(c.category == "BRIBERY" for c in by_category)
    by_sector = list_(pb.ListComplaintsRequest(sector="HEALTH", page_size=500)).complaints
    assert all(c.sector == "HEALTH" for c in by_sector)
    assert {c.complaint_id for c in by_sector} == {
        d.complaint.complaint_id for d in detail.values() if d.complaint.sector == "HEALTH"
    }
    by_case = list_(pb.ListComplaintsRequest(case_id=road.case_id, page_size=500)).complaints
    assert road.complaint_id in {c.complaint_id for c in by_case}
    assert all(c.case_id == road.case_id for c in by_case)
    processed = list_(pb.ListComplaintsRequest(status=types_pb2.PROCESSED, page_size=500)).complaints
    assert set(seeded.values()) <= {c.complaint_id for c in processed}
    assert all(c.status == types_pb2.PROCESSED for c in processed)

    # received_from is inclusive, received_to exclusive.
    at = detail["land"].complaint.received_at
    since = list_(pb.ListComplaintsRequest(received_from=at, page_size=500)).complaints
    assert detail["land"].complaint.complaint_id in {c.complaint_id for c in since}
    assert all(c.received_at.ToDatetime() >= at.ToDatetime() for c in since)
    before = list_(pb.ListComplaintsRequest(received_to=at, page_size=500)).complaints
    assert detail["roadblock"].complaint.complaint_id in {c.complaint_id for c in before}
    assert all(c.received_at.ToDatetime() < at.ToDatetime() for c in before)
    # Filters and pages together (other tests' complaints may be analysed meanwhile).
    paged, _ = _all_pages(list_, pb.ListComplaintsRequest(category="BRIBERY", page_size=1), "complaints")
    ours = set(seeded.values())
    assert [c.complaint_id for c in paged if c.complaint_id in ours] == [
        c.complaint_id for c in by_category if c.complaint_id in ours
    ]


def test_complaints_marked_for_review_are_listed_by_the_filter_and_counted_on_the_dashboard(cluster, clients, seeded):
    # Too little to go on: the fitted model is unsure, so an officer should look.
    doubtful = _submit_processed(clients, {"doubtful": ("Aduan", "Saya nak tanya sesuatu.")})["doubtful"]
    detail = clients.analytics.GetComplaint(pb.GetComplaintRequest(complaint_id=doubtful))
    assert detail.complaint.needs_review
    assert 0 < min(detail.category_confidence, detail.sector_confidence) < 0.9
    sure = clients.analytics.GetComplaint(pb.GetComplaintRequest(complaint_id=seeded["roadblock"]))
    assert not sure.complaint.needs_review and sure.category_confidence > 0.9

    def marked_and_stored() -> tuple[list, int] | None:
        """The listing and the rows, once no other complaint is being analysed meanwhile."""
        with psycopg.connect(cluster.admin_url) as conn:
            busy = scalar(conn, "SELECT count(*) FROM complaints WHERE status IN ('QUEUED', 'PROCESSING')")
            count = scalar(conn, "SELECT count(*) FROM analyses WHERE needs_review")
        marked, _ = _all_pages(
            clients.analytics.ListComplaints, pb.ListComplaintsRequest(needs_review=True, page_size=2), "complaints"
        )
        return (marked, count) if busy == 0 and len(marked) == count else None

    marked, count = wait_until(marked_and_stored, 60, "the marked complaints listed as stored")
    assert doubtful in {c.complaint_id for c in marked} and all(c.needs_review for c in marked)
    wait_until(
        lambda: clients.analytics.GetDashboard(pb.GetDashboardRequest()).summary.needs_review == count,
        30,
        "the dashboard's review count",
    )


def test_bad_filters_page_tokens_and_sizes_are_invalid_argument(clients, seeded):
    list_ = clients.analytics.ListComplaints
    with pytest.raises(grpc.RpcError) as caught:
        list_(pb.ListComplaintsRequest(category="THEFT", sector="SPACE", case_id="abc", page_size=-1, status=42))  # type: ignore[arg-type]  # no such state
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(caught.value)) == {"category", "sector", "case_id", "page_size", "status"}
    later = timestamp_pb2.Timestamp(seconds=2_000_000_000)
    earlier = timestamp_pb2.Timestamp(seconds=1_000_000_000)
    with pytest.raises(grpc.RpcError) as caught:
        list_(pb.ListComplaintsRequest(received_from=later, received_to=earlier))
    assert "received_to" in field_violations(caught.value)

    token = list_(pb.ListComplaintsRequest(page_size=1)).next_page_token
    assert token
    for bad in ("not-a-token", token[:-3], token + "x", "eyJ2IjoxfQ", ""):
        if bad:
            assert (
                _code(list_, pb.ListComplaintsRequest(page_size=1, page_token=bad)) == grpc.StatusCode.INVALID_ARGUMENT
            ), bad
    # A token is bound to the filters it was issued for.
    with pytest.raises(grpc.RpcError) as caught:
        list_(pb.ListComplaintsRequest(page_size=1, page_token=token, category="BRIBERY"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "other filters" in field_violations(caught.value)["page_token"]
    case_token = clients.analytics.ListCases(pb.ListCasesRequest(page_size=1)).next_page_token
    assert _code(list_, pb.ListComplaintsRequest(page_token=case_token)) == grpc.StatusCode.INVALID_ARGUMENT


def test_get_complaint_has_analysis_documents_and_case_but_unknown_is_not_found(clients, seeded):
    got = clients.analytics.GetComplaint(pb.GetComplaintRequest(complaint_id=seeded["roadblock"]))
    assert got.complaint.complaint_id == seeded["roadblock"]
    assert got.complaint.status == types_pb2.PROCESSED
    assert got.complaint.subject == TEXTS["roadblock"][0]
    assert got.description == TEXTS["roadblock"][1]
    assert got.summary and got.analyzer == "local" and "MACC Act 2009 s.16" in got.acts
    assert ("AMOUNT", "RM300.00") in {(e.type, e.value) for e in got.entities}
    assert got.location == "Cheras, Kuala Lumpur" and got.incident_date == "2026-01-15"
    assert got.source_system == "test-suite" and got.channel == "web" and got.attempts == 1
    [doc] = got.documents
    assert (doc.filename, doc.detected_type, doc.extraction_status) == ("nota.txt", "text/plain", "extracted")
    assert doc.size_bytes > 0 and len(doc.sha256) == 64
    assert got.case.case_id == got.complaint.case_id and got.case.complaint_count >= 1

    assert (
        _code(clients.analytics.GetComplaint, pb.GetComplaintRequest(complaint_id=str(uuid.uuid4())))
        == grpc.StatusCode.NOT_FOUND
    )
    for bad in ("", "123", "not-a-uuid"):
        assert (
            _code(clients.analytics.GetComplaint, pb.GetComplaintRequest(complaint_id=bad))
            == grpc.StatusCode.INVALID_ARGUMENT
        )


def test_a_queued_complaint_is_listed_without_analysis(cluster, clients, seeded):
    cluster.send("pipeline-0", 19)  # SIGSTOP: hold both replicas so it stays QUEUED
    cluster.send("pipeline-1", 19)
    try:
        waiting = clients.intake.SubmitComplaint(complaint()).complaint_id
        got = clients.analytics.GetComplaint(pb.GetComplaintRequest(complaint_id=waiting))
        assert got.complaint.status == types_pb2.QUEUED  # no replica runs to claim it
        assert (got.complaint.subject, got.description, got.complaint.category, got.case.case_id) == ("", "", "", "")
        queued = clients.analytics.ListComplaints(pb.ListComplaintsRequest(page_size=500)).complaints
        assert waiting in {c.complaint_id for c in queued}
    finally:
        cluster.send("pipeline-0", 18)  # SIGCONT
        cluster.send("pipeline-1", 18)


def test_cases_pages_detail_and_unknown(clients, seeded):
    cases, _ = _all_pages(clients.analytics.ListCases, pb.ListCasesRequest(page_size=2), "cases")
    ids = [int(c.case_id) for c in cases]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    road = clients.analytics.GetComplaint(pb.GetComplaintRequest(complaint_id=seeded["roadblock"])).complaint
    assert road.case_id in {c.case_id for c in cases}
    bribery = clients.analytics.ListCases(pb.ListCasesRequest(category="BRIBERY", page_size=500)).cases
    assert road.case_id in {c.case_id for c in bribery} and all(c.category == "BRIBERY" for c in bribery)
    assert all(c.sector == "HEALTH" for c in clients.analytics.ListCases(pb.ListCasesRequest(sector="HEALTH")).cases)

    case = clients.analytics.GetCase(pb.GetCaseRequest(case_id=road.case_id))
    assert case.case.case_id == road.case_id
    assert road.complaint_id in {c.complaint_id for c in case.complaints}
    assert len(case.complaints) == case.case.complaint_count
    # Shared means by more than one of its complaints: none in a case of one.
    assert all(1 < e.count <= case.case.complaint_count for e in case.shared_entities)
    assert case.shared_entities or case.case.complaint_count == 1

    assert _code(clients.analytics.GetCase, pb.GetCaseRequest(case_id="999999999")) == grpc.StatusCode.NOT_FOUND
    for bad in ("", "x", "-1", "0", "1" * 30):
        assert _code(clients.analytics.GetCase, pb.GetCaseRequest(case_id=bad)) == grpc.StatusCode.INVALID_ARGUMENT, bad
    assert _code(clients.analytics.ListCases, pb.ListCasesRequest(category="NOPE")) == grpc.StatusCode.INVALID_ARGUMENT


def test_top_entities_and_a_cases_shared_entities_are_what_the_rows_say(cluster, clients, seeded):
    """Both are read from counts the pipeline keeps (ops/migrations/013_entity_counts.sql),
    not from the rows; they must say the same."""
    # The same report twice: one case whose complaints share their entities.
    twins = _submit_processed(clients, {"first": TEXTS["claims"], "second": TEXTS["claims"]})
    cases = {
        clients.analytics.GetComplaint(pb.GetComplaintRequest(complaint_id=i)).complaint.case_id for i in twins.values()
    }
    assert len(cases) == 1, "the same report twice is not one case"
    (case_id,) = cases

    def rows() -> tuple[list, list] | None:
        """The top entities and the case's shared entities, once nothing is being analysed."""
        with psycopg.connect(cluster.admin_url) as conn:
            if scalar(conn, "SELECT count(*) FROM complaints WHERE status IN ('QUEUED', 'PROCESSING')"):
                return None
            top = conn.execute(
                "SELECT type, value, count(*) FROM complaint_entities GROUP BY 1, 2"
                " ORDER BY 3 DESC, type || '|' || value LIMIT 20"
            ).fetchall()
            shared = conn.execute(
                "SELECT ce.type, ce.value, count(*) FROM analyses a"
                " JOIN complaint_entities ce ON ce.complaint_id = a.complaint_id"
                " WHERE a.case_id = %s GROUP BY 1, 2 HAVING count(*) > 1 ORDER BY 3 DESC, 1, 2",
                (int(case_id),),
            ).fetchall()
        return top, shared

    top, shared = wait_until(rows, 60, "no complaint being analysed")
    assert shared, "the twins are not one case sharing entities: this test would check nothing"
    wait_until(
        lambda: (
            [(e.type, e.value, e.count) for e in clients.analytics.GetDashboard(pb.GetDashboardRequest()).top_entities]
            == top
        ),
        30,
        "the dashboard's top entities",
    )
    case = clients.analytics.GetCase(pb.GetCaseRequest(case_id=case_id))
    assert [(e.type, e.value, e.count) for e in case.shared_entities] == shared


def test_search_similar_by_text_and_by_complaint(clients, seeded):
    search = clients.analytics.SearchSimilar
    by_text = search(pb.SearchSimilarRequest(text="pegawai tanah minta duit untuk luluskan geran", limit=3)).results
    assert by_text[0].complaint.complaint_id == seeded["land"]
    assert [r.similarity for r in by_text] == sorted((r.similarity for r in by_text), reverse=True)

    by_id = search(pb.SearchSimilarRequest(complaint_id=seeded["roadblock"], limit=20)).results
    assert seeded["roadblock"] not in {r.complaint.complaint_id for r in by_id}
    # Other tests submit the same roadblock text; of ours, the paraphrase is nearest.
    ours = [r.complaint.complaint_id for r in by_id if r.complaint.complaint_id in seeded.values()]
    assert ours[0] == seeded["roadblock_again"]

    # A filter is applied during the scan: every result matches, and a
    # rare category still gives its complaints.
    health = search(pb.SearchSimilarRequest(text="polis sekatan jalan", sector="HEALTH", limit=5)).results
    assert health and all(r.complaint.sector == "HEALTH" for r in health)
    assert seeded["hospital"] in {r.complaint.complaint_id for r in health}


def test_search_similar_bad_and_unknown(clients, cluster, seeded):
    search = clients.analytics.SearchSimilar
    for request in (
        pb.SearchSimilarRequest(),
        pb.SearchSimilarRequest(text="  "),
        pb.SearchSimilarRequest(text="x" * 10_001),
        pb.SearchSimilarRequest(complaint_id="nope"),
        pb.SearchSimilarRequest(text="x", limit=-1),
        pb.SearchSimilarRequest(text="x", category="NOPE"),
    ):
        assert _code(search, request) == grpc.StatusCode.INVALID_ARGUMENT, request
    assert _code(search, pb.SearchSimilarRequest(complaint_id=str(uuid.uuid4()))) == grpc.StatusCode.NOT_FOUND
    # A limit above 100 is cut to 100: as many as are analysed, up to 100.
    analysed = len(search(pb.SearchSimilarRequest(text="rasuah", limit=100)).results)
    assert analysed >= len(seeded)
    assert len(search(pb.SearchSimilarRequest(text="rasuah", limit=1000)).results) == min(analysed, 100)


class _Explaining:
    """Stands in for a pool: every query the store sends is planned by the
    real PostgreSQL (EXPLAIN) instead of run, and the plan kept."""

    def __init__(self, pool, plans: list[str]) -> None:
        self.pool, self.plans = pool, plans

    def connection(self):
        explaining = self

        class _Conn:
            def __init__(self, conn) -> None:
                self.conn = conn

            def transaction(self):
                return self.conn.transaction()

            async def execute(self, query, params=None):
                text = query if isinstance(query, str) else query.as_string(self.conn)
                if text.startswith("SELECT set_config"):
                    return await self.conn.execute(query, params)
                cur = await self.conn.execute(sql.SQL("EXPLAIN ") + sql.SQL(text), params)
                explaining.plans.append("\n".join(r["QUERY PLAN"] for r in await cur.fetchall()))
                return _Empty()

        class _Context:
            async def __aenter__(self):
                self.cm = explaining.pool.connection()
                conn = await self.cm.__aenter__()
                await conn.execute("SET enable_seqscan = off")
                return _Conn(conn)

            async def __aexit__(self, *exc):
                return await self.cm.__aexit__(*exc)

        return _Context()


class _Empty:
    async def fetchall(self):
        return []

    async def fetchone(self):
        return {"as_of": dt.datetime.now(dt.UTC), "today": "", "counts": [], "entities": [], "cases": []}


async def test_an_index_is_behind_every_query(cluster, seeded):
    """With sequential scans priced out, a plan still holding one has no
    index to use: every query shape the service sends must have one."""
    plans: list[str] = []
    pool = make_pool(cluster.url("analytics"), name="explain", min_size=1, max_size=1, read_only=True)
    await pool.open()
    try:
        store = AnalyticsStore(_Explaining(pool, plans), ef_search=40)  # type: ignore[arg-type]  # stands in for the pool
        now = dt.datetime.now(dt.UTC)
        key = ComplaintKey(now, uuid.uuid4())
        filters = [
            ComplaintFilter(),
            ComplaintFilter(status="PROCESSED"),
            ComplaintFilter(category="BRIBERY"),
            ComplaintFilter(sector="HEALTH"),
            ComplaintFilter(case_id=1),
            ComplaintFilter(received_from=now - dt.timedelta(days=1), received_to=now),
            ComplaintFilter(status="QUEUED", category="BRIBERY", received_from=now),
            ComplaintFilter(needs_review=True),
        ]
        for f in filters:
            for after in (None, key):
                await store.list_complaints(f, after, 51)
        await store.complaint(uuid.uuid4())
        for category, sector, after_case in ((None, None, None), ("BRIBERY", None, 10), (None, "HEALTH", 10)):
            await store.list_cases(category, sector, after_case, 51)
        await store.case(1, 50)
        await store.embedding(uuid.uuid4())
        vector = embedding.query("rasuah")
        await store.similar(vector, 10)
        await store.similar(vector, 10, category="BRIBERY", sector="HEALTH", exclude=uuid.uuid4())
        await dashboard.load(_Explaining(pool, plans), 20, 10)  # type: ignore[arg-type]  # stands in for the pool
    finally:
        await pool.close()
    assert len(plans) == len(filters) * 2 + 1 + 3 + 1 + 1 + 2 + 1
    for plan in plans:
        assert "Seq Scan" not in plan, plan
    # Unfiltered, the nearest are found through HNSW; with filters the
    # planner may pick a btree on the filter and sort exactly (as it did
    # here, with one HEALTH row), or HNSW with the iterative scan.
    assert "Index Scan using analyses_embedding" in plans[-3]


def _cancels(cluster) -> int:
    """Queries PostgreSQL cancelled because their client asked (not by a timeout)."""
    log = (cluster.pg.datadir / "server.log").read_text(encoding="utf-8", errors="replace")
    return log.count("canceling statement due to user request")


def test_statement_timeout_is_deadline_exceeded_and_a_client_deadline_cancels_the_query(cluster, clients, seeded):
    """A lock held elsewhere makes the reads wait: the service's
    statement_timeout ends them with DEADLINE_EXCEEDED, and a client that
    gives up first has its query cancelled in PostgreSQL too."""
    cancels_before = _cancels(cluster)
    with psycopg.connect(cluster.admin_url) as conn:
        conn.execute("LOCK TABLE analyses IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(grpc.RpcError) as caught:
            clients.analytics.ListComplaints(pb.ListComplaintsRequest(category="BRIBERY"), timeout=30)
        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert "ran longer" in caught.value.details()

        with pytest.raises(grpc.RpcError) as caught:
            clients.analytics.GetComplaint(pb.GetComplaintRequest(complaint_id=seeded["land"]), timeout=0.3)
        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED

        def waiting_queries() -> int:
            with psycopg.connect(cluster.admin_url) as other:
                return scalar(
                    other,
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'analytics'"
                    " AND state = 'active' AND wait_event_type = 'Lock'",
                )

        # Ended by the client's cancel, which PostgreSQL tells from the 5 s
        # statement_timeout (conftest.py) in its log: not a matter of time.
        wait_until(lambda: waiting_queries() == 0, 60, "the abandoned query to end")
        assert _cancels(cluster) > cancels_before
        # The dashboard does not wait on the lock: it is the snapshot.
        assert clients.analytics.GetDashboard(pb.GetDashboardRequest(), timeout=10).HasField("as_of")
        conn.rollback()
    assert clients.analytics.GetComplaint(pb.GetComplaintRequest(complaint_id=seeded["land"])).complaint.category
