"""Values more than one service (or a service and the schema) must agree on:
a complaint's states and pipeline stages, the business time zone, and the
keys of the analytics_counts figures the pipeline writes and analytics reads.

SQL that filters on a state spells it as a literal built from these names (an
f-string at import), never as a parameter: the claim's partial indexes
(`WHERE status = 'QUEUED'`, ops/migrations/001_schema.sql) serve only a
statement whose text says so.
"""

from __future__ import annotations

import datetime as dt


class State:
    """complaints.status; the names of ComplaintState in protos/complaints/v1/types.proto."""

    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    PROCESSED = "PROCESSED"
    FAILED = "FAILED"


# A complaint in one of these stays there until Reprocess puts it back in the queue.
FINAL_STATES = frozenset({State.PROCESSED, State.FAILED})


class Stage:
    """complaints.stage: where the complaint is, shown as ComplaintStatus.stage."""

    QUEUED = "queued"  # as intake stored it, or put back by Reprocess
    CLAIMED = "claimed"
    EXTRACTING = "extracting"  # reading its documents
    ANALYSING = "analysing"  # the analyzer's call, then the commit
    DONE = "done"
    RETRY = "retry"  # an attempt failed; queued again after a backoff
    RELEASED = "released"  # given back unfinished by a replica that stopped
    FAILED = "failed"


# The business day (the dashboard's "received today", the incident date that
# must not be in the future) is Malaysia's. PostgreSQL takes the zone's name;
# Python the offset, which is the same clock: UTC+8, no daylight saving, since
# 1982. ops/migrations/002_analytics_counts.sql spells the name out itself.
TIMEZONE_NAME = "Asia/Kuala_Lumpur"
TIMEZONE = dt.timezone(dt.timedelta(hours=8), TIMEZONE_NAME)


class Figure:
    """analytics_counts.dimension (ops/migrations/002_analytics_counts.sql).
    STATUS, RECEIVED_DAY and PROCESSING rows are written by that migration's
    triggers; the pipeline writes the others (pipeline_service/store.py);
    analytics sums them (analytics_service/dashboard.py)."""

    STATUS = "status"  # key: a State
    RECEIVED_DAY = "received_day"  # key: YYYY-MM-DD in TIMEZONE_NAME
    PROCESSING = "processing"  # keys: PROCESSED_COUNT, PROCESSED_SECONDS
    CATEGORY = "category"
    SECTOR = "sector"
    PATTERN = "pattern"  # key: pair_key(category, sector)
    REVIEW = "review"  # key: NEEDS_REVIEW


PROCESSED_COUNT = "count"
PROCESSED_SECONDS = "seconds"
NEEDS_REVIEW = "NEEDS_REVIEW"

_SEPARATOR = "|"


def pair_key(first: str, second: str) -> str:
    """A PATTERN key, or an entity_counts key (ops/migrations/013_entity_counts.sql).
    The first part never holds the separator (a category, an entity type); the
    second may (an entity's value)."""
    return f"{first}{_SEPARATOR}{second}"


def split_pair_key(key: str) -> tuple[str, str]:
    first, _, second = key.partition(_SEPARATOR)
    return first, second
