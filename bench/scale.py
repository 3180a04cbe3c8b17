"""`make bench-scale`: how the cost of each read and write grows with stored
work. For each size (BENCH_SCALE_SIZES, default 10k, 100k and 1M stored
complaints) a fresh database is filled in SQL: processed complaints with
analyses, entities and cases, embeddings generated around the cases' centres
(not embedded: a model would take hours), the pre-computed counters, and a
queue of complaints to claim. Then, one call at a time, p50 and p99 of:

- GetDashboard (served from the snapshot) and the snapshot's reload query;
- ListComplaints, a page 90% of the way down the list (keyset token);
- GetCase of the largest case;
- SearchSimilar by complaint ID (HNSW walk);
- a claim (PipelineStore.claim of one complaint, as a replica does);
- the case join (what a commit does under the grouping lock: the candidate
  query near a case's centre, with a name key shared by many complaints, the
  other members of the case it joins, then pipeline_join_case and
  pipeline_count_entities; rolled back);
- SubmitComplaint (unary, through intake).

Target: no figure grows more than 2x from the smallest size to the largest.
Writes bench/scale.json, bench/scale.md and bench/scale.png.

    python -m bench.scale [size ...]
    BENCH_SCALE_KEEP=1 python -m bench.scale 1000000   # the other sizes stay from bench/scale.json
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import matplotlib
import numpy as np
import psycopg
from pgvector.psycopg import register_vector

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from analytics_service import dashboard, pages
from analytics_service.store import ComplaintFilter
from bench.percentiles import p50_p99_ms
from complaints.auth import bearer
from complaints.db import make_pool
from complaints.taxonomy import CATEGORIES, SECTORS
from complaints.v1 import analytics_pb2, analytics_pb2_grpc, intake_pb2_grpc
from ops import migrate
from ops.embedded_pg import EmbeddedPostgres, free_port
from ops.supervisor import Supervisor
from pipeline_service.analyzer import grouping
from pipeline_service.store import _CANDIDATES as CANDIDATES
from pipeline_service.store import _COUNT_ENTITIES as COUNT_ENTITIES
from pipeline_service.store import _GROUPING_LOCK as GROUPING_LOCK
from pipeline_service.store import _MEMBERS as MEMBERS
from pipeline_service.store import PipelineStore
from tests.helpers import complaint

HERE = Path(__file__).parent
SIZES = [int(s) for s in os.environ.get("BENCH_SCALE_SIZES", "10000,100000,1000000").split(",")]
# A p99 is the 10th slowest of a thousand calls, not the 2nd of 200: one
# stall of this shared machine no longer makes the figure.
CALLS = int(os.environ.get("BENCH_SCALE_CALLS", "1000"))
# Set: the sizes already in bench/scale.json stay in the report beside those run now.
KEEP = bool(os.environ.get("BENCH_SCALE_KEEP"))
QUEUED = 2 * CALLS  # every claim takes one
# The rows are written at the schema before this migration (013_entity_counts.sql)
# and it and the later ones run on them, so their backfills are the fill's.
UPGRADE_FROM = 13
PER_CASE = 20  # complaints per case on average; a few cases are much larger
LARGEST_CASE = 1000  # the same at every size: GetCase's cost by stored work, not by case size
NOISES = 1009  # distinct offsets of an embedding from its case's centre
DIMENSIONS = 384
SETUP = (
    "each size a fresh embedded PostgreSQL (fsync off) filled in SQL at the schema before migration "
    f"{UPGRADE_FROM:03d} ({PER_CASE} complaints per case "
    f"on average, the largest case {LARGEST_CASE}, embeddings around the cases' centres, a name key shared "
    f"by size/5000 complaints, {QUEUED} queued), the HNSW indexes built after the rows with the product's "
    "parameters (m 16, ef_construction 64; maintenance_work_mem 6 GB, one parallel worker), then the later "
    "migrations applied to the rows as on an upgrade; services as make run "
    f"starts them; {CALLS} calls per figure, one at a time, after 5 warm-up calls."
)

MEASURES = [
    "GetDashboard",
    "snapshot reload",
    "ListComplaints deep page",
    "GetCase (largest)",
    "SearchSimilar",
    "claim",
    "case join",
    "SubmitComplaint",
]

# Filled in SQL, as fast as PostgreSQL inserts: the HNSW indexes are dropped
# for the load and built again once (_INDEX), as a restore would.
_FILL = """
DROP INDEX IF EXISTS analyses_embedding;
DROP INDEX IF EXISTS cases_centroid;
-- Case centres: random unit vectors. Case sizes: most about PER_CASE, case 1 the largest.
INSERT INTO cases (title, category, sector, centroid, complaint_count)
SELECT 'Kes ' || i, (%(categories)s::text[])[1 + i %% cardinality(%(categories)s::text[])],
       (%(sectors)s::text[])[1 + i %% cardinality(%(sectors)s::text[])],
       (SELECT array_agg(x / norm)::vector FROM (SELECT x, sqrt(sum(x * x) OVER ()) AS norm
          FROM (SELECT random() - 0.5 + i * 0 AS x FROM generate_series(1, %(dims)s)) r) n),
       0
  FROM generate_series(1, %(cases)s) AS i;
