"""Cancels that Python 3.11 can lose: a timed wait must pass on a cancel that
arrives in the loop step in which the awaited event is set (3.11's
asyncio.wait_for swallows that one), and stopping a task must end it even
when a library's wait_for swallowed the first cancel (complaints/cancellation.py)."""

from __future__ import annotations

import asyncio
import sys

import pytest

from complaints.cancellation import cancel_and_wait, wait_event


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
    # Why the module exists: on 3.11 the cancel is lost (3.12 fixed it).
    task = await _cancel_as_the_event_is_set(lambda e: asyncio.wait_for(e.wait(), 10))
    await asyncio.wait({task})
    assert task.cancelled() is (sys.version_info >= (3, 12))


async def test_it_says_whether_the_event_was_set():
    event = asyncio.Event()
    assert await wait_event(event, 0.01) is False
    event.set()
    assert await wait_event(event, 0) is True


async def test_a_loop_that_lost_its_cancel_is_still_stopped():
    event = asyncio.Event()
    rounds = 0

    async def loop_on_wait_for() -> None:  # as a library's wait loop may be
        nonlocal rounds
        while True:
            await asyncio.wait_for(event.wait(), 10)
            event.clear()
            rounds += 1

    task = asyncio.create_task(loop_on_wait_for())
    await asyncio.sleep(0)
    event.set()
    await cancel_and_wait(task)  # its first cancel lands in the same step as the set
    assert task.cancelled()
    if sys.version_info < (3, 12):
        assert rounds == 1  # the first cancel was lost: the loop went round once more
