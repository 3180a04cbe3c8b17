"""The officers' read queries, every statement named below (the dashboard's
own query is in dashboard.py).

Each is one statement as the read-only complaints_analytics role, under the
pool's statement_timeout, and has an index behind it (the plans are checked
in tests/analytics/test_reads.py). Complainant identity is out of reach of
this role: subject and description come from analyses, where they are masked.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
from psycopg import sql

from complaints.db import ServicePool


@dataclass(frozen=True)
class ComplaintFilter:
    status: str | None = None
    category: str | None = None
    sector: str | None = None
    case_id: int | None = None
    received_from: dt.datetime | None = None
    received_to: dt.datetime | None = None
    # True: only complaints marked for review; None: any.
    needs_review: bool | None = None

    @property
    def needs_analysis(self) -> bool:
        return any(v is not None for v in (self.category, self.sector, self.case_id, self.needs_review))


@dataclass(frozen=True)
class ComplaintKey:
    """Where a page of complaints ends: newest first, by received_at then ID."""

    received_at: dt.datetime
    id: uuid.UUID


# What every complaint listing returns, from complaints c and analyses a.
_SUMMARY = "c.id, c.status, c.received_at, a.subject, a.category, a.sector, a.case_id, a.needs_review"

_CASE = "k.id, k.title, k.category, k.sector, k.complaint_count, k.updated_at"

_COMPLAINT = f"""
SELECT {_SUMMARY}, c.channel, c.source_system, c.location, c.incident_date, c.attempts, c.last_error,
       a.description, a.summary, a.acts, a.entities, a.analyzer, a.category_confidence, a.sector_confidence,
       (SELECT json_build_object('id', k.id, 'title', k.title, 'category', k.category, 'sector', k.sector,
                                 'complaint_count', k.complaint_count, 'updated_at', k.updated_at)
          FROM cases k WHERE k.id = a.case_id) AS "case",
       (SELECT coalesce(json_agg(json_build_object(
                 'filename', d.filename, 'detected_type', d.detected_type, 'size_bytes', d.size_bytes,
                 'sha256', d.sha256, 'extraction_status', d.extraction_status,
                 'extraction_error', d.extraction_error) ORDER BY d.ordinal), '[]')
          FROM documents d WHERE d.complaint_id = c.id) AS documents
  FROM complaints c LEFT JOIN analyses a ON a.complaint_id = c.id
 WHERE c.id = %(id)s
"""

_CASE_DETAIL = f"""
SELECT {_CASE},
       (SELECT coalesce(json_agg(x ORDER BY x.received_at DESC, x.id DESC), '[]') FROM (
            SELECT {_SUMMARY} FROM analyses a JOIN complaints c ON c.id = a.complaint_id
             WHERE a.case_id = k.id ORDER BY c.received_at DESC, c.id DESC LIMIT %(complaints)s) x) AS complaints,
       (SELECT coalesce(json_agg(e ORDER BY e.count DESC, e.type, e.value), '[]') FROM (
            SELECT ce.type, ce.value, ce.complaints AS count FROM case_entities ce
             WHERE ce.case_id = k.id AND ce.complaints > 1
             ORDER BY ce.complaints DESC, ce.type, ce.value LIMIT %(entities)s) e) AS shared_entities
  FROM cases k WHERE k.id = %(id)s
"""

# {summary} is _SUMMARY; {join} is JOIN when a filter needs the analysis, else LEFT JOIN.
_LIST_COMPLAINTS = """
SELECT {summary} FROM complaints c {join} analyses a ON a.complaint_id = c.id {where}
 ORDER BY c.received_at DESC, c.id DESC LIMIT %(limit)s
"""

_LIST_CASES = "SELECT {case} FROM cases k {where} ORDER BY k.id DESC LIMIT %(limit)s"

_EMBEDDING = "SELECT a.embedding FROM complaints c LEFT JOIN analyses a ON a.complaint_id = c.id WHERE c.id = %(id)s"

# For this transaction only: how far the HNSW search looks, and whether it goes on past a filter.
_SEARCH_SETTINGS = "SELECT set_config('hnsw.ef_search', %s, true), set_config('hnsw.iterative_scan', %s, true)"

# Nearest first through the HNSW index on analyses.embedding; MATERIALIZED
# keeps the join with complaints out of the index scan.
_SIMILAR = """
WITH nearest AS MATERIALIZED (
    SELECT a.complaint_id, a.subject, a.category, a.sector, a.case_id, a.needs_review,
           a.embedding <=> %(q)s AS distance
      FROM analyses a {where}
     ORDER BY a.embedding <=> %(q)s LIMIT %(limit)s
)
SELECT n.complaint_id AS id, c.status, c.received_at, n.subject, n.category, n.sector, n.case_id, n.needs_review,
       1 - n.distance AS similarity
  FROM nearest n JOIN complaints c ON c.id = n.complaint_id
 ORDER BY n.distance, n.complaint_id
