"""An in-memory Dashboard shared by every caller and watcher.

PostgreSQL NOTIFYs on every change to the figures; we debounce them and
reload in one query, and reload anyway so that a snapshot is never older than
max_staleness seconds, in case a notification was missed. Callers never
trigger a query themselves (no stampede); if the database is unreachable they
get the last snapshot, with its as_of. Only calls before the first load wait,
for its outcome. On shutdown, watchers are told to reconnect elsewhere
instead of holding up the server's grace period.

The snapshot is kept serialised too (`encoded`), once per reload: every
GetDashboard and every watcher is sent the same bytes, with no protobuf
encoding per call (analytics_service/app.py registers both RPCs without a
response serializer).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

from complaints.cancellation import cancel_and_wait, wait_event
from complaints.errors import DeadlineExceeded, Unavailable
from complaints.listen import listen_forever
from complaints.v1 import analytics_pb2

log = logging.getLogger(__name__)

CHANNEL = "analytics"


class DashboardSnapshot:
    def __init__(
        self,
        loader: Callable[[], Awaitable[analytics_pb2.Dashboard]],
        listen_url: str,
        *,
        max_staleness: float,
        debounce: float,
    ) -> None:
        self._loader = loader
        self._listen_url = listen_url
        self.max_staleness = max_staleness
        self.debounce = debounce
        self.current: analytics_pb2.Dashboard | None = None
        # `current` serialised: what GetDashboard and WatchDashboard send.
        self.encoded: bytes | None = None
        self.version = 0
        self.refreshes = 0
        self.failures = 0
        self.closed = False
        # Callers waiting for the first load's outcome.
        self.waiting = 0
        self._last_error = ""
        self._content: bytes | None = None
        # Woken by every refresh outcome and by stop().
        self._changed = asyncio.Condition()
        self._dirty = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._refresh_forever(), name="snapshot:refresh"),
            asyncio.create_task(
                listen_forever(self._listen_url, CHANNEL, self._dirty.set, lambda _payload: self._dirty.set()),
                name="snapshot:listen",
            ),
        ]

    async def stop(self, _grace: float = 0) -> None:
        async with self._changed:
            self.closed = True
            self._changed.notify_all()
        await cancel_and_wait(*self._tasks)

    async def get(self, timeout: float | None = None) -> bytes:
        """The current snapshot, serialised; before the first load, waits for
        the next load's outcome (at most `timeout` seconds)."""
        if self.encoded is not None:
            return self.encoded
        failures = self.failures
        self.waiting += 1
        try:
            async with self._changed, asyncio.timeout(timeout):  # not wait_for: complaints/cancellation.py
                await self._changed.wait_for(
                    lambda: self.encoded is not None or self.failures > failures or self.closed
                )
        except TimeoutError:
            raise DeadlineExceeded("the dashboard is still loading for the first time; retry") from None
        finally:
            self.waiting -= 1
        if self.encoded is None:
            raise Unavailable(f"the dashboard could not be loaded yet ({self._last_error}); retry with backoff")
        return self.encoded

    async def wait_newer(self, version: int) -> int:
        """Waits until a snapshot newer than `version` exists; returns its version.
        Raises Unavailable once the service is stopping."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.version > version or self.closed)
            if self.closed:
                raise Unavailable("the analytics service is shutting down; reconnect")
            return self.version

    async def _refresh_once(self) -> None:
        dashboard = await self._loader()
        self.refreshes += 1
        content = _content(dashboard)
        encoded = dashboard.SerializeToString()
        if content == self._content:
            # Same figures, newer as_of: nobody to wake.
            self.current, self.encoded = dashboard, encoded
            return
        async with self._changed:
            self.current, self.encoded, self._content = dashboard, encoded, content
            self.version += 1
            self._changed.notify_all()

    async def _failed(self, retry_state: RetryCallState) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        self.failures += 1
        self._last_error = type(exc).__name__
        # Keep serving the last snapshot; wake only callers waiting for a first load.
        log.warning("dashboard refresh failed", extra={"fields": {"error": repr(exc)[:300]}})
        async with self._changed:
            self._changed.notify_all()

    async def _timed_refresh(self) -> float:
        """Reloads once; returns when it started."""
        started = time.monotonic()
        await self._refresh_once()
        return started

    async def _refresh_forever(self) -> None:
        # A failed reload is tried again after 0.1 s, doubling up to max_staleness.
        reload = AsyncRetrying(
            wait=wait_exponential(multiplier=0.1, max=self.max_staleness),
            retry=retry_if_exception_type(Exception),
            before_sleep=self._failed,
        )
        while True:
            started: float = await reload(self._timed_refresh)
            # The next reload is due so that it is done within max_staleness
            # of this one's read: it starts one query-time early.
            took = time.monotonic() - started
            due = max(self.max_staleness - 2 * took, self.debounce)
            await wait_event(self._dirty, due - (time.monotonic() - started))
            self._dirty.clear()
            # Debounce a burst of commits into one reload.
            rest = self.debounce - (time.monotonic() - started)
            if rest > 0:
                await asyncio.sleep(rest)


def _content(d: analytics_pb2.Dashboard) -> bytes:
    """The dashboard without as_of: a reload that changed nothing is not news."""
    copy = analytics_pb2.Dashboard()
    copy.CopyFrom(d)
    copy.ClearField("as_of")
    return copy.SerializeToString(deterministic=True)
