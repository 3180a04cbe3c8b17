"""The replica's work loop on a real PostgreSQL, driven directly."""

from __future__ import annotations

import asyncio
import logging

from pipeline_service.analyzer.local import LocalAnalyzer
from pipeline_service.settings import Settings
from pipeline_service.worker import Worker


async def test_stopping_a_worker_twice_drains_it_once(pg, stores, monkeypatch, caplog):
    monkeypatch.setenv("PIPELINE_DATABASE_URL", pg.url_for("complaints_pipeline"))
    monkeypatch.setenv("PIPELINE_SWEEP_SECONDS", "0.05")
    worker = Worker(Settings.from_env(), stores[0], LocalAnalyzer())
    await worker.start()
    caplog.set_level(logging.INFO, logger="pipeline_service.worker")

    first = asyncio.ensure_future(worker.stop(grace=5))
    await worker.stop(grace=5)  # while the first call drains
    await first
    await worker.stop(grace=5)  # once it is over

    assert worker.draining and all(loop.done() for loop in worker._loops)
    drained = [r for r in caplog.records if r.name == "pipeline_service.worker" and r.getMessage() == "drained"]
    assert len(drained) == 1
