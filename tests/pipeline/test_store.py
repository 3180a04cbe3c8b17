"""The pipeline's SQL on a real PostgreSQL, driven directly: the fence that
stops a stale replica from committing, grouping serialised and the same as
the evaluated one,
sharded analytics, retries to FAILED, release and Reprocess."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import uuid

import numpy as np
import psycopg
import pytest

from ops import evaluate
from ops.corpus import load
from ops.corpus.vectors import embed
from ops.embedded_pg import EmbeddedPostgres
from pipeline_service.analyzer import Analysis, Entity, model
from pipeline_service.store import Grouping, LeaseLost, PipelineStore, Work
from tests.helpers import wait_until
from tests.invariants import assert_consistent
from tests.sql import one_row, scalar

GROUPING = Grouping(model.load().pairs, candidates=20, ef_search=40)


def submit(pg: EmbeddedPostgres, n: int, text: str = "Pegawai polis meminta rasuah RM300.") -> list[uuid.UUID]:
    """Complaints as intake stores them: QUEUED."""
    ids = [uuid.uuid4() for _ in range(n)]
    with psycopg.connect(pg.url) as conn:
        for cid in ids:
            conn.execute(
                "INSERT INTO complaints (id, source_system, idempotency_key, request_sha256, description)"
                " VALUES (%s, 'store-test', %s, %s, %s)",
                (cid, str(cid), hashlib.sha256(cid.bytes).digest(), text),
            )
    return ids


def analysis(category: str = "BRIBERY", vector: np.ndarray | None = None, entities=()) -> Analysis:
    if vector is None:
        vector = np.zeros(384, dtype=np.float32)
        vector[0] = 1.0
    return Analysis(category, "LAW_ENFORCEMENT", ["MACC Act 2009 s.16"], "ringkasan", list(entities), vector, "test")


async def commit(store: PipelineStore, work: Work, result: Analysis) -> int:
    return await store.commit(work, "subjek", "huraian", result, {}, GROUPING)


def expire(pg: EmbeddedPostgres, cid: uuid.UUID) -> None:
    with psycopg.connect(pg.url) as conn:
        conn.execute("UPDATE complaints SET lease_expires_at = now() - interval '1 second' WHERE id = %s", (cid,))


def row(pg: EmbeddedPostgres, cid: uuid.UUID) -> dict:
    with psycopg.connect(pg.url, row_factory=psycopg.rows.dict_row) as conn:
        return one_row(
            conn,
            "SELECT c.*, (SELECT count(*) FROM analyses a WHERE a.complaint_id = c.id) AS analyses"
            "  FROM complaints c WHERE id = %s",
            (cid,),
        )


async def test_a_replica_whose_lease_was_taken_over_cannot_commit(pg, stores):
    stale, fresh = stores
    (cid,) = submit(pg, 1)
    (old,) = await stale.claim(1, only=[cid])
    stale_work = await stale.load(old)
    expire(pg, cid)  # the stale replica hung past its lease
    (new,) = await fresh.claim(1, only=[cid])
    assert new.token > old.token and new.attempt == 2

    assert await stale.heartbeat([old]) == set(), "a stale heartbeat must not extend the new owner's lease"
    with pytest.raises(LeaseLost):
        await commit(stale, stale_work, analysis())
    assert (await stale.release([old])) == 0
    assert await stale.retry_or_fail(old, "late failure", 0) is None

    await commit(fresh, await fresh.load(new), analysis())
    with pytest.raises(LeaseLost):
        await commit(stale, stale_work, analysis())
    state = row(pg, cid)
    assert (state["status"], state["analyses"], state["lease_owner"]) == ("PROCESSED", 1, None)
    assert_consistent(pg.url, [str(cid)])


async def test_near_identical_complaints_committed_at_once_by_two_replicas_open_one_case(pg, stores):
    ids = submit(pg, 16, "Rasuah di pelabuhan Pasir Gudang")
    base = np.random.default_rng(3).standard_normal(384).astype(np.float32)
    claimed = [await stores[i % 2].claim(1, only=[cid]) for i, cid in enumerate(ids)]
    works = [await stores[i % 2].load(lease) for i, (lease,) in enumerate(claimed)]

    # One incident reported sixteen times: the same officer, plate, amount and place.
    text = "Inspektor Rahim dari Balai Polis Tanjung Kupang minta RM5,000 supaya lori JQT 8812 dilepaskan."
    same = [Entity("VEHICLE_PLATE", "JQT8812"), Entity("PERSON", "Inspektor Rahim"), Entity("AMOUNT", "RM5,000.00")]

    async def one(i: int, work: Work) -> int:
        vector = base + np.random.default_rng(i).standard_normal(384).astype(np.float32) * 0.01
        result = analysis("MONEY_LAUNDERING", vector / np.linalg.norm(vector), same)
        return await stores[i % 2].commit(work, "", text, result, {}, GROUPING)

    cases = await asyncio.gather(*(one(i, w) for i, w in enumerate(works)))
    assert len(set(cases)) == 1, f"one matter, several cases: {sorted(set(cases))}"
    with psycopg.connect(pg.url) as conn:
        count, centroid = one_row(conn, "SELECT complaint_count, centroid::text FROM cases WHERE id = %s", (cases[0],))
        opened = scalar(conn, "SELECT count(*) FROM cases WHERE category = 'MONEY_LAUNDERING'")
    assert (count, opened) == (16, 1)
    mean = np.fromstring(centroid.strip("[]"), sep=",")
    assert float(mean @ base / np.linalg.norm(mean) / np.linalg.norm(base)) > 0.99
    assert_consistent(pg.url, [str(c) for c in ids])


async def test_analytics_counters_are_spread_over_shards_not_one_hot_row(pg, stores):
    ids = submit(pg, 12)
    leases = [(await stores[i % 2].claim(1, only=[cid]))[0] for i, cid in enumerate(ids)]
    works = [await stores[i % 2].load(lease) for i, lease in enumerate(leases)]
    await asyncio.gather(*(commit(stores[i % 2], w, analysis("FALSE_CLAIM")) for i, w in enumerate(works)))
    with psycopg.connect(pg.url) as conn:
        shards = conn.execute(
            "SELECT shard, value FROM analytics_counts WHERE dimension = 'category' AND key = 'FALSE_CLAIM'"
        ).fetchall()
        pids = {
            r[0]
            for r in conn.execute(
                "SELECT pid % 16 FROM pg_stat_activity WHERE application_name IN ('replica-a', 'replica-b')"
            ).fetchall()
        }
    assert sum(v for _, v in shards) == 12
    assert len(shards) > 1 and {s for s, _ in shards} <= pids, "each connection adds to its own shard"
    assert_consistent(pg.url, [str(c) for c in ids])


async def test_attempts_back_off_then_fail_with_the_error_and_reprocess_does_not_count_twice(pg, stores):
    store = stores[0]
    (cid,) = submit(pg, 1)
    for attempt in (1, 2):
        (lease,) = await store.claim(1, only=[cid])
        assert lease.attempt == attempt
        assert await store.retry_or_fail(lease, f"InvalidAnswer: attempt {attempt}", backoff_seconds=60) == "QUEUED"
        assert await store.claim(1, only=[cid]) == [], "claimed before its backoff ended"
        with psycopg.connect(pg.url) as conn:
            conn.execute("UPDATE complaints SET next_attempt_at = now() WHERE id = %s", (cid,))
    (lease,) = await store.claim(1, only=[cid])
    assert await store.retry_or_fail(lease, "InvalidAnswer: attempt 3", 60) == "FAILED"
    state = row(pg, cid)
    assert (state["status"], state["attempts"], state["last_error"]) == ("FAILED", 3, "InvalidAnswer: attempt 3")
    assert_consistent(pg.url, [str(cid)])

    for _ in range(2):  # reprocessed after failing, then after succeeding
        await store.reprocess(cid)
        assert (row(pg, cid)["status"], row(pg, cid)["attempts"]) == ("QUEUED", 0)
        (lease,) = await store.claim(1, only=[cid])
        await commit(
            store, await store.load(lease), analysis("ABUSE_OF_POWER", entities=[Entity("PERSON", "Encik Ali")])
        )
        assert row(pg, cid)["analyses"] == 1
        assert_consistent(pg.url, [str(cid)])


async def test_an_abandoned_last_attempt_fails_with_an_error_and_a_released_lease_costs_no_attempt(pg, stores):
    store = stores[1]
    first, second = submit(pg, 2)
    (lease,) = await store.claim(1, only=[first])
    assert await store.release([lease]) == 1
    state = row(pg, first)
    assert (state["status"], state["attempts"], state["stage"]) == ("QUEUED", 0, "released")

    with psycopg.connect(pg.url) as conn:
        conn.execute("UPDATE complaints SET attempts = 2, last_error = 'Transient: HTTP 503' WHERE id = %s", (second,))
    (lease,) = await store.claim(1, only=[second])
    assert lease.attempt == 3
    expire(pg, second)
    assert await store.claim(1, only=[second]) == [], "no fourth attempt"
    assert await store.fail_abandoned() == 1
    state = row(pg, second)
    assert state["status"] == "FAILED" and state["last_error"].startswith("lease expired on attempt 3 of 3")
    assert_consistent(pg.url, [str(second)])


async def test_the_store_groups_complaints_across_categories_as_the_evaluation_does(pg, stores):
    """Reports of test-split incidents and their distractors, committed one by
    one through the real candidate search and pair score, end in the cases the
    evaluation (ops/evaluate.py, make eval) computes for them."""
    rows = load(["test"])
    groups = sorted({r.incident for r in rows if r.incident})[:4]
    rows = [r for r in rows if r.incident in groups or r.distractor_of in groups]
    vectors = embed(rows, cache=False)
    found = evaluate.answers(rows, vectors)
    expected = evaluate.cluster(rows, vectors, found, GROUPING.pairs)
    store = stores[0]
    ids = submit(pg, len(rows))
    cases: list[int] = []
    for cid, answer, vector in zip(ids, found, vectors):
        (lease,) = await store.claim(1, only=[cid])
        result = Analysis(answer.category, answer.sector, [], "", list(answer.entities), vector, "test")
        cases.append(await store.commit(await store.load(lease), "", rows[len(cases)].text, result, {}, GROUPING))

    def partition(labels: list[int]) -> set[frozenset[int]]:
        return {frozenset(i for i, x in enumerate(labels) if x == label) for label in labels}

    assert partition(cases) == partition(expected)
    assert len(set(cases)) < len(rows), "some reports were grouped"
    assert_consistent(pg.url, [str(c) for c in ids])


async def test_a_reprocessed_complaint_leaves_its_case_whose_centroid_is_the_mean_of_those_left(pg, stores):
    store = stores[0]
    ids = submit(pg, 3, "Rasuah di jeti Lumut")
    rng = np.random.default_rng(11)
    base = rng.standard_normal(384).astype(np.float32)
    text = "Sarjan Kamal minta RM2,000 supaya bot WKL 4471 tidak diperiksa di jeti Lumut."
    same = [Entity("VEHICLE_PLATE", "WKL4471"), Entity("PERSON", "Sarjan Kamal")]
    vectors, cases = [], []
    for cid in ids:
        vector = base + rng.standard_normal(384).astype(np.float32) * 0.01
        vectors.append(vector / np.linalg.norm(vector))
        (lease,) = await store.claim(1, only=[cid])
        work = await store.load(lease)
        cases.append(await store.commit(work, "", text, analysis("BRIBERY", vectors[-1], same), {}, GROUPING))
    assert len(set(cases)) == 1

    # Analysed again, the last report turns out to be about something else.
    await store.reprocess(ids[2])
    (lease,) = await store.claim(1, only=[ids[2]])
    other = rng.standard_normal(384).astype(np.float32)
    result = analysis("CRIMINAL_BREACH_OF_TRUST", other / np.linalg.norm(other))
    text = "Tuntutan perjalanan palsu di pejabat daerah."
    moved = await store.commit(await store.load(lease), "", text, result, {}, GROUPING)
    assert moved != cases[0]
    with psycopg.connect(pg.url) as conn:
        count, centroid = one_row(conn, "SELECT complaint_count, centroid::text FROM cases WHERE id = %s", (cases[0],))
    assert count == 2
    mean = np.fromstring(centroid.strip("[]"), sep=",")
    np.testing.assert_allclose(mean, (vectors[0] + vectors[1]) / 2, atol=1e-5)
    assert_consistent(pg.url, [str(c) for c in ids])


def test_joining_a_case_reads_as_many_pages_with_thousands_of_cases_as_with_one(pg):
    """Under the grouping lock a join updates its case's row and nothing that
    grows with the cases (016_drop_case_centroid_index.sql: an HNSW graph of
    the centroids, which nothing searches, was walked at every join)."""
    rng = np.random.default_rng(16)

    def vector() -> str:
        v = rng.standard_normal(384)
        return "[" + ",".join(f"{x:.5f}" for x in v / np.linalg.norm(v)) + "]"

    def pages(conn: psycopg.Connection, case_id: int) -> int:
        (plan,) = scalar(
            conn,
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)"
            " SELECT pipeline_join_case(%s, 'BRIBERY', 'LAW_ENFORCEMENT', 'Kes', %s::vector)",
            (case_id, vector()),
        )
        return int(plan["Plan"]["Shared Hit Blocks"] + plan["Plan"]["Shared Read Blocks"])

    with psycopg.connect(pg.url) as conn, conn.transaction(force_rollback=True):
        insert = (
            "INSERT INTO cases (title, category, sector, centroid, complaint_count)"
            " VALUES ('Kes', 'BRIBERY', 'LAW_ENFORCEMENT', %s::vector, 1) RETURNING id"
        )
        first = scalar(conn, insert, (vector(),))
        pages(conn, first)  # the plan and the function cached, as a replica's session has them
        alone = pages(conn, first)
        with conn.cursor() as cur:
            cur.executemany(insert, [(vector(),) for _ in range(2000)])
        among_many = pages(conn, first)
    assert among_many <= alone + 10, (alone, among_many)


async def test_a_complaint_stays_out_of_a_case_whose_other_member_rules_it_out(pg, stores):
    """PairModel.join on a real database: the third report is near the second,
    which joined the first's case, but names another month and another amount
    than the first. Only one candidate is searched, so the store meets the
    first as another member of the candidate's case (_MEMBERS), and keeps the
    third out; reprocessed with no member floor, the same report joins."""
    store = stores[0]
    pairs = dataclasses.replace(GROUPING.pairs, threshold=0.5, member_floor=0.5)
    rng = np.random.default_rng(27)
    center, basis = pairs.neutral.center, pairs.neutral.basis

    def direction() -> np.ndarray:
        x = rng.standard_normal(384)
        return x - (x @ basis.T) @ basis

    # Language-neutral directions: the first and third unrelated, the second between them.
    first, third = direction(), direction()
    third -= (third @ first) / (first @ first) * first
    first, third = first / np.linalg.norm(first), third / np.linalg.norm(third)
    second = (first + third) / np.linalg.norm(first + third)
    reports = [
        (
            "Koperal Zainudin minta RM2,000 di jeti Kuala Kedah pada 3 Mac.",
            [Entity("PERSON", "Koperal Zainudin"), Entity("AMOUNT", "RM2000"), Entity("DATE", "2026-03-03")],
            first,
        ),
        (
            "Koperal Zainudin minta duit supaya bot PKN 8123 tidak diperiksa di jeti Kuala Kedah.",
            [Entity("VEHICLE_PLATE", "PKN8123"), Entity("PERSON", "Koperal Zainudin")],
            second,
        ),
        (
            "Bot PKN 8123 diminta RM90 di jeti Kuala Kedah pada 9 Ogos.",
            [Entity("VEHICLE_PLATE", "PKN8123"), Entity("AMOUNT", "RM90"), Entity("DATE", "2026-08-09")],
            third,
        ),
    ]
    seen = [
        pairs.evidence(center + 2 * d, pairs.keys(e, f"\n\n{t}"), "BRIBERY", "LAW_ENFORCEMENT") for t, e, d in reports
    ]
    # The premise, in the fitted score: the second is the first's, the third the second's but not the first's.
    assert min(pairs.probabilities(seen[1], [seen[0]])[0], pairs.probabilities(seen[2], [seen[1]])[0]) >= 0.5
    assert pairs.probabilities(seen[2], [seen[1]], [seen[0]])[0] < 0.5

    ids = submit(pg, 3, "Rasuah di jeti Kuala Kedah")
    one_candidate = Grouping(pairs, candidates=1, ef_search=40)
    cases = []
    for cid, (text, entities, d) in zip(ids, reports):
        (lease,) = await store.claim(1, only=[cid])
        result = analysis("BRIBERY", (center + 2 * d).astype(np.float32), entities)
        cases.append(await store.commit(await store.load(lease), "", text, result, {}, one_candidate))
    assert cases[1] == cases[0], "the second report joins the first's case"
    assert cases[2] != cases[0], "the first report keeps the third out of its case"

    await store.reprocess(ids[2])
    (lease,) = await store.claim(1, only=[ids[2]])
    text, entities, d = reports[2]
    result = analysis("BRIBERY", (center + 2 * d).astype(np.float32), entities)
    no_floor = Grouping(dataclasses.replace(pairs, member_floor=0.0), candidates=1, ef_search=40)
    assert await store.commit(await store.load(lease), "", text, result, {}, no_floor) == cases[0]
    assert_consistent(pg.url, [str(c) for c in ids])


async def test_loading_notes_the_first_stage_and_only_the_holder_notes_a_stage(pg, stores):
    stale, fresh = stores
    plain, with_document = submit(pg, 2)
    with psycopg.connect(pg.url) as conn:
        conn.execute(
            "INSERT INTO documents (complaint_id, ordinal, filename, detected_type, size_bytes, sha256, content)"
            " VALUES (%s, 0, 'nota.txt', 'text/plain', 4, '', 'nota')",
            (with_document,),
        )
    (read_first,) = await fresh.claim(1, only=[with_document])
    await fresh.load(read_first)
    assert row(pg, with_document)["stage"] == "extracting"

    (old,) = await stale.claim(1, only=[plain])
    assert row(pg, plain)["stage"] == "claimed"
    await stale.load(old)
    assert row(pg, plain)["stage"] == "analysing", "nothing to extract"
    expire(pg, plain)
    (new,) = await fresh.claim(1, only=[plain])
    await stale.set_stage(old, "analysing")
    assert row(pg, plain)["stage"] == "claimed", "a stale replica moved the new owner's stage"
    with pytest.raises(LeaseLost):
        await stale.load(old)
    await commit(fresh, await fresh.load(new), analysis())
    await fresh.set_stage(new, "analysing")
    assert row(pg, plain)["stage"] == "done", "a late note undid the commit's"
    await fresh.release([read_first])


def blocked_by(pg: EmbeddedPostgres, waiter: str, holder: str) -> bool:
    """Whether a connection named `waiter` waits for a lock one named `holder` holds."""
    with psycopg.connect(pg.url) as conn:
        return scalar(
            conn,
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity w JOIN pg_stat_activity h"
            "                 ON h.pid = ANY(pg_blocking_pids(w.pid))"
            "                WHERE w.application_name = %s AND h.application_name = %s)",
            (waiter, holder),
        )


async def test_a_reprocessed_complaint_leaving_its_case_while_another_joins_it_does_not_deadlock(pg, stores):
    """A reprocessed complaint leaves its case and rejoins it on one replica
    while a new report of the same incident joins that case on the other.
    The interleaving that deadlocked (40P01 after deadlock_timeout): the
    reprocess locked the case's row as it left it, then waited for the
    grouping lock; the join held the grouping lock and waited for the row.
    A third transaction holding the reprocessed complaint's entity rows stops
    the reprocess just after it leaves the case, before it groups; the join
    starts only then, and the third transaction lets go once the join waits
    on the reprocess (or is done). Then both run free, again and again."""
    reprocessor, joiner = stores
    rng = np.random.default_rng(23)
    base = rng.standard_normal(384).astype(np.float32)
    text = "Koperal Azman minta RM800 supaya van BKL 3390 tidak disaman di Jalan Kuantan."
    same = [Entity("VEHICLE_PLATE", "BKL3390"), Entity("PERSON", "Koperal Azman"), Entity("AMOUNT", "RM800.00")]

    def report() -> Analysis:
        vector = base + rng.standard_normal(384).astype(np.float32) * 0.01
        return analysis("BRIBERY", vector / np.linalg.norm(vector), same)

    async def process(store: PipelineStore, cid: uuid.UUID) -> int:
        (lease,) = await store.claim(1, only=[cid])
        return await store.commit(await store.load(lease), "", text, report(), {}, GROUPING)

    ids = submit(pg, 2, text)
    (case,) = {await process(reprocessor, cid) for cid in ids}
    leaving = ids[0]

    async def round_trip(gated: bool) -> None:
        await reprocessor.reprocess(leaving)
        (joining,) = submit(pg, 1, text)
        ids.append(joining)
        if not gated:
            outcomes = await asyncio.gather(
                process(reprocessor, leaving), process(joiner, joining), return_exceptions=True
            )
        else:
            with psycopg.connect(pg.url, application_name="gate") as gate:
                gate.execute("SELECT 1 FROM complaint_entities WHERE complaint_id = %s FOR UPDATE", (leaving,))
                reprocessing = asyncio.ensure_future(process(reprocessor, leaving))
                await asyncio.to_thread(
                    wait_until, lambda: blocked_by(pg, "replica-a", "gate"), 30, "the reprocess stopped by the gate"
                )
                join = asyncio.ensure_future(process(joiner, joining))
                await asyncio.to_thread(
                    wait_until,
                    lambda: join.done() or blocked_by(pg, "replica-b", "replica-a"),
                    30,
                    "the join done or waiting on the reprocess",
                )
            outcomes = await asyncio.gather(reprocessing, join, return_exceptions=True)
        failed = [o for o in outcomes if isinstance(o, BaseException)]
        assert not failed, f"reprocess and join of case {case}: {failed!r}"
        assert outcomes == [case, case], "both reports belong to the one case"

    for gated in [True] * 5 + [False] * 20:
        await round_trip(gated)
        assert_consistent(pg.url, [str(c) for c in ids])
    with psycopg.connect(pg.url) as conn:
        assert scalar(conn, "SELECT complaint_count FROM cases WHERE id = %s", (case,)) == len(ids)


@pytest.mark.parametrize(
    "change", ["pipeline_leave_case(%s, %s)", "pipeline_join_case(%s, 'BRIBERY', 'HEALTH', 't', %s)"]
)
async def test_the_case_functions_take_the_grouping_lock_before_the_case_row(pg, change):
    """Whoever calls them: a case function waiting for the grouping lock holds
    no case row yet, so nothing can wait for that row while holding the lock."""
    vector = analysis().embedding
    with psycopg.connect(pg.url, autocommit=True) as admin:
        case = scalar(
            admin,
            "INSERT INTO cases (title, category, sector, centroid)"
            " VALUES ('t', 'BRIBERY', 'HEALTH', %s::vector) RETURNING id",
            (str(vector.tolist()),),
        )
    try:
        with psycopg.connect(pg.url, application_name="grouping") as holder:
            holder.execute("SELECT pipeline_grouping_lock()")
            changing = asyncio.ensure_future(asyncio.to_thread(change_and_roll_back, pg, change, case, vector))
            await asyncio.to_thread(
                wait_until,
                lambda: changing.done() or blocked_by(pg, "case-change", "grouping"),
                30,
                "the change waiting for the grouping lock, or done",
            )
            assert not changing.done(), "the case changed without the grouping lock"
            with psycopg.connect(pg.url) as other:
                other.execute("SET lock_timeout = '1ms'")
                other.execute("SELECT id FROM cases WHERE id = %s FOR UPDATE NOWAIT", (case,))
        await changing
    finally:
        with psycopg.connect(pg.url, autocommit=True) as admin:
            admin.execute("DELETE FROM cases WHERE id = %s", (case,))


def change_and_roll_back(pg: EmbeddedPostgres, change: str, case: int, vector: np.ndarray) -> None:
    with psycopg.connect(pg.url_for("complaints_pipeline"), application_name="case-change") as conn:
        conn.execute(f"SELECT {change}", (case, str(vector.tolist())))
        conn.rollback()
