"""A LISTEN connection kept up for as long as a service runs.

It is a connection of its own, outside the pool: a pooled one would be
taken from the RPCs for good. Whenever it comes (back) up the caller is told,
since notifications sent while it was down are lost; a lost connection is
made again with complaints/retry.py's delays.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import psycopg

from complaints.retry import connected, reconnecting

log = logging.getLogger(__name__)


async def listen_forever(
    url: str,
    channel: str,
    on_connected: Callable[[], None],
    on_notify: Callable[[str], None],
    application_name: str | None = None,
) -> None:
    """LISTENs on `channel` until cancelled: `on_connected()` each time the
    connection comes (back) up, `on_notify(payload)` for each notification."""
    async for attempt in reconnecting():
        with attempt:
            try:
                async with await psycopg.AsyncConnection.connect(
                    url, autocommit=True, application_name=application_name
                ) as conn:
                    await conn.execute(f"LISTEN {channel}")
                    connected(attempt)
                    on_connected()
                    async for note in conn.notifies():
                        on_notify(note.payload)
            except Exception as exc:
                log.warning("listen connection lost", extra={"fields": {"channel": channel, "error": repr(exc)[:300]}})
                raise
