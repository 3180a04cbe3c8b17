"""The pipeline's SQL, every statement named below. A connection is held only
for a claim, a heartbeat, a load, a stage note or a commit; never while a
document is read or a model is asked."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
from psycopg import AsyncConnection

from complaints.constants import NEEDS_REVIEW, Figure, Stage, State, pair_key
from complaints.db import ServicePool
from complaints.errors import FailedPrecondition, NotFound
from pipeline_service.analyzer import Analysis
from pipeline_service.analyzer import grouping as grouping_rules
from pipeline_service.extract import Extracted


class LeaseLost(Exception):
    """Another replica took the complaint over: this one must not commit."""


@dataclass(frozen=True)
class Lease:
    complaint_id: uuid.UUID
    token: int
    attempt: int


@dataclass
class Work:
    lease: Lease
    subject: str
    description: str
    location: str
    identity: dict[str, str]
    documents: list[dict[str, Any]]


@dataclass
class Grouping:
    pairs: grouping_rules.PairModel
    # Nearest complaints (by embedding, across every category) scored as
    # possible reports of the same incident, besides those sharing a key.
    candidates: int
    ef_search: int


# `only` (formatted in by claim): the IDs a dispatch hint names, or nothing.
_CLAIM = f"""
WITH queued AS (
    SELECT id FROM complaints
     WHERE status = '{State.QUEUED}' AND next_attempt_at <= now() {{only}}
     ORDER BY next_attempt_at
     LIMIT %(limit)s
       FOR UPDATE SKIP LOCKED
), expired AS (
    SELECT id FROM complaints
     WHERE status = '{State.PROCESSING}' AND lease_expires_at < now() AND attempts < %(max_attempts)s {{only}}
     LIMIT %(limit)s
       FOR UPDATE SKIP LOCKED
), picked AS (
    SELECT id FROM queued UNION ALL SELECT id FROM expired LIMIT %(limit)s
)
UPDATE complaints c
   SET status = '{State.PROCESSING}', stage = '{Stage.CLAIMED}', attempts = c.attempts + 1,
       lease_owner = %(owner)s, lease_token = nextval('lease_tokens'),
       lease_expires_at = now() + make_interval(secs => %(lease)s),
       started_at = coalesce(c.started_at, now()), updated_at = now()
  FROM picked
 WHERE c.id = picked.id
RETURNING c.id, c.lease_token, c.attempts
"""

_FAIL_ABANDONED = f"""
UPDATE complaints
   SET status = '{State.FAILED}', stage = '{Stage.FAILED}',
       lease_owner = NULL, lease_expires_at = NULL, updated_at = now(),
       last_error = 'lease expired on attempt ' || attempts || ' of ' || %(max_attempts)s
                    || ' (the replica stopped or hung): ' || last_error
 WHERE status = '{State.PROCESSING}' AND lease_expires_at < now() AND attempts >= %(max_attempts)s
RETURNING id
"""

_HEARTBEAT = f"""
UPDATE complaints c
   SET lease_expires_at = now() + make_interval(secs => %(lease)s)
  FROM unnest(%(ids)s::uuid[], %(tokens)s::bigint[]) AS h (id, token)
 WHERE c.id = h.id AND c.lease_token = h.token AND c.status = '{State.PROCESSING}'
RETURNING c.id
"""

# The complaint to analyse, noting the stage it goes to first (in the same
# round trip: a separate note would delay every complaint).
_LOAD = f"""
WITH mine AS (
    UPDATE complaints c
       SET stage = CASE WHEN EXISTS (SELECT 1 FROM documents d WHERE d.complaint_id = c.id)
                        THEN '{Stage.EXTRACTING}' ELSE '{Stage.ANALYSING}' END,
           updated_at = now()
     WHERE c.id = %s AND c.lease_token = %s AND c.status = '{State.PROCESSING}'
    RETURNING c.id, c.subject, c.description, c.location
)
SELECT m.subject, m.description, m.location, p.name, p.id_number, p.phone, p.email
  FROM mine m LEFT JOIN complainants p ON p.complaint_id = m.id
