"""The replica's work loop: claim what fits, analyse each complaint as its own
task, keep leases alive, commit behind a fence, drain on shutdown."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import random
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable

from complaints.cancellation import cancel_and_wait, wait_event
from complaints.constants import State
from pipeline_service.analyzer import Analyzer, EndpointUnavailable, InvalidAnswer, model
from pipeline_service.settings import Settings
from pipeline_service.stages import Extraction, analyse
from pipeline_service.store import Grouping, Lease, LeaseLost, PipelineStore

log = logging.getLogger(__name__)

# Retrying to record an attempt's end while the database is unreachable.
SETTLE_FIRST_RETRY_SECONDS = 0.25
SETTLE_MAX_RETRY_SECONDS = 4.0


def public_error(exc: Exception) -> str:
    """What complaints.last_error says of a failed attempt: analytics may read
    it, so the messages we write ourselves (the model's answer was unusable,
    the endpoint did not answer) in full, and of anything else only its type;
    the replica's log has the rest."""
    if isinstance(exc, (EndpointUnavailable, InvalidAnswer)):
        return f"{type(exc).__name__}: {exc}"[:2000]
    return f"{type(exc).__name__} (the pipeline's log has the details)"


class Worker:
    def __init__(self, settings: Settings, store: PipelineStore, analyzer: Analyzer) -> None:
        self.settings = settings
        self.store = store
        self.analyzer = analyzer
        self.capacity = settings.max_in_flight
        pairs = dataclasses.replace(
            model.load().pairs, threshold=settings.case_threshold, member_floor=settings.case_member_floor
        )
        self.grouping = Grouping(pairs, settings.case_candidates, settings.ef_search)
        self.extraction = Extraction(settings.tesseract_cmd, settings.ocr_min_confidence)
        self.tasks: dict[uuid.UUID, tuple[Lease, asyncio.Task[None]]] = {}
        self.hints: deque[uuid.UUID] = deque(maxlen=10_000)
        self.wake = asyncio.Event()
        self.draining = False
        self.processed_total = 0
        self.failed_total = 0
        # Attempts inside their commit: the lease token fences it (LeaseLost),
        # and the heartbeat must not cancel one (_heartbeat_once).
        self.committing: set[Lease] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._last_sweep = 0.0
        self._drained: asyncio.Task[None] | None = None

    @property
    def in_flight(self) -> int:
        return len(self.tasks)

    def can_claim(self) -> bool:
        """False while draining or while the analyzer's endpoint is known to be down,
        so complaints wait QUEUED instead of burning attempts."""
        breaker = self.analyzer.breaker
        return not self.draining and (breaker is None or breaker.allows_claims())

    def hint(self, complaint_id: uuid.UUID) -> bool:
        """A dispatched ID: claimed first on the next turn. False when full or draining."""
        if not self.can_claim() or len(self.hints) + self.in_flight >= 2 * self.capacity:
            return False
        self.hints.append(complaint_id)
        self.wake.set()
        return True

    async def start(self) -> None:
        self._loops = [
            asyncio.create_task(self._claim_loop(), name="claim"),
            asyncio.create_task(self._heartbeat_loop(), name="heartbeat"),
        ]

    async def _claim_loop(self) -> None:
        # Ends by itself once draining, never by a cancel: a cancel between a
        # claim's commit and its tasks' creation would strand those leases
        # until they expired, and spend an attempt of each.
        while not self.draining:
            self.wake.clear()
            try:
                await self._claim_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("claim failed", extra={"fields": {"error": repr(exc)[:300]}})
            # The sweep interval bounds how long a complaint nobody dispatched waits.
            jitter = random.uniform(0.8, 1.2)
            await wait_event(self.wake, self.settings.sweep_seconds * jitter)

    async def _claim_once(self) -> None:
        if not self.can_claim():
            return
        free = self.capacity - self.in_flight
        breaker = self.analyzer.breaker
        if breaker is not None and breaker.state != "closed":
            # Probing a recovering endpoint: one complaint at a time, not a full batch.
            free = min(free, 1 - self.in_flight)
        if self.hints and free > 0:
            ids = [self.hints.popleft() for _ in range(min(free, len(self.hints)))]
            free -= self._start(await self.store.claim(len(ids), only=ids))
        if free > 0 and not self.draining:
            self._start(await self.store.claim(free))
        if time.monotonic() - self._last_sweep >= self.settings.sweep_seconds:
            # Once per sweep, not at every completed complaint.
            self._last_sweep = time.monotonic()
            await self.store.fail_abandoned()

    def _start(self, leases: list[Lease]) -> int:
        """Work on what was just claimed, with no await in between (see _claim_loop)."""
        for lease in leases:
            if (stale := self.tasks.get(lease.complaint_id)) is not None:
                # Our own lease lapsed (a starved replica) and we claimed it anew:
                # the old attempt's commit would be fenced out, so stop it now.
                stale[1].cancel()
            task = asyncio.create_task(self._process(lease), name=f"complaint:{lease.complaint_id}")
            self.tasks[lease.complaint_id] = (lease, task)
        return len(leases)

    async def _process(self, lease: Lease) -> None:
        fields = {"complaint_id": str(lease.complaint_id), "attempt": lease.attempt}
        try:
            work = await self.store.load(lease)
            outcome = await analyse(work, self.analyzer, self.extraction, lambda stage: self._starting(lease, stage))
            self.committing.add(lease)
            case_id = await self.store.commit(
                work, outcome.subject, outcome.description, outcome.analysis, outcome.extracted, self.grouping
            )
            self.processed_total += 1
            log.info(
                "complaint processed",
                extra={"fields": {**fields, "case_id": case_id, "category": outcome.analysis.category}},
            )
        except LeaseLost:
            log.warning("lease lost; result dropped", extra={"fields": fields})
        except asyncio.CancelledError:
            raise
        except EndpointUnavailable as exc:
            breaker = self.analyzer.breaker
            if not self.draining and (breaker is None or breaker.state == "closed"):
                await self._settle(functools.partial(self._attempt_failed, lease, exc, fields), fields)
            else:
                # The endpoint is down (circuit open or probing) or we are draining:
                # give the complaint back without spending its attempt.
                await self._settle(lambda: self.store.release([lease]), fields)
                log.warning(
                    "model endpoint unavailable; complaint back to the queue",
                    extra={"fields": {**fields, "error": str(exc)[:300]}},
                )
        except Exception as exc:
            await self._settle(functools.partial(self._attempt_failed, lease, exc, fields), fields)
        finally:
            self.committing.discard(lease)
            # Not the entry of a newer attempt at the same complaint (_start).
            if (entry := self.tasks.get(lease.complaint_id)) is not None and entry[0] == lease:
                del self.tasks[lease.complaint_id]
            self.wake.set()

    async def _starting(self, lease: Lease, stage: str) -> None:
        """Notes the stage for whoever watches the complaint. Only a note: the
        database failing it does not fail the attempt (the commit would tell)."""
        try:
            await self.store.set_stage(lease, stage)
        except Exception as exc:
            log.debug(
                "stage not noted",
                extra={
                    "fields": {
                        "complaint_id": str(lease.complaint_id),
                        "stage": stage,
                        "error": f"{type(exc).__name__}: {exc}"[:300],
                    }
                },
            )

    async def _settle(self, record: Callable[[], Awaitable[object]], fields: dict[str, object]) -> None:
        """Records how an attempt ended. What failed may be the database itself
        (an outage), so a failure to record is retried while the lease lasts,
        then left to the lease: once it expires a claim or the sweep takes the
        complaint over. Nothing is raised: a complaint's task never ends with
        an exception nobody retrieves."""
        deadline = time.monotonic() + self.settings.lease_seconds
        delay = SETTLE_FIRST_RETRY_SECONDS
        while True:
            try:
                await record()
                return
            except Exception as exc:
                if time.monotonic() + delay > deadline:
                    log.warning(
                        "could not record the attempt's end; its lease will expire",
                        extra={"fields": {**fields, "error": f"{type(exc).__name__}: {exc}"[:300]}},
                    )
                    return
            await asyncio.sleep(delay)
            delay = min(delay * 2, SETTLE_MAX_RETRY_SECONDS)

    async def _attempt_failed(self, lease: Lease, exc: Exception, fields: dict[str, object]) -> None:
        """Back to QUEUED after an exponential backoff with jitter, or FAILED after the last attempt."""
        backoff = min(self.settings.retry_base_seconds * 2 ** (lease.attempt - 1), self.settings.retry_max_seconds)
        backoff *= random.uniform(0.5, 1.0)
        status = await self.store.retry_or_fail(lease, public_error(exc), backoff)
        if status == State.FAILED:
            self.failed_total += 1
        log.warning("attempt failed", extra={"fields": {**fields, "error": repr(exc)[:300], "now": status}})

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.lease_seconds / 3)
            try:
                await self._heartbeat_once()
            except Exception as exc:
                log.warning("heartbeat failed", extra={"fields": {"error": repr(exc)[:300]}})

    async def _heartbeat_once(self) -> None:
        """Extends our leases and stops the attempts whose lease another
        replica took over, except those committing: their commit may just
        have gone through (a processed complaint holds no lease), and a
        cancel delivered before the attempt resumes would lose its count."""
        leases = [lease for lease, _ in self.tasks.values()]
        alive = await self.store.heartbeat(leases)
        for lease in leases:
            entry = self.tasks.get(lease.complaint_id)
            if lease.complaint_id not in alive and entry is not None and entry[0] == lease:
                if lease in self.committing:
                    continue
                # Taken over by another replica: stop working on it.
                log.warning("lease lost at heartbeat", extra={"fields": {"complaint_id": str(lease.complaint_id)}})
                entry[1].cancel()

    async def stop(self, grace: float) -> None:
        """Stop claiming, finish in-flight work within the grace period, then give
        back the leases of what is unfinished so other replicas take it at once.
        Idempotent: a later call waits for the first one's drain and starts none."""
        if self._drained is None:
            self._drained = asyncio.ensure_future(self._drain(grace))
        await self._drained

    async def _drain(self, grace: float) -> None:
        self.draining = True
        self.wake.set()
        deadline = time.monotonic() + grace
        claim_loop, heartbeat_loop = self._loops or (None, None)
        if claim_loop:
            # It ends after its current claim (see _claim_loop); a claim stuck on
            # an unreachable database is cancelled once the grace period is over.
            await asyncio.wait({claim_loop}, timeout=grace)
            await cancel_and_wait(claim_loop)
        pending = [task for _, task in self.tasks.values()]
        if pending:
            await asyncio.wait(pending, timeout=max(deadline - time.monotonic(), 0))
        unfinished = [lease for lease, _ in self.tasks.values()]
        await cancel_and_wait(*(task for _, task in self.tasks.values()))
        if heartbeat_loop:
            await cancel_and_wait(heartbeat_loop)
        released = await self.store.release(unfinished)
        log.info(
            "drained",
            extra={
                "fields": {"unfinished": len(unfinished), "released": released, "processed_total": self.processed_total}
            },
        )
        await self.analyzer.close()