"""


def _where(*clauses: tuple[object, str]) -> sql.Composable:
    """WHERE with the clauses whose value is given: each combination of
    filters is its own statement, planned for the indexes it can use."""
    given = [sql.SQL(clause) for value, clause in clauses if value is not None]
    return sql.SQL("WHERE ") + sql.SQL(" AND ").join(given) if given else sql.SQL("")


class AnalyticsStore:
    def __init__(self, pool: ServicePool, ef_search: int, shared_entities: int = 20) -> None:
        self.pool = pool
        self.ef_search = ef_search
        self.shared_entities = shared_entities

    async def _all(self, query: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(query, params)
            return await cur.fetchall()

    async def list_complaints(self, f: ComplaintFilter, after: ComplaintKey | None, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` complaints after `after`, newest first."""
        query = sql.SQL(_LIST_COMPLAINTS).format(
            summary=sql.SQL(_SUMMARY),
            join=sql.SQL("JOIN" if f.needs_analysis else "LEFT JOIN"),
            where=_where(
                (f.status, "c.status = %(status)s"),
                (f.category, "a.category = %(category)s"),
                (f.sector, "a.sector = %(sector)s"),
                (f.case_id, "a.case_id = %(case_id)s"),
                (f.needs_review, "a.needs_review"),
                (f.received_from, "c.received_at >= %(received_from)s"),
                (f.received_to, "c.received_at < %(received_to)s"),
                (after, "(c.received_at, c.id) < (%(after_at)s, %(after_id)s)"),
            ),
        )
        params = {
            **f.__dict__,
            "limit": limit,
            "after_at": after.received_at if after else None,
            "after_id": after.id if after else None,
        }
        return await self._all(query, params)

    async def complaint(self, complaint_id: uuid.UUID) -> dict[str, Any] | None:
        rows = await self._all(_COMPLAINT, {"id": complaint_id})
        return rows[0] if rows else None

    async def list_cases(
        self, category: str | None, sector: str | None, after: int | None, limit: int
    ) -> list[dict[str, Any]]:
        """Newest case first; a case emptied by reprocessing is left out."""
        query = sql.SQL(_LIST_CASES).format(
            case=sql.SQL(_CASE),
            where=_where(
                (True, "k.complaint_count > 0"),
                (category, "k.category = %(category)s"),
                (sector, "k.sector = %(sector)s"),
                (after, "k.id < %(after)s"),
            ),
        )
        return await self._all(query, {"category": category, "sector": sector, "after": after, "limit": limit})

    async def case(self, case_id: int, complaints: int) -> dict[str, Any] | None:
        rows = await self._all(
            _CASE_DETAIL, {"id": case_id, "complaints": complaints, "entities": self.shared_entities}
        )
        return rows[0] if rows else None

    async def embedding(self, complaint_id: uuid.UUID) -> tuple[bool, np.ndarray | None]:
        """(whether the complaint exists, its embedding if it was analysed)."""
        rows = await self._all(_EMBEDDING, {"id": complaint_id})
        if not rows:
            return False, None
        vector = rows[0]["embedding"]
        return True, None if vector is None else np.asarray(vector.to_numpy(), dtype=np.float32)

    async def similar(
        self,
        query: np.ndarray,
        limit: int,
        *,
        category: str | None = None,
        sector: str | None = None,
        exclude: uuid.UUID | None = None,
    ) -> list[dict[str, Any]]:
        where = _where(
            (category, "a.category = %(category)s"),
            (sector, "a.sector = %(sector)s"),
            (exclude, "a.complaint_id <> %(exclude)s"),
        )
        # A filter is applied after the graph is searched; the iterative scan
        # goes on searching until `limit` rows pass it.
        filtered = any(v is not None for v in (category, sector, exclude))
        scan = "relaxed_order" if filtered else "off"
        params = {
            "q": np.asarray(query, dtype=np.float32),
            "limit": limit,
            "category": category,
            "sector": sector,
            "exclude": exclude,
        }
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(_SEARCH_SETTINGS, (str(max(self.ef_search, limit)), scan))
            cur = await conn.execute(sql.SQL(_SIMILAR).format(where=where), params)
            return await cur.fetchall()
