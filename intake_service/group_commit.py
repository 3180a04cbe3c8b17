"""Concurrent SubmitComplaint calls share one transaction, as a bulk stream's
requests do.

A call that finds no batch committing starts one at once, so a lone caller
waits for nothing; calls that arrive while a batch commits wait and go
together in the next one (at most `max_items` or `max_bytes` of requests,
always at least one). One commit, one WAL flush, for many complaints.
Each caller gets its own outcome; a failure of the whole transaction reaches
every caller in it, and nothing of it was stored. A caller that gives up
leaves its request in the batch: as with any call, an answer means stored,
no answer means retry with the same key.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from complaints.metrics import COMMIT_WAITING

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    def __init__(
        self,
        commit: Callable[[list[T]], Awaitable[list[R]]],
        size: Callable[[T], int],
        *,
        max_items: int,
        max_bytes: int,
    ) -> None:
        self._commit = commit
        self._size = size
        self._max_items = max_items
        self._max_bytes = max_bytes
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._leader: asyncio.Task[None] | None = None

    async def __call__(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        COMMIT_WAITING.set(len(self._waiting))
        if self._leader is None:
            # Its own context: no caller's request ID is bound to what the batch logs.
            self._leader = asyncio.create_task(self._drain(), name="group-commit", context=contextvars.Context())
        return await future

    def _next_batch(self) -> list[tuple[T, asyncio.Future[R]]]:
        taken, total = 0, 0
        for item, _ in self._waiting:
            total += self._size(item)
            if taken and (taken == self._max_items or total > self._max_bytes):
                break
            taken += 1
        batch, self._waiting = self._waiting[:taken], self._waiting[taken:]
        COMMIT_WAITING.set(len(self._waiting))
        return batch

    async def _drain(self) -> None:
        batch: list[tuple[T, asyncio.Future[R]]] = []
        try:
            while self._waiting:
                batch = self._next_batch()
                try:
                    outcomes = await self._commit([item for item, _ in batch])
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                else:
                    for (_, future), outcome in zip(batch, outcomes):
                        if not future.done():
                            future.set_result(outcome)
        finally:
            self._leader = None
            # Cancelled (the process is stopping): whoever still waits gets the cancel.
            for _, future in [*batch, *self._waiting]:
                future.cancel()
            self._waiting = []
            COMMIT_WAITING.set(0)
