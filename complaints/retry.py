"""The retry policy (tenacity) of the loops that keep a long-lived connection
up for as long as a service runs: a LISTEN connection (complaints/listen.py),
intake's Dispatch stream to each pipeline replica (intake_service/dispatcher.py).

After a connection is lost, could not be made or simply ended, the next try
waits 0.2 s, doubling up to 5 s; one that came up starts again from 0.2 s.
Only cancellation (and what the caller does not list) ends the loop.
"""

from __future__ import annotations

from tenacity import AsyncRetrying, AttemptManager, retry_if_exception_type, retry_if_result, wait_exponential

FIRST_SECONDS = 0.2
LONGEST_SECONDS = 5.0


def _ended(_result: object) -> bool:
    return True  # a connection that ended without an error is made again too


def reconnecting(
    retry_on: type[BaseException] | tuple[type[BaseException], ...] = Exception,
) -> AsyncRetrying:
    """Retries forever, after an exception of `retry_on` or an attempt that ended."""
    return AsyncRetrying(
        wait=wait_exponential(multiplier=FIRST_SECONDS, max=LONGEST_SECONDS),
        retry=retry_if_exception_type(retry_on) | retry_if_result(_ended),
    )


def connected(attempt: AttemptManager) -> None:
    """Says the attempt's connection came up: when it is lost, the wait starts
    again from the first delay (tenacity counts attempts for the whole loop)."""
    attempt.retry_state.attempt_number = 1
