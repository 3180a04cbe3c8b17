"""The one row, or the one value, a test's query returns: a count, an id, a flag."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.abc import Params


def one_row(conn: psycopg.Connection[Any], query: str, params: Params | None = None) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None, f"no row from {query!r}"
    return row


def scalar(conn: psycopg.Connection[Any], query: str, params: Params | None = None) -> Any:
    return one_row(conn, query, params)[0]
