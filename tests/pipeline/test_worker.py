"""The replica's work loop on a real PostgreSQL, driven directly."""

from __future__ import annotations

import asyncio
import logging

from pipeline_service.analyzer import Analysis
from pipeline_service.analyzer.local import LocalAnalyzer
from pipeline_service.settings import Settings
from pipeline_service.store import Lease
from pipeline_service.worker import Worker
from tests.helpers import eventually
from tests.pipeline.test_store import expire, row, submit


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


class GatedAnalyzer(LocalAnalyzer):
    """The local analyzer, answering only once the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def analyse(self, text: str) -> Analysis:
        await self.gate.wait()
        return await super().analyse(text)


async def test_a_complaint_claimed_again_after_its_own_lease_lapsed_is_worked_and_counted_once(pg, stores, monkeypatch):
    monkeypatch.setenv("PIPELINE_DATABASE_URL", pg.url_for("complaints_pipeline"))
    monkeypatch.setenv("PIPELINE_SWEEP_SECONDS", "0.05")
    analyzer = GatedAnalyzer()
    worker = Worker(Settings.from_env(), stores[0], analyzer)
    (cid,) = submit(pg, 1)
    await worker.start()
    try:

        async def held() -> tuple[Lease, asyncio.Task[None]] | None:
            return worker.tasks.get(cid)

        first = await eventually(held, 30, "the complaint claimed")
        # A replica starved past its lease finds the complaint claimable again, and claims it itself.
        expire(pg, cid)

        async def claimed_again() -> tuple[Lease, asyncio.Task[None]] | None:
            entry = worker.tasks.get(cid)
            return entry if entry is not None and entry[0] != first[0] else None

        second = await eventually(claimed_again, 30, "the complaint claimed again")

        async def first_stopped() -> bool:
            return first[1].done()

        # The old attempt, whose commit the fence would refuse, stops at once,
        # and its end leaves the new attempt in flight.
        await eventually(first_stopped, 30, "the old attempt to stop")
        assert worker.tasks.get(cid) == second and worker.in_flight == 1
        analyzer.gate.set()

        async def finished() -> bool:
            return worker.processed_total == 1 and worker.in_flight == 0

        await eventually(finished, 30, "the complaint processed")
        done = row(pg, cid)
        assert (done["status"], done["attempts"], done["analyses"]) == ("PROCESSED", 2, 1)
    finally:
        analyzer.gate.set()
        await worker.stop(grace=5)
