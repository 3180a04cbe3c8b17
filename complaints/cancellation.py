"""Timed waits and task cancels that hold on Python 3.11, where a cancel can
be lost.

3.11's asyncio.wait_for returns normally when the task is cancelled in the
same loop step as the awaited thing completes (CPython gh-86296, fixed in
3.12 by rebuilding wait_for on asyncio.timeout). A background loop waiting
that way can ignore its one cancel at shutdown and keep the process alive;
seen here as a pipeline replica that never exited after SIGTERM. So our own
timed waits use asyncio.timeout, which counts cancels; and since libraries
still use wait_for (psycopg_pool, waiting for a connection), a task we stop
is cancelled again for as long as it runs on.
"""

from __future__ import annotations

import asyncio
from typing import Any

# How long a cancelled task may run on before it is cancelled again.
RECANCEL_SECONDS = 0.1


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Waits until `event` is set or `seconds` pass; True if it was set."""
    try:
        async with asyncio.timeout(max(seconds, 0)):
            await event.wait()
    except TimeoutError:
        return event.is_set()
    return True


async def cancel_and_wait(*tasks: asyncio.Task[Any]) -> None:
    """Cancels the tasks and returns once all have ended, cancelling again any
    that runs on. What they raised is dropped: the caller is stopping them."""
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=RECANCEL_SECONDS)
    for task in tasks:
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not report it as never retrieved
