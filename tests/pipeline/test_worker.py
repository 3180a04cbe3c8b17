"""The replica's work loop on a real PostgreSQL, driven directly."""

from __future__ import annotations

import asyncio
import logging

import pytest

from complaints.config import SettingsError
from pipeline_service.analyzer import Analysis
from pipeline_service.analyzer.local import LocalAnalyzer
from pipeline_service.settings import Settings
from pipeline_service.store import Lease
from pipeline_service.worker import Worker
from tests.helpers import eventually
from tests.pipeline.test_store import GROUPING, analysis, expire, row, submit


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


def test_case_grouping_settings_are_probabilities_and_the_worker_groups_by_them(pg, stores):
    """PIPELINE_CASE_THRESHOLD and PIPELINE_CASE_MEMBER_FLOOR override the
    fitted pair model's (grouping.PairModel.join); a NaN would pass every
    bound and compare false with every probability, so it is refused."""
    env = {"PIPELINE_DATABASE_URL": pg.url_for("complaints_pipeline")}
    for name in ("PIPELINE_CASE_THRESHOLD", "PIPELINE_CASE_MEMBER_FLOOR"):
        for value in ("nan", "inf", "1.5", "-0.1"):
            with pytest.raises(SettingsError, match=name):
                Settings.from_env({**env, name: value})
    settings = Settings.from_env({**env, "PIPELINE_CASE_THRESHOLD": "0.6", "PIPELINE_CASE_MEMBER_FLOOR": "0.2"})
    pairs = Worker(settings, stores[0], LocalAnalyzer()).grouping.pairs
    assert (pairs.threshold, pairs.member_floor) == (0.6, 0.2)


async def test_the_heartbeat_stops_an_attempt_whose_lease_was_taken_but_not_one_committing(pg, stores):
    """A processed complaint holds no lease, so a heartbeat just after an
    attempt's commit went through finds its lease gone. Cancelled then,
    before it resumed, the attempt lost the commit's count (the replica
    figures once fell one short of the complaints processed). An attempt
    inside its commit is left to the lease token's fence; one whose
    complaint another replica took over is stopped."""
    worker = Worker(
        Settings.from_env({"PIPELINE_DATABASE_URL": pg.url_for("complaints_pipeline")}), stores[0], LocalAnalyzer()
    )
    committed, taken = submit(pg, 2)
    leases = {lease.complaint_id: lease for lease in await stores[0].claim(2, only=[committed, taken])}
    # The first attempt's commit went through; the attempt has not resumed yet.
    await stores[0].commit(await stores[0].load(leases[committed]), "", "Rasuah di jeti.", analysis(), {}, GROUPING)
    # The second complaint's lease lapsed and another replica claimed it.
    expire(pg, taken)
    assert [lease.complaint_id for lease in await stores[1].claim(1, only=[taken])] == [taken]
    gate = asyncio.Event()

    async def attempt() -> None:  # stands for one waiting to resume
        await gate.wait()

    attempts = {cid: asyncio.create_task(attempt()) for cid in leases}
    worker.tasks = {cid: (leases[cid], attempts[cid]) for cid in leases}
    worker.committing.add(leases[committed])
    try:
        await worker._heartbeat_once()
        await asyncio.wait([attempts[taken]], timeout=5)
        assert attempts[taken].cancelled()
        assert not attempts[committed].done()
    finally:
        gate.set()
        await asyncio.gather(*attempts.values(), return_exceptions=True)
