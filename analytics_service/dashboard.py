"""The dashboard in one round trip from the pre-computed tables: a bounded
number of rows however many complaints are stored (the figures' shards, today's
arrivals, the first entries of the entity and case-size indexes)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from complaints.constants import (
    NEEDS_REVIEW,
    PROCESSED_COUNT,
    PROCESSED_SECONDS,
    TIMEZONE_NAME,
    Figure,
    State,
    split_pair_key,
)
from complaints.db import ServicePool
from complaints.messages import timestamp
from complaints.v1 import analytics_pb2

# The analytics_counts keys are complaints/constants.py's; entity_counts is
# ops/migrations/013_entity_counts.sql.
_DASHBOARD = f"""
WITH counts AS (
    SELECT dimension, key, sum(value) AS n FROM analytics_counts
     WHERE dimension IN ('{Figure.STATUS}', '{Figure.PROCESSING}', '{Figure.CATEGORY}', '{Figure.SECTOR}',
                         '{Figure.PATTERN}', '{Figure.REVIEW}')
        OR (dimension = '{Figure.RECEIVED_DAY}' AND key = to_char(now() AT TIME ZONE '{TIMEZONE_NAME}', 'YYYY-MM-DD'))
     GROUP BY dimension, key
), entities AS (
    SELECT key, complaints AS n FROM entity_counts WHERE complaints > 0
     ORDER BY complaints DESC, key LIMIT %(top_entities)s
), top_cases AS (
    SELECT id, title, category, sector, complaint_count, updated_at FROM cases
     WHERE complaint_count > 0 ORDER BY complaint_count DESC, id DESC LIMIT %(top_cases)s
)
SELECT now() AS as_of,
       to_char(now() AT TIME ZONE '{TIMEZONE_NAME}', 'YYYY-MM-DD') AS today,
       (SELECT coalesce(json_agg(json_build_array(dimension, key, n)), '[]') FROM counts) AS counts,
       (SELECT coalesce(json_agg(json_build_array(key, n)), '[]') FROM entities) AS entities,
       (SELECT coalesce(json_agg(json_build_object(
                 'id', id, 'title', title, 'category', category, 'sector', sector,
                 'count', complaint_count, 'updated_at', updated_at)), '[]') FROM top_cases) AS cases
"""


def build(row: dict[str, Any]) -> analytics_pb2.Dashboard:
    by: dict[str, dict[str, float]] = {}
    for dimension, key, n in row["counts"]:
        by.setdefault(dimension, {})[key] = n
    status = by.get(Figure.STATUS, {})
    processing = by.get(Figure.PROCESSING, {})
    done = processing.get(PROCESSED_COUNT, 0)
    summary = analytics_pb2.DashboardSummary(
        queued=round(status.get(State.QUEUED, 0)),
        processing=round(status.get(State.PROCESSING, 0)),
        processed=round(status.get(State.PROCESSED, 0)),
        failed=round(status.get(State.FAILED, 0)),
        received_today=round(by.get(Figure.RECEIVED_DAY, {}).get(row["today"], 0)),
        mean_processing_seconds=processing.get(PROCESSED_SECONDS, 0) / done if done > 0 else 0.0,
        needs_review=round(by.get(Figure.REVIEW, {}).get(NEEDS_REVIEW, 0)),
    )
    summary.total = summary.queued + summary.processing + summary.processed + summary.failed

    def buckets(name: str) -> list[analytics_pb2.BucketCount]:
        items = sorted(
            ((k, round(v)) for k, v in by.get(name, {}).items() if round(v) > 0), key=lambda kv: (-kv[1], kv[0])
        )
        return [analytics_pb2.BucketCount(key=k, count=v) for k, v in items]

    patterns = []
    for bucket in buckets(Figure.PATTERN):
        category, sector = split_pair_key(bucket.key)
        patterns.append(analytics_pb2.PatternCount(category=category, sector=sector, count=bucket.count))
    entities = []
    for key, n in row["entities"]:
        kind, value = split_pair_key(key)
        entities.append(analytics_pb2.EntityCount(type=kind, value=value, count=round(n)))
    cases = [
        analytics_pb2.CaseSummary(
            case_id=str(c["id"]),
            title=c["title"],
            category=c["category"],
            sector=c["sector"],
            complaint_count=c["count"],
            updated_at=timestamp(dt.datetime.fromisoformat(c["updated_at"])),
        )
        for c in row["cases"]
    ]
    return analytics_pb2.Dashboard(
        summary=summary,
        top_entities=entities,
        sectors=buckets(Figure.SECTOR),
        categories=buckets(Figure.CATEGORY),
        patterns=patterns,
        top_cases=cases,
        as_of=timestamp(row["as_of"]),
    )


async def load(pool: ServicePool, top_entities: int, top_cases: int) -> analytics_pb2.Dashboard:
    async with pool.connection() as conn:
        cur = await conn.execute(_DASHBOARD, {"top_entities": top_entities, "top_cases": top_cases})
        row = await cur.fetchone()
    assert row is not None
    return build(row)
