"""The retry policy of the loops that keep a connection up (complaints/retry.py):
the delays a lost connection waits, and what ends the loop."""

from __future__ import annotations

import asyncio

import pytest

from complaints.retry import connected, reconnecting


def _recording(waits: list[float]):
    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    return reconnecting(retry_on=OSError).copy(sleep=sleep)


async def test_waits_double_up_to_five_seconds_and_start_again_once_a_connection_came_up():
    waits: list[float] = []
    tries = 0
    async for attempt in _recording(waits):
        with attempt:
            tries += 1
            if tries == 8:
                connected(attempt)
            if tries == 10:
                break
            if tries != 9:  # the ninth connection ends without an error: made again all the same
                raise OSError("refused")
    assert waits == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 0.2, 0.4]


@pytest.mark.parametrize("exc", [asyncio.CancelledError(), ValueError("not a lost connection")])
async def test_cancellation_and_unlisted_errors_end_the_loop(exc):
    waits: list[float] = []
    with pytest.raises(type(exc)):
        async for attempt in _recording(waits):
            with attempt:
                raise exc
    assert waits == []