-- A complaint's embedding is its case's centre plus one of `noises` small
-- random offsets, by vector addition (an offset drawn per complaint took most
-- of the fill). `noises` is a prime no case count is a multiple of, so the
-- complaints of one case hardly ever share an offset.
CREATE TEMP TABLE noise AS
SELECT i, (SELECT array_agg((random() - 0.5) * 0.04)::vector FROM generate_series(1, %(dims)s) WHERE i >= 0) AS v
  FROM generate_series(0, %(noises)s - 1) AS i;
CREATE TEMP TABLE gen AS
SELECT gen_random_uuid() AS id, g AS n,
       CASE WHEN g <= %(largest)s THEN (SELECT min(id) FROM cases)
            ELSE (SELECT min(id) FROM cases) + (g %% %(cases)s) END AS case_id,
       now() - make_interval(secs => (g::float8 / %(size)s) * 365 * 86400) AS received_at
  FROM generate_series(1, %(size)s) AS g;
INSERT INTO complaints (id, source_system, idempotency_key, request_sha256, subject, description, status, stage,
                        attempts, received_at, started_at, processed_at, updated_at)
SELECT id, 'scale', 'scale-' || n, '\\x00', 'Aduan ' || n, 'Pegawai meminta wang ' || n, 'PROCESSED', 'done', 1,
       received_at, received_at + interval '1 second', received_at + interval '2 seconds', received_at
  FROM gen;
INSERT INTO analyses (complaint_id, subject, description, category, sector, acts, summary, entities, embedding,
                      case_id, analyzer)
SELECT g.id, 'Aduan ' || g.n, 'Pegawai meminta wang ' || g.n, c.category, c.sector, ARRAY['MACC Act 2009 s.16'],
       'Ringkasan ' || g.n,
       jsonb_build_array(jsonb_build_object('type', 'PERSON', 'value', 'Encik Orang ' || (g.n %% 5000)),
                         jsonb_build_object('type', 'PHONE', 'value', '01' || lpad((g.n %% 100000)::text, 8, '0'))),
       c.centroid + z.v, g.case_id, 'scale'
  FROM gen g JOIN cases c ON c.id = g.case_id JOIN noise z ON z.i = g.n %% %(noises)s;
INSERT INTO complaint_entities (complaint_id, type, value)
SELECT complaint_id, e ->> 'type', e ->> 'value' FROM analyses, jsonb_array_elements(entities) AS e;
-- Grouping keys (011_review_and_grouping.sql): a name shared by size/5000 complaints.
INSERT INTO complaint_keys (complaint_id, kind, key)
SELECT id, 'NAME', 'orang ' || (n %% 5000) FROM gen;
UPDATE cases c SET complaint_count = n.count FROM (SELECT case_id, count(*) FROM analyses GROUP BY 1) n
 WHERE c.id = n.case_id;
