"""Waiting for an asyncio.Event with a time limit, without losing a cancel.

Python 3.11's asyncio.wait_for returns normally when the task is cancelled in
the same loop step as the awaited thing completes (CPython gh-86296, fixed in
3.12 by rebuilding wait_for on asyncio.timeout). A background loop built on it
can then ignore its one cancel at shutdown and keep the process alive; seen
here as a pipeline replica that never exited after SIGTERM. asyncio.timeout
counts cancels, so an outside cancel always reaches the caller: every timed
wait in the services uses it.
"""
from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Waits until `event` is set or `seconds` pass; True if it was set."""
    try:
        async with asyncio.timeout(max(seconds, 0)):
            await event.wait()
    except TimeoutError:
        return event.is_set()
    return True
