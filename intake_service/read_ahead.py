"""Bounded read-ahead over a request stream, handed out in batches.

While one batch is validated and committed, the next requests are read, but
never more than `max_items` or `max_bytes` (one request is always admitted,
whatever its size). Once the buffer is full, nothing more is read from the
stream, so gRPC's flow control makes a fast client wait instead of making
intake buffer without bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Generic, TypeVar

T = TypeVar("T")

_END = object()


class ReadAhead(Generic[T]):
    def __init__(self, source: AsyncIterator[T], size: Callable[[T], int], *, max_items: int, max_bytes: int) -> None:
        self._source = source
        self._size = size
        self._max_items = max_items
        self._max_bytes = max_bytes
        self._items: list[tuple[T, int]] = []
        self._bytes = 0
        self._done: object | None = None  # _END, or the exception that ended the source
        self._changed = asyncio.Condition()

    def _has_room(self) -> bool:
        return not self._items or (len(self._items) < self._max_items and self._bytes < self._max_bytes)

    async def _read(self) -> None:
        try:
            async for item in self._source:
                size = self._size(item)
                async with self._changed:
                    await self._changed.wait_for(self._has_room)
                    self._items.append((item, size))
                    self._bytes += size
                    self._changed.notify_all()
            end: object = _END
        except Exception as exc:
            end = exc
        async with self._changed:
            self._done = end
            self._changed.notify_all()

    async def batches(self) -> AsyncGenerator[list[T], None]:
        """Everything buffered so far (at least one request), until the stream
        ends; re-raises what ended the stream, if it was an error."""
        reader = asyncio.create_task(self._read(), name="read-ahead")
        try:
            while True:
                async with self._changed:
                    await self._changed.wait_for(lambda: self._items or self._done is not None)
                    batch, self._items, self._bytes = self._items, [], 0
                    self._changed.notify_all()
                if batch:
                    yield [item for item, _ in batch]
                elif self._done is _END:
                    return
                else:
                    assert isinstance(self._done, Exception)
                    raise self._done
        finally:
            reader.cancel()
