"""Wakes WatchComplaint callers when their complaint changes.

Migration 005 NOTIFYs 'complaint_status' with the complaint ID on every
change of status, stage, attempts or error. One LISTEN connection per intake
process (complaints/listen.py) wakes the watchers of that ID; each then reads
the row once through the pool, so no connection is held per watcher. When
the listen connection comes (back) up every watcher re-reads, and each
re-reads anyway every `recheck` seconds: a missed notification delays an
update, never loses it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from complaints.cancellation import cancel_and_wait
from complaints.listen import listen_forever

CHANNEL = "complaint_status"


class StatusFeed:
    def __init__(self, url: str, recheck: float = 5.0) -> None:
        self.url = url
        self.recheck = recheck
        self._watchers: dict[str, set[asyncio.Event]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(
            listen_forever(self.url, CHANNEL, self._wake, self._wake, application_name="intake-status-feed"),
            name="status-feed",
        )

    async def stop(self, _grace: float = 0) -> None:
        if self._task:
            await cancel_and_wait(self._task)

    @property
    def watching(self) -> int:
        return sum(len(events) for events in self._watchers.values())

    @contextlib.contextmanager
    def watch(self, complaint_id: str) -> Iterator[asyncio.Event]:
        """An event set whenever `complaint_id` may have changed."""
        event = asyncio.Event()
        self._watchers.setdefault(complaint_id, set()).add(event)
        try:
            yield event
        finally:
            events = self._watchers.get(complaint_id, set())
            events.discard(event)
            if not events:
                self._watchers.pop(complaint_id, None)

    def _wake(self, complaint_id: str | None = None) -> None:
        groups = self._watchers.values() if complaint_id is None else [self._watchers.get(complaint_id, set())]
        for events in groups:
            for event in events:
                event.set()