-- The pre-computed figures the pipeline would have bumped one by one.
INSERT INTO analytics_counts (dimension, key, shard, value)
SELECT d, k, 0, sum(v) FROM (
    SELECT 'processing' AS d, 'count' AS k, 1::float8 AS v FROM gen
    UNION ALL SELECT 'processing', 'seconds', 2 FROM gen
    UNION ALL SELECT 'category', category, 1 FROM analyses
    UNION ALL SELECT 'sector', sector, 1 FROM analyses
    UNION ALL SELECT 'pattern', category || '|' || sector, 1 FROM analyses) t
 GROUP BY d, k
ON CONFLICT (dimension, key, shard) DO UPDATE SET value = analytics_counts.value + EXCLUDED.value;
INSERT INTO complaints (id, source_system, idempotency_key, request_sha256, description)
SELECT gen_random_uuid(), 'scale', 'scale-queued-' || g, '\\x00', 'Aduan baru ' || g
  FROM generate_series(1, %(queued)s) AS g;
"""

# The product's HNSW indexes (ops/migrations/001_schema.sql, the same
# parameters), built with what a restore of a million embeddings needs on this
# machine: memory for the whole graph (a graph that does not fit is built on
# disk, and a million did not finish in 20 minutes) and a second process.
_INDEX = """
SET LOCAL maintenance_work_mem = '6GB';
SET LOCAL max_parallel_maintenance_workers = 1;
CREATE INDEX analyses_embedding ON analyses USING hnsw (embedding vector_cosine_ops);
CREATE INDEX cases_centroid ON cases USING hnsw (centroid vector_cosine_ops);
"""


def _fill(url: str, size: int) -> dict[str, float]:
    """Fills a database at the schema before UPGRADE_FROM; returns how long
    the rows and the HNSW build took."""
    started = time.monotonic()
    # Client-side binding: one round trip for the whole script.
    with psycopg.connect(url) as conn, psycopg.ClientCursor(conn) as cur:
        cur.execute(
            _FILL,
            {
                "categories": list(CATEGORIES),
                "sectors": list(SECTORS),
                "dims": DIMENSIONS,
                "noises": NOISES,
                "cases": max(size // PER_CASE, 2),
                "largest": min(LARGEST_CASE, size // 10),
                "size": size,
                "queued": QUEUED,
            },
        )
    filled = time.monotonic()
    with psycopg.connect(url) as conn:
        conn.execute(_INDEX)
    return {"fill_seconds": round(filled - started, 1), "index_seconds": round(time.monotonic() - filled, 1)}


def fill(sup: Supervisor, size: int) -> dict[str, float]:
    """The supervisor's database filled with `size` stored complaints: the rows
    as the release before UPGRADE_FROM kept them, then the supervisor applies
    the later migrations, which count what they need from the rows as on an
    upgrade (013's entity counts among them: one copy of that SQL). Returns
    how long each step took."""
    with EmbeddedPostgres(sup.datadir / "pg", sup.pg_port, durable=sup.durable) as pg:
        migrate.apply(pg.url, before=UPGRADE_FROM)
        filled = _fill(pg.url, size)
    started = time.monotonic()
    sup.start_database()  # the same data folder, its passwords and the later migrations
    with psycopg.connect(sup.admin_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return filled | {"upgrade_seconds": round(time.monotonic() - started, 1)}


async def _timed(call: Callable[[int], Awaitable[Any]], n: int = CALLS) -> dict[str, float]:
    for i in range(min(5, n)):  # warm caches and connections
        await call(i)
    latencies = []
    for i in range(n):
        t0 = time.perf_counter()
        await call(i)
        latencies.append(time.perf_counter() - t0)
    p50, p99 = p50_p99_ms(latencies)
    return {"p50_ms": p50, "p99_ms": p99}


def _one_row(cursor: psycopg.Cursor[Any]) -> Any:
    row = cursor.fetchone()
    assert row is not None, "the filled database has no such row"
    return row


async def _measure(sup: Supervisor, size: int) -> dict[str, Any]:
    rng = random.Random(size)
    with psycopg.connect(sup.admin_url) as conn:
        register_vector(conn)
        ids = [
            str(r[0]) for r in conn.execute("SELECT complaint_id FROM analyses ORDER BY random() LIMIT 1000").fetchall()
        ]
        at, deep = _one_row(
            conn.execute(
                "SELECT received_at, id FROM complaints ORDER BY received_at DESC, id DESC OFFSET %s LIMIT 1",
                (size * 9 // 10,),
            )
        )
        largest, members = _one_row(
            conn.execute("SELECT id, complaint_count FROM cases ORDER BY complaint_count DESC LIMIT 1")
        )
        centres = [r[0] for r in conn.execute("SELECT centroid FROM cases ORDER BY random() LIMIT 200")]
    token = pages.encode([at.isoformat(), str(deep)], ComplaintFilter())
    metadata = bearer(sup.dev_key)
    figures: dict[str, Any] = {"largest_case_complaints": members}
    pool = make_pool(sup.admin_url, name="bench-scale", min_size=1, max_size=2)
    await pool.open()
    try:
        async with (
            grpc.aio.insecure_channel(f"127.0.0.1:{sup.analytics_port}") as a,
            grpc.aio.insecure_channel(f"127.0.0.1:{sup.intake_port}") as i,
        ):
            analytics = analytics_pb2_grpc.AnalyticsServiceStub(a)
            intake = intake_pb2_grpc.IntakeServiceStub(i)
            figures["GetDashboard"] = await _timed(
                lambda _: analytics.GetDashboard(analytics_pb2.GetDashboardRequest(), metadata=metadata, timeout=30)
            )
            figures["snapshot reload"] = await _timed(lambda _: dashboard.load(pool, 20, 10))
            figures["ListComplaints deep page"] = await _timed(
                lambda _: analytics.ListComplaints(
                    analytics_pb2.ListComplaintsRequest(page_size=50, page_token=token), metadata=metadata, timeout=30
                )
            )
            figures["GetCase (largest)"] = await _timed(
                lambda _: analytics.GetCase(
                    analytics_pb2.GetCaseRequest(case_id=str(largest)), metadata=metadata, timeout=30
                )
            )
            figures["SearchSimilar"] = await _timed(
                lambda n: analytics.SearchSimilar(
                    analytics_pb2.SearchSimilarRequest(complaint_id=ids[n % len(ids)]), metadata=metadata, timeout=30
                )
            )
            store = PipelineStore(pool, "bench-scale", 300, 5)
            figures["claim"] = await _timed(lambda _: store.claim(1))

            async def join(n: int) -> None:
                # What PipelineStore does under its grouping lock, without the
                # fitted pair score (Python): candidates, the other members of
                # the case it joins, the case update, the entity counts.
                centre = centres[n % len(centres)]
                near = np.asarray([x + rng.uniform(-0.02, 0.02) for x in centre.to_list()], dtype=np.float32)
                async with pool.connection() as conn, conn.transaction(force_rollback=True):
                    await conn.execute(GROUPING_LOCK)
                    await conn.execute("SELECT set_config('hnsw.ef_search', '40', true)")
                    cur = await conn.execute(
                        CANDIDATES,
                        {
                            "q": near,
                            "limit": 20,
                            "self": uuid.uuid4(),
                            "kinds": ["NAME"],
                            "keys": [f"orang {n % 5000}"],
                        },
                        binary=True,  # as PipelineStore reads them
                    )
                    rows = await cur.fetchall()
                    if rows:  # the other members of the case it joins (a contender)
                        await conn.execute(
                            MEMBERS,
                            {
                                "cases": [rows[0]["case_id"]],
                                "found": [r["complaint_id"] for r in rows],
                                "limit": grouping.MEMBERS,
                            },
                            binary=True,
                        )
                    cur = await conn.execute(
                        "SELECT pipeline_join_case(%s, 'BRIBERY', 'LAW_ENFORCEMENT', 'Kes', %s) AS case_id",
                        (rows[0]["case_id"] if rows else None, near),
                    )
                    joined = await cur.fetchone()
                    assert joined is not None
                    await conn.execute(
                        COUNT_ENTITIES,
                        (
                            None,
                            [],
                            [],
                            joined["case_id"],
                            ["PERSON", "PHONE"],
                            [f"Encik Orang {n % 5000}", f"01{n:08d}"],
                        ),
                    )

            figures["case join"] = await _timed(join)
            figures["SubmitComplaint"] = await _timed(
                lambda _: intake.SubmitComplaint(
                    complaint(idempotency_key=str(uuid.uuid4())), metadata=metadata, timeout=30
                )
            )
    finally:
        await pool.close()
    return figures


def _one(size: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"bench-scale-{size}-") as tmp:
        root = Path(tmp)
        sup = Supervisor(
            datadir=root,
            intake_port=free_port(),
            analytics_port=free_port(),
            pipeline_ports=[free_port()],
            pg_port=free_port(),
            durable=False,
            logs_dir=root,
            extra_env={"LOG_LEVEL": "WARNING"},
        )
        begun = time.monotonic()
        run_at = dt.datetime.now(dt.UTC).isoformat(timespec="minutes")
        try:
            print(f"[bench-scale] {size}: filling", flush=True)
            filled = fill(sup, size)
            print(f"[bench-scale] {size}: filled {filled}; measuring", flush=True)
            sup.start_services(pipelines=False)
            figures = asyncio.run(_measure(sup, size))
            figures |= filled | {"run_at": run_at, "seconds": round(time.monotonic() - begun)}
            print(f"[bench-scale] {size}: {figures}", flush=True)
            return figures
        finally:
            sup.stop()


def _growth(results: dict[str, Any]) -> dict[str, dict[str, float]]:
    sizes = sorted(results["sizes"], key=int)
    small, large = results["sizes"][sizes[0]], results["sizes"][sizes[-1]]
    return {m: {q: round(large[m][q] / small[m][q], 2) for q in ("p50_ms", "p99_ms")} for m in MEASURES}


def _write(results: dict[str, Any]) -> None:
    sizes = sorted(results["sizes"], key=int)
    (HERE / "scale.json").write_text(json.dumps(results, indent=2))
    fig, ax = plt.subplots(figsize=(9, 5))
    for measure in MEASURES:
        ax.plot(
            [int(s) for s in sizes], [results["sizes"][s][measure]["p99_ms"] for s in sizes], marker="o", label=measure
        )
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="stored complaints",
        ylabel="p99 ms (one call at a time)",
        title="Cost of each call by stored work",
    )
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(HERE / "scale.png", dpi=110)
    plt.close(fig)
    header = ["call", *(f"{int(s):,} p50 / p99 ms" for s in sizes)]
    rows = [
        [m, *(f"{results['sizes'][s][m]['p50_ms']} / {results['sizes'][s][m]['p99_ms']}" for s in sizes)]
        for m in MEASURES
    ]
    growth = results.get("growth", {})
    if growth:
        header.append(f"p50 / p99 growth {int(sizes[0]):,} → {int(sizes[-1]):,} (target ≤ 2)")
        for row, m in zip(rows, MEASURES):
            row.append(f"{growth[m]['p50_ms']} / {growth[m]['p99_ms']}")
    lines = [
        "# Cost by stored work",
        "",
        "Produced by `make bench-scale` on this 2-core machine: " + results["setup"],
        "",
        "Runs: "
        + "; ".join(
            f"{int(s):,} at {r['run_at']}, {r['seconds']} s in all (rows {r['fill_seconds']} s, "
            f"HNSW build {r['index_seconds']} s, later migrations {r['upgrade_seconds']} s; "
            f"largest case {r['largest_case_complaints']} complaints)"
            for s, r in ((s, results["sizes"][s]) for s in sizes)
        )
        + ".",
        "",
        "![cost by stored work](scale.png)",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    (HERE / "scale.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or SIZES
    results: dict[str, Any] = {
        "setup": SETUP,
        "sizes": {},
    }
    if KEEP:
        # Sizes run one at a time (to share the machine) join the report of the others.
        results["sizes"] = json.loads((HERE / "scale.json").read_text())["sizes"]
    for size in sizes:
        results["sizes"][str(size)] = _one(size)
    if len(results["sizes"]) > 1:
        results["growth"] = _growth(results)
    _write(results)
    print(f"[bench-scale] report: {HERE / 'scale.md'}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