"""

_DOCUMENTS = "SELECT id, ordinal, detected_type, content FROM documents WHERE complaint_id = %s ORDER BY ordinal"

_SET_STAGE = f"""
UPDATE complaints SET stage = %s, updated_at = now()
 WHERE id = %s AND lease_token = %s AND status = '{State.PROCESSING}'
"""

# The commit's first statement: it fails when the lease is no longer ours.
_FENCE = f"""
UPDATE complaints
   SET status = '{State.PROCESSED}', stage = '{Stage.DONE}', processed_at = now(), updated_at = now(),
       lease_owner = NULL, lease_expires_at = NULL, last_error = ''
 WHERE id = %s AND lease_token = %s AND status = '{State.PROCESSING}'
RETURNING id
"""

# Reprocessing: the earlier result goes, and with it the complaint's place in
# its case (pipeline_leave_case, ops/migrations/012_case_leave.sql), left under
# the grouping lock like every case change (015_case_lock_order.sql).
_TAKE_BACK_ANALYSIS = """
DELETE FROM analyses WHERE complaint_id = %s
RETURNING category, sector, case_id, embedding, entities, needs_review
"""

_LEAVE_CASE = "SELECT pipeline_leave_case(%s, %s)"

_DELETE_ENTITIES = "DELETE FROM complaint_entities WHERE complaint_id = %s"

_DELETE_KEYS = "DELETE FROM complaint_keys WHERE complaint_id = %s"

_INSERT_ENTITIES = """
INSERT INTO complaint_entities (complaint_id, type, value)
SELECT %s, t, v FROM unnest(%s::text[], %s::text[]) AS e (t, v) ON CONFLICT DO NOTHING
"""

_SAVE_EXTRACTIONS = """
UPDATE documents d SET extraction_status = x.s, extraction_error = x.e, extracted_text = x.t
  FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[]) AS x (id, s, e, t)
 WHERE d.id = x.id
"""

# Dimensions, keys and deltas (complaints/constants.py), one shard row each.
_BUMP_FIGURES = "SELECT analytics_bump(%s::text[], %s::text[], %s::float8[])"

# The case is joined (or opened) by pipeline_join_case (ops/migrations/011_review_and_grouping.sql),
# inside the insert, under the grouping lock (held until COMMIT).
_INSERT_ANALYSIS = """
INSERT INTO analyses (complaint_id, subject, description, category, sector, acts, summary,
                      entities, embedding, analyzer, category_confidence, sector_confidence, needs_review, case_id)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, pipeline_join_case(%s, %s, %s, %s, %s))
RETURNING case_id
"""


# The commit's last statement, under the grouping lock: the entity counts of
# the dashboard and of cases (ops/migrations/013_entity_counts.sql).
_COUNT_ENTITIES = "SELECT pipeline_count_entities(%s, %s, %s, %s, %s, %s)"

_INSERT_KEYS = """
INSERT INTO complaint_keys (complaint_id, kind, key)
SELECT %s, k, v FROM unnest(%s::text[], %s::text[]) AS x (k, v) ON CONFLICT DO NOTHING
"""

# How many other stored complaints name each of the complaint's keys, counted
# up to where a key says nothing more (grouping.Rarity): what a town shares
# says less once many complaints name the town. Read before the grouping lock:
# a count a moment old weighs the same.
_KEY_COUNTS = """
SELECT mine.kind || '|' || mine.key AS key,
       (SELECT count(*) FROM (SELECT FROM complaint_keys k
                               WHERE k.kind = mine.kind AND k.key = mine.key AND k.complaint_id <> %(self)s
                               LIMIT %(cap)s) AS naming) AS n
  FROM unnest(%(kinds)s::text[], %(keys)s::text[]) AS mine (kind, key)
