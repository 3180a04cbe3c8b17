"""A circuit breaker for the model endpoint.

closed: calls go through; `failures` endpoint failures in a row open it.
open: calls fail at once and the worker stops claiming, so complaints wait as
QUEUED instead of spending their attempts; after `reset_seconds` the next call
is let through as a probe (half_open).
half_open: one probe at a time; other calls wait for its outcome. A probe that
reaches the endpoint closes the breaker; one that fails opens it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from pipeline_service.analyzer import EndpointUnavailable

log = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class BreakerOpen(EndpointUnavailable):
    """The endpoint is known to be down: the call was not made."""


class Breaker:
    def __init__(self, failures: int, reset_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.failures_to_open = failures
        self.reset_seconds = reset_seconds
        self._clock = clock
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self._settled = asyncio.Event()

    @property
    def state(self) -> str:
        if self._state == OPEN and self._clock() - self._opened_at >= self.reset_seconds:
            return HALF_OPEN
        return self._state

    def allows_claims(self) -> bool:
        """Open: claim nothing. Half open: the worker claims a little to probe."""
        return self.state != OPEN

    @contextlib.asynccontextmanager
    async def call(self, is_endpoint_failure: Callable[[BaseException], bool]) -> AsyncIterator[None]:
        """Guards one request. `is_endpoint_failure` says which errors count
        against the endpoint (a refused prompt does not)."""
        await self._admit()
        probe = self._probing and self._state == HALF_OPEN
        try:
            yield
        except BaseException as exc:
            if isinstance(exc, Exception) and is_endpoint_failure(exc):
                self._failure()
            elif probe:
                # Cancelled or refused: the probe proved nothing; let another try.
                self._end_probe()
            raise
        else:
            self._success()

    async def _admit(self) -> None:
        while True:
            state = self.state
            if state == CLOSED:
                return
            if state == OPEN:
                raise BreakerOpen(f"model endpoint circuit open after {self.failures_to_open} failures in a row")
            if not self._probing:
                self._state, self._probing = HALF_OPEN, True
                self._settled.clear()
                return
            await self._settled.wait()

    def _end_probe(self) -> None:
        self._probing = False
        self._settled.set()

    def _success(self) -> None:
        if self._state != CLOSED:
            log.info("model endpoint answers again; circuit closed")
        self._state, self._failures = CLOSED, 0
        self._end_probe()

    def _failure(self) -> None:
        self._failures += 1
        if self._state == HALF_OPEN or self._failures >= self.failures_to_open:
            if self._state != OPEN:
                log.warning(
                    "model endpoint failing; circuit open",
                    extra={"fields": {"failures": self._failures, "reset_seconds": self.reset_seconds}},
                )
            self._state, self._opened_at = OPEN, self._clock()
        self._end_probe()
