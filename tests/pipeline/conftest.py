"""A PostgreSQL with the schema, and the pipeline's stores on it, for the
tests that drive the store and the worker directly."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from complaints.db import make_pool
from ops import migrate
from ops.embedded_pg import EmbeddedPostgres, free_port
from pipeline_service.store import PipelineStore


@pytest.fixture(scope="module")
def pg() -> Iterator[EmbeddedPostgres]:
    with tempfile.TemporaryDirectory(prefix="pipeline-store-") as tmp:
        server = EmbeddedPostgres(Path(tmp) / "pg", free_port(), durable=False)
        server.start()
        try:
            migrate.apply(server.url)
            yield server
        finally:
            server.stop()


@pytest.fixture
async def stores(pg: EmbeddedPostgres) -> AsyncIterator[list[PipelineStore]]:
    """Two replicas, each with its own pool, as the pipeline's role."""
    made = []
    for name in ("replica-a", "replica-b"):
        pool = make_pool(pg.url_for("complaints_pipeline"), name=name, min_size=1, max_size=4)
        await pool.open()
        made.append(PipelineStore(pool, name, lease_seconds=30, max_attempts=3))
    yield made
    for store in made:
        await store.pool.close()