"""

# For this transaction only: how far the HNSW search looks for candidates.
_EF_SEARCH = "SELECT set_config('hnsw.ef_search', %s, true)"

# One lock for all grouping: candidates come from every category, so two
# replicas must not both open a case for one incident (held to COMMIT). The
# case functions take it too, before a case's row (015_case_lock_order.sql).
_GROUPING_LOCK = "SELECT pipeline_grouping_lock()"

# What the pair score compares of a stored complaint (grouping.Evidence).
_COMPARED = """
SELECT a.complaint_id, a.case_id, a.category, a.sector, a.embedding,
       coalesce((SELECT array_agg(k.kind || '|' || k.key) FROM complaint_keys k
                  WHERE k.complaint_id = a.complaint_id), '{}') AS keys
"""

# Possible same-incident complaints: the nearest by embedding through the HNSW
# index, and those sharing a specific key (plate, phone, name, company).
_CANDIDATES = (
    """
WITH near AS MATERIALIZED (
    SELECT complaint_id FROM analyses ORDER BY embedding <=> %(q)s LIMIT %(limit)s
), sharing AS MATERIALIZED (
    -- At most `limit` per key from its index, so a key thousands of stored
    -- complaints share (a town) costs no more than a rare one.
    SELECT DISTINCT s.complaint_id
      FROM unnest(%(kinds)s::text[], %(keys)s::text[]) AS mine (kind, key)
     CROSS JOIN LATERAL (SELECT k.complaint_id FROM complaint_keys k
                          WHERE k.kind = mine.kind AND k.key = mine.key AND k.complaint_id <> %(self)s
                          LIMIT %(limit)s) AS s
     LIMIT %(limit)s
)"""
    + _COMPARED
    + """
  FROM analyses a
 WHERE a.case_id IS NOT NULL
   AND a.complaint_id IN (SELECT complaint_id FROM near UNION SELECT complaint_id FROM sharing)
"""
)

# The other members of the cases a candidate made contenders (grouping.PairModel.join),
# the earliest analysed of each as the evaluation takes them.
_MEMBERS = (
    """
WITH others AS MATERIALIZED (
    SELECT o.complaint_id
      FROM unnest(%(cases)s::bigint[]) AS c (id)
     CROSS JOIN LATERAL (SELECT a.complaint_id FROM analyses a
                          WHERE a.case_id = c.id AND a.complaint_id <> ALL(%(found)s::uuid[])
                          ORDER BY a.analysed_at, a.complaint_id
                          LIMIT %(limit)s) AS o
)"""
    + _COMPARED
    + """
  FROM analyses a WHERE a.complaint_id IN (SELECT complaint_id FROM others)
"""
)

# After a failed attempt; the row's attempts already count this one.
_RETRY_OR_FAIL = f"""
UPDATE complaints SET
       status = CASE WHEN attempts >= %(max)s THEN '{State.FAILED}' ELSE '{State.QUEUED}' END,
       stage = CASE WHEN attempts >= %(max)s THEN '{Stage.FAILED}' ELSE '{Stage.RETRY}' END,
       last_error = %(error)s, lease_owner = NULL, lease_expires_at = NULL,
       next_attempt_at = now() + make_interval(secs => %(backoff)s), updated_at = now()
 WHERE id = %(id)s AND lease_token = %(token)s AND status = '{State.PROCESSING}'
RETURNING status
"""

_RELEASE = f"""
UPDATE complaints c
   SET status = '{State.QUEUED}', stage = '{Stage.RELEASED}', attempts = greatest(c.attempts - 1, 0),
       lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = now(), updated_at = now()
  FROM unnest(%s::uuid[], %s::bigint[]) AS r (id, token)
 WHERE c.id = r.id AND c.lease_token = r.token AND c.status = '{State.PROCESSING}'
