"""What every fault case must end with: each acknowledged complaint PROCESSED
exactly once or visibly FAILED, and analytics totals equal to the rows."""

from __future__ import annotations

import psycopg

from tests.sql import scalar


def final_statuses(url: str, ids: list[str]) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT id::text, status FROM complaints WHERE id = ANY(%s::uuid[])", (ids,)).fetchall()
    return dict(rows)


def all_final(url: str, ids: list[str]) -> bool:
    statuses = final_statuses(url, ids)
    return len(statuses) == len(ids) and all(s in ("PROCESSED", "FAILED") for s in statuses.values())


def assert_consistent(url: str, ids: list[str]) -> dict[str, int]:
    """Checks the guarantees; returns how many ended in each status."""
    with psycopg.connect(url) as conn:
        q = conn.execute
        statuses: dict[str, str] = dict(
            q("SELECT id::text, status FROM complaints WHERE id = ANY(%s::uuid[])", (ids,)).fetchall()
        )
        assert set(statuses) == set(ids), "an acknowledged complaint is missing"
        unfinished = {i: s for i, s in statuses.items() if s not in ("PROCESSED", "FAILED")}
        assert not unfinished, f"complaints not final: {list(unfinished.items())[:5]}"
        failed = q("SELECT id, last_error FROM complaints WHERE status = 'FAILED' AND last_error = ''").fetchall()
        assert not failed, "a FAILED complaint must keep its error"

        # Exactly one analysis per processed complaint, none for the others.
        per: dict[str, int] = dict(q("SELECT complaint_id::text, count(*) FROM analyses GROUP BY 1").fetchall())
        for cid, status in statuses.items():
            assert per.get(cid, 0) == (1 if status == "PROCESSED" else 0), (cid, status, per.get(cid))
    assert_figures(url)
    tally: dict[str, int] = {}
    for status in statuses.values():
        tally[status] = tally.get(status, 0) + 1
    return tally


def assert_figures(url: str) -> None:
    """Every pre-computed figure equals what the rows say, over the whole database."""
    with psycopg.connect(url) as conn:
        q = conn.execute
        counted = {
            (d, k): round(v)
            for d, k, v in q("SELECT dimension, key, sum(value) FROM analytics_counts GROUP BY 1, 2").fetchall()
        }

        def figure(dim: str, key: str) -> int:
            return counted.get((dim, key), 0)

        for status, n in q("SELECT status, count(*) FROM complaints GROUP BY 1").fetchall():
            assert figure("status", status) == n, ("status", status, figure("status", status), n)
        for status in ("QUEUED", "PROCESSING", "PROCESSED", "FAILED"):
            n = scalar(conn, "SELECT count(*) FROM complaints WHERE status = %s", (status,))
            assert figure("status", status) == n, ("status", status)
        for category, n in q("SELECT category, count(*) FROM analyses GROUP BY 1").fetchall():
            assert figure("category", category) == n, ("category", category, figure("category", category), n)
        for sector, n in q("SELECT sector, count(*) FROM analyses GROUP BY 1").fetchall():
            assert figure("sector", sector) == n, ("sector", sector)
        entities: dict[str, int] = dict(
            q("SELECT type || '|' || value, count(*) FROM complaint_entities GROUP BY 1").fetchall()
        )
        entity_counts: dict[str, int] = dict(q("SELECT key, complaints FROM entity_counts").fetchall())
        assert entity_counts == entities, ("entity", set(entity_counts.items()) ^ set(entities.items()))
        in_case = q(
            "SELECT a.case_id, ce.type, ce.value, count(*) FROM analyses a"
            " JOIN complaint_entities ce ON ce.complaint_id = a.complaint_id"
            " WHERE a.case_id IS NOT NULL GROUP BY 1, 2, 3"
        ).fetchall()
        case_entities = q("SELECT case_id, type, value, complaints FROM case_entities").fetchall()
        assert set(case_entities) == set(in_case), ("case entities", set(case_entities) ^ set(in_case))
        processed = scalar(conn, "SELECT count(*) FROM complaints WHERE status = 'PROCESSED'")
        assert figure("processing", "count") == processed
        in_cases = scalar(conn, "SELECT count(*) FROM analyses WHERE case_id IS NOT NULL")
        case_total = scalar(conn, "SELECT coalesce(sum(complaint_count), 0) FROM cases")
        assert case_total == in_cases, ("cases", case_total, in_cases)
