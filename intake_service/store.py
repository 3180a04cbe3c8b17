"""Intake's SQL: storing submissions idempotently and reading status."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from complaints.constants import State
from complaints.db import ServicePool
from complaints.errors import AlreadyExists, ServiceError
from intake_service.submission import Submission


@dataclass
class Stored:
    complaint_id: uuid.UUID
    status: str
    received_at: dt.datetime
    duplicate: bool


_INSERT = """
INSERT INTO complaints (id, source_system, idempotency_key, request_sha256, channel, subject,
                        description, incident_date, location)
SELECT * FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::bytea[], %s::text[], %s::text[],
                     %s::text[], %s::date[], %s::text[])
-- Keys in one order in every batch, so two batches that share keys wait on
-- each other instead of deadlocking.
 ORDER BY 2, 3
ON CONFLICT (source_system, idempotency_key) DO NOTHING
RETURNING id, received_at
"""

_EXISTING = """
SELECT c.id, c.source_system, c.idempotency_key, c.request_sha256, c.status, c.received_at
  FROM complaints c
  JOIN unnest(%s::text[], %s::text[]) AS k (source_system, idempotency_key)
 USING (source_system, idempotency_key)
"""

_COMPLAINANTS = """
INSERT INTO complainants (complaint_id, name, id_number, phone, email, anonymous)
SELECT * FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::text[], %s::text[], %s::bool[])
"""

_DOCUMENTS = (
    "COPY documents (complaint_id, ordinal, filename, declared_type, detected_type, size_bytes, sha256, content)"
    " FROM STDIN"
)

_STATUS = """
SELECT id, status, attempts, stage, last_error, received_at, started_at, processed_at, updated_at
  FROM complaints WHERE id = %s
"""


class IntakeStore:
    def __init__(self, pool: ServicePool) -> None:
        self.pool = pool

    async def store(self, subs: list[Submission]) -> list[Stored | ServiceError]:
        """Stores a batch in one transaction; one outcome per submission, in order.

        A key already stored (before, concurrently, or earlier in the batch)
        answers with the original ID; with different content it is refused.
        """
        first: dict[tuple[str, str], int] = {}
        fresh: list[int] = []
        for i, sub in enumerate(subs):
            if first.setdefault((sub.source, sub.idempotency_key), i) == i:
                fresh.append(i)
        ids = {i: uuid.uuid4() for i in fresh}
        outcomes: list[Stored | ServiceError | None] = [None] * len(subs)

        async with self.pool.connection() as conn, conn.transaction():
            batch = [subs[i] for i in fresh]
            cur = await conn.execute(
                _INSERT,
                (
                    [ids[i] for i in fresh],
                    # The officers' dashboard may show source, channel and location: never
                    # with the complainant in them.
                    [s.source for s in batch],
                    [s.idempotency_key for s in batch],
                    [s.fingerprint for s in batch],
                    [s.masked(s.channel) for s in batch],
                    [s.subject for s in batch],
                    [s.description for s in batch],
                    [s.incident for s in batch],
                    [s.masked(s.location) for s in batch],
                ),
            )
            inserted = {row["id"]: row["received_at"] for row in await cur.fetchall()}
            new = [i for i in fresh if ids[i] in inserted]
            for i in new:
                outcomes[i] = Stored(ids[i], State.QUEUED, inserted[ids[i]], duplicate=False)

            if len(new) < len(subs):
                await self._answer_repeats(conn, subs, first, outcomes)

            if new:
                await conn.execute(
                    _COMPLAINANTS,
                    (
                        [ids[i] for i in new],
                        [subs[i].name for i in new],
                        [subs[i].id_number for i in new],
                        [subs[i].phone for i in new],
                        [subs[i].email for i in new],
                        [subs[i].anonymous for i in new],
                    ),
                )
                if any(subs[i].documents for i in new):
                    async with conn.cursor() as cur2, cur2.copy(_DOCUMENTS) as copy:
                        for i in new:
                            for n, doc in enumerate(subs[i].documents):
                                await copy.write_row(
                                    (
                                        ids[i],
                                        n,
                                        subs[i].masked(doc.filename),
                                        doc.declared_type,
                                        doc.detected_type,
                                        len(doc.content),
                                        doc.sha256,
                                        doc.content,
                                    )
                                )
        return [o for o in outcomes if o is not None]

    async def _answer_repeats(
        self,
        conn: Any,
        subs: list[Submission],
        first: dict[tuple[str, str], int],
        outcomes: list[Stored | ServiceError | None],
    ) -> None:
        pending = [i for i, o in enumerate(outcomes) if o is None]
        keys = {(subs[i].source, subs[i].idempotency_key) for i in pending}
        cur = await conn.execute(_EXISTING, ([k[0] for k in keys], [k[1] for k in keys]))
        existing = {(r["source_system"], r["idempotency_key"]): r for r in await cur.fetchall()}
        for i in pending:
            sub = subs[i]
            row = existing[(sub.source, sub.idempotency_key)]
            if bytes(row["request_sha256"]) != sub.fingerprint:
                outcomes[i] = AlreadyExists(
                    f"idempotency_key {sub.idempotency_key!r} of source_system {sub.source_system!r} was "
                    f"already used for complaint {row['id']} with different content; "
                    "use a new key for a new complaint"
                )
            else:
                # A repeat within this batch of a key stored by it is also a duplicate.
                outcomes[i] = Stored(row["id"], row["status"], row["received_at"], duplicate=True)

    async def status(self, complaint_id: uuid.UUID) -> dict[str, Any] | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(_STATUS, (complaint_id,))
            return await cur.fetchone()