RETURNING c.id
"""

_REPROCESS = f"""
UPDATE complaints
   SET status = '{State.QUEUED}', stage = '{Stage.QUEUED}', attempts = 0, last_error = '',
       next_attempt_at = now(), updated_at = now()
 WHERE id = %s AND status IN ('{State.PROCESSED}', '{State.FAILED}')
RETURNING id, status, attempts, stage, last_error, received_at, started_at, processed_at, updated_at
"""

_STATUS = "SELECT status FROM complaints WHERE id = %s"

# Summed from the status counters the triggers keep (ops/migrations/002_analytics_counts.sql).
_QUEUE_DEPTH = f"""
SELECT coalesce(sum(value), 0) AS n FROM analytics_counts
 WHERE dimension = '{Figure.STATUS}' AND key = '{State.QUEUED}'
"""


def _vector(v: np.ndarray) -> np.ndarray:
    return np.asarray(v, dtype=np.float32)


class PipelineStore:
    def __init__(self, pool: ServicePool, owner: str, lease_seconds: float, max_attempts: int) -> None:
        self.pool = pool
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts

    async def claim(self, limit: int, only: list[uuid.UUID] | None = None) -> list[Lease]:
        """Queued (or abandoned) complaints, locked with SKIP LOCKED so replicas never wait on each other."""
        if limit <= 0:
            return []
        sql = _CLAIM.format(only="AND id = ANY(%(ids)s)" if only is not None else "")
        params = {
            "limit": limit,
            "owner": self.owner,
            "lease": self.lease_seconds,
            "max_attempts": self.max_attempts,
            "ids": only,
        }
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(sql, params)  # format fills a fixed clause
            rows = await cur.fetchall()
        return [Lease(r["id"], r["lease_token"], r["attempts"]) for r in rows]

    async def fail_abandoned(self) -> int:
        async with self.pool.connection() as conn:
            cur = await conn.execute(_FAIL_ABANDONED, {"max_attempts": self.max_attempts})
            return len(await cur.fetchall())

    async def heartbeat(self, leases: list[Lease]) -> set[uuid.UUID]:
        """Extends our leases; returns the IDs still ours."""
        if not leases:
            return set()
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                _HEARTBEAT,
                {
                    "lease": self.lease_seconds,
                    "ids": [lease.complaint_id for lease in leases],
                    "tokens": [lease.token for lease in leases],
                },
            )
            return {r["id"] for r in await cur.fetchall()}

    async def load(self, lease: Lease) -> Work:
        """The complaint and its documents; its stage becomes extracting, or analysing when it has none."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(_LOAD, (lease.complaint_id, lease.token))
            row = await cur.fetchone()
            if row is None:
                raise LeaseLost(str(lease.complaint_id))
            cur = await conn.execute(_DOCUMENTS, (lease.complaint_id,))
            docs = await cur.fetchall()
        identity = {k: row[k] or "" for k in ("name", "id_number", "phone", "email")}
        return Work(lease, row["subject"], row["description"], row["location"], identity, docs)

    async def set_stage(self, lease: Lease, stage: str) -> None:
        """Where a complaint we hold is (a Stage), for GetComplaintStatus and WatchComplaint."""
        async with self.pool.connection() as conn:
            await conn.execute(_SET_STAGE, (stage, lease.complaint_id, lease.token))

    async def commit(
        self,
        work: Work,
        subject: str,
        description: str,
        analysis: Analysis,
        extracted: dict[int, Extracted],
        grouping: Grouping,
    ) -> int:
        """Results, case and analytics in one transaction, only if the lease is still ours. Returns the case ID."""
        lease = work.lease
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(_FENCE, (lease.complaint_id, lease.token))
            if await cur.fetchone() is None:
                raise LeaseLost(str(lease.complaint_id))
            deltas: list[tuple[str, str, float]] = []
            cur = await conn.execute(_TAKE_BACK_ANALYSIS, (lease.complaint_id,))
            previous = await cur.fetchone()
            if previous is not None:
                # Reprocessing: take the earlier result out of every figure first.
                deltas += self._figures(previous["category"], previous["sector"], previous["needs_review"], -1)
                await conn.execute(_DELETE_ENTITIES, (lease.complaint_id,))
                await conn.execute(_DELETE_KEYS, (lease.complaint_id,))
            if analysis.entities:
                await conn.execute(
                    _INSERT_ENTITIES,
                    (lease.complaint_id, [e.type for e in analysis.entities], [e.value for e in analysis.entities]),
                )
            if extracted:
                await conn.execute(
                    _SAVE_EXTRACTIONS,
                    (
                        list(extracted),
                        [x.status for x in extracted.values()],
                        [x.error for x in extracted.values()],
                        [x.text for x in extracted.values()],
                    ),
                )
            deltas += self._figures(analysis.category, analysis.sector, analysis.needs_review, +1)
            await conn.execute(_BUMP_FIGURES, ([d[0] for d in deltas], [d[1] for d in deltas], [d[2] for d in deltas]))
            # The rest is under the grouping lock, held until COMMIT.
            vec = _vector(analysis.embedding)
            case_id = await self._case_for(
                conn, lease.complaint_id, f"{subject}\n\n{description}", analysis, vec, grouping
            )
            if previous is not None:
                await conn.execute(_LEAVE_CASE, (previous["case_id"], _vector(previous["embedding"].to_numpy())))
            title = (subject or analysis.summary or "Untitled").strip().splitlines()[0][:120]
            cur = await conn.execute(
                _INSERT_ANALYSIS,
                (
                    lease.complaint_id,
                    subject,
                    description,
                    analysis.category,
                    analysis.sector,
                    analysis.acts,
                    analysis.summary,
                    json.dumps([{"type": e.type, "value": e.value} for e in analysis.entities]),
                    vec,
                    analysis.analyzer,
                    analysis.category_confidence,
                    analysis.sector_confidence,
                    analysis.needs_review,
                    case_id,
                    analysis.category,
                    analysis.sector,
                    title,
                    vec,
                ),
            )
            row = await cur.fetchone()
            assert row is not None  # INSERT ... RETURNING gives its row
            case_id = int(row["case_id"])
            before = previous["entities"] if previous is not None else []
            await conn.execute(
                _COUNT_ENTITIES,
                (
                    previous["case_id"] if previous is not None else None,
                    [e["type"] for e in before],
                    [e["value"] for e in before],
                    case_id,
                    [e.type for e in analysis.entities],
                    [e.value for e in analysis.entities],
                ),
            )
        return case_id

    async def _case_for(
        self,
        conn: AsyncConnection[Any],
        complaint_id: uuid.UUID,
        text: str,
        analysis: Analysis,
        vec: np.ndarray,
        grouping: Grouping,
    ) -> int | None:
        """The case the complaint joins (grouping.PairModel.join: scored
        against its candidates, then against the other members of the cases
        they make contenders), or None for a new case. Takes the grouping lock."""
        keys = sorted(grouping.pairs.keys(analysis.entities, text))
        stored: dict[str, int] = {}
        if keys:
            kinds, values = [k for k, _ in keys], [v for _, v in keys]
            await conn.execute(_INSERT_KEYS, (complaint_id, kinds, values))
            cur = await conn.execute(
                _KEY_COUNTS,
                {"self": complaint_id, "cap": grouping.pairs.rarity.saturation, "kinds": kinds, "keys": values},
            )
            stored = {row["key"]: row["n"] for row in await cur.fetchall()}
        await conn.execute(_EF_SEARCH, (str(max(grouping.ef_search, grouping.candidates)),))
        # Only the candidate search, the case updates and the entity counts are under the lock.
        await conn.execute(_GROUPING_LOCK)
        lookup = [(k, v) for k, v in keys if k in grouping_rules.LOOKUP_KINDS]
        # Binary rows: a candidate's embedding as text took 70 us to parse,
        # 2.8 ms for 40 candidates, under the lock (make bench-scale's case join).
        cur = await conn.execute(
            _CANDIDATES,
            {
                "q": vec,
                "limit": grouping.candidates,
                "self": complaint_id,
                "kinds": [k for k, _ in lookup],
                "keys": [v for _, v in lookup],
            },
            binary=True,
        )
        found = await cur.fetchall()
        pairs = grouping.pairs
        new = pairs.evidence(vec, keys, analysis.category, analysis.sector)
        candidates = [self._evidence(pairs, row) for row in found]
        p = pairs.probabilities(new, candidates, (), stored)
        contenders = pairs.contenders([row["case_id"] for row in found], p)
        scored = [(row["case_id"], float(x)) for row, x in zip(found, p)]
        if contenders:
            cur = await conn.execute(
                _MEMBERS,
                {
                    "cases": list(contenders),
                    "found": [row["complaint_id"] for row in found],
                    "limit": grouping_rules.MEMBERS,
                },
                binary=True,
            )
            members = await cur.fetchall()
            others = pairs.probabilities(new, candidates, [self._evidence(pairs, row) for row in members], stored)
            scored += [(row["case_id"], float(x)) for row, x in zip(members, others)]
        return pairs.join(contenders, scored)

    @staticmethod
    def _evidence(pairs: grouping_rules.PairModel, row: dict[str, Any]) -> grouping_rules.Evidence:
        """A stored complaint as the pair score compares it (a row of _COMPARED)."""
        return pairs.evidence(
            _vector(row["embedding"].to_numpy()),
            frozenset(tuple(k.split("|", 1)) for k in row["keys"]),
            row["category"],
            row["sector"],
        )

    @staticmethod
    def _figures(category: str, sector: str, needs_review: bool, sign: int) -> list[tuple[str, str, float]]:
        rows: list[tuple[str, str, float]] = [
            (Figure.CATEGORY, category, sign),
            (Figure.SECTOR, sector, sign),
            (Figure.PATTERN, pair_key(category, sector), sign),
        ]
        if needs_review:
            rows.append((Figure.REVIEW, NEEDS_REVIEW, sign))
        return rows

    async def retry_or_fail(self, lease: Lease, error: str, backoff_seconds: float) -> str | None:
        """After a failed attempt: back to QUEUED after a backoff, or FAILED after the last attempt."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                _RETRY_OR_FAIL,
                {
                    "max": self.max_attempts,
                    "error": error[:2000],
                    "backoff": backoff_seconds,
                    "id": lease.complaint_id,
                    "token": lease.token,
                },
            )
            row = await cur.fetchone()
        return row["status"] if row else None

    async def release(self, leases: list[Lease]) -> int:
        """Gives unfinished work back at shutdown without spending an attempt."""
        if not leases:
            return 0
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                _RELEASE,
                ([lease.complaint_id for lease in leases], [lease.token for lease in leases]),
            )
            return len(await cur.fetchall())

    async def reprocess(self, complaint_id: uuid.UUID) -> dict[str, Any]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(_REPROCESS, (complaint_id,))
            row = await cur.fetchone()
            if row is not None:
                return row
            cur = await conn.execute(_STATUS, (complaint_id,))
            current = await cur.fetchone()
        if current is None:
            raise NotFound(f"no complaint with ID {complaint_id}")
        raise FailedPrecondition(
            f"complaint {complaint_id} is {current['status']}; only PROCESSED or FAILED complaints can be reprocessed"
        )

    async def queue_depth(self) -> int:
        async with self.pool.connection() as conn:
            cur = await conn.execute(_QUEUE_DEPTH)
            row = await cur.fetchone()
            assert row is not None  # an aggregate without GROUP BY has one row
            return int(row["n"])
