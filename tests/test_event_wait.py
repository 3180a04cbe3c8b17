"""A timed wait must pass on a cancel that arrives in the loop step in which
the awaited event is set (Python 3.11's asyncio.wait_for swallows that one;
complaints/event_wait.py)."""
from __future__ import annotations

import asyncio

import pytest

from complaints.event_wait import wait_event


async def _cancel_as_the_event_is_set(wait) -> asyncio.Task:
    event = asyncio.Event()
    task = asyncio.create_task(wait(event))
    await asyncio.sleep(0)  # the task is now waiting
    event.set()
    task.cancel()  # same step: both the wake-up and the cancel are pending
    return task


async def test_a_cancel_as_the_event_is_set_reaches_the_waiter():
    task = await _cancel_as_the_event_is_set(lambda e: wait_event(e, 10))
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_the_race_is_real_with_wait_for():
    # The reason for event_wait.py: on 3.11 the cancel is lost. (3.12 fixed it.)
    task = await _cancel_as_the_event_is_set(lambda e: asyncio.wait_for(e.wait(), 10))
    await asyncio.wait({task})
    import sys
    assert task.cancelled() is (sys.version_info >= (3, 12))


async def test_it_says_whether_the_event_was_set():
    event = asyncio.Event()
    assert await wait_event(event, 0.01) is False
    event.set()
    assert await wait_event(event, 0) is True
