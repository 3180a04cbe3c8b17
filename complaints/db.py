"""Each service's own async connection pool."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

import psycopg
from pgvector.psycopg import register_vector_async
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from complaints.cancellation import cancel_and_wait
from complaints.config import ServiceSettings, SettingsError

# While the database is unreachable, at most one caller a second tries to
# connect; the others are refused at once.
PROBE_INTERVAL_SECONDS = 1.0
PROBE_CONNECT_TIMEOUT_SECONDS = 2


class DatabaseUnreachable(psycopg.OperationalError):
    """The pool's last attempt to connect failed. Answered at once as
    UNAVAILABLE, not after the pool timeout, which means every connection is
    busy (RESOURCE_EXHAUSTED): a client should retry the one, back off on the other."""


class ServicePool(AsyncConnectionPool[AsyncConnection[DictRow]]):
    """An AsyncConnectionPool that tells "database unreachable" from "pool
    exhausted". Every attempt to connect (the pool's own, in the background,
    and our probes) records whether it reached the server. While the last
    one failed, a caller is refused at once after at most one shared probe a
    second; a caller already waiting for a connection is refused as soon as
    an attempt fails, instead of after the pool timeout."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pool = self

        class Tracked(AsyncConnection[DictRow]):
            @classmethod
            async def connect(cls, *a: Any, **kw: Any) -> Any:
                try:
                    conn = await super().connect(*a, **kw)
                except psycopg.OperationalError as exc:
                    pool._unreachable(exc)
                    raise
                pool._down_since = None
                return conn

        super().__init__(*args, connection_class=Tracked, **kwargs)
        self._down_since: float | None = None
        self._down_reason = ""
        self._failed = asyncio.Event()  # set (and replaced) at each failed attempt
        self._probe: asyncio.Task[None] | None = None
        self._probed_at = 0.0

    def _unreachable(self, exc: Exception) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
        self._down_reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        failed, self._failed = self._failed, asyncio.Event()
        failed.set()

    def _refusal(self) -> DatabaseUnreachable:
        return DatabaseUnreachable(f"the database is unreachable ({self._down_reason})")

    async def _try_connect(self) -> None:
        try:
            # make_pool gives a URL and a dict, never the callables psycopg_pool also takes.
            conninfo, kwargs = cast(str, self.conninfo), cast(dict[str, Any], self.kwargs or {})
            conn = await self.connection_class.connect(
                conninfo, connect_timeout=PROBE_CONNECT_TIMEOUT_SECONDS, **kwargs
            )
        except Exception:
            return
        await conn.close()

    async def _check_reachable(self) -> None:
        if self._down_since is None:
            return
        if (self._probe is None or self._probe.done()) and time.monotonic() - self._probed_at >= PROBE_INTERVAL_SECONDS:
            self._probed_at = time.monotonic()
            self._probe = asyncio.ensure_future(self._try_connect())
        if self._probe is not None and not self._probe.done():
            await asyncio.shield(self._probe)
        if self._down_since is not None:
            raise self._refusal()

    async def getconn(self, timeout: float | None = None) -> Any:
        await self._check_reachable()
        failed = asyncio.ensure_future(self._failed.wait())
        getting = asyncio.ensure_future(super().getconn(timeout))
        try:
            await asyncio.wait({getting, failed}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            await self._abandon(getting)
            raise
        finally:
            failed.cancel()
        if not getting.done():
            await self._abandon(getting)
            raise self._refusal()
        return getting.result()

    async def _abandon(self, getting: asyncio.Task[Any]) -> None:
        """Stops waiting for a connection, and gives back one it got meanwhile."""
        await cancel_and_wait(getting)
        if not getting.cancelled() and getting.exception() is None:
            await self.putconn(getting.result())


def make_pool(
    url: str,
    *,
    name: str,
    min_size: int,
    max_size: int,
    timeout: float = 10.0,
    max_waiting: int = 0,
    read_only: bool = False,
    statement_timeout_ms: int | None = None,
    vectors: bool = True,
) -> ServicePool:
    """A pool that is not open yet: the caller awaits `pool.open()`.

    `vectors` registers pgvector's type, which needs the extension, so it is
    created only after migrations ran.
    """

    async def configure(conn: AsyncConnection[Any]) -> None:
        # Autocommit first: anything below would otherwise open a transaction
        # that the pool sees as a dirty connection. Transactions are explicit.
        await conn.set_autocommit(True)
        if vectors:
            await register_vector_async(conn)
        if read_only:
            await conn.execute("SET default_transaction_read_only = on")
        if statement_timeout_ms:
            # SET cannot take a bind parameter; the value is an int we parsed.
            await conn.execute(f"SET statement_timeout = {int(statement_timeout_ms)}")

    return ServicePool(
        url,
        name=name,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout,
        max_waiting=max_waiting,
        open=False,
        configure=configure,
        kwargs={"row_factory": dict_row, "application_name": name},
        # Check a connection before lending it, so a restarted PostgreSQL
        # costs one reconnect instead of a failed request.
        check=AsyncConnectionPool.check_connection,
    )


def pool_stats(pool: ServicePool) -> dict[str, int]:
    return {k: int(v) for k, v in pool.get_stats().items()}


async def check_connection_budget(pool: ServicePool, settings: ServiceSettings) -> None:
    """Refuses to start (SettingsError) when this service's replicas could open
    more connections than its database role's CONNECTION LIMIT allows: better a
    clear refusal at deploy time than "too many connections" under load."""
    async with pool.connection() as conn:
        cur = await conn.cursor(row_factory=dict_row).execute(
            "SELECT rolname, rolconnlimit, rolsuper FROM pg_roles WHERE rolname = current_user"
        )
        row = await cur.fetchone()
    if row is None or row["rolconnlimit"] < 0 or row["rolsuper"]:
        return  # no limit (-1), or a superuser, whom PostgreSQL does not limit
    count, dedicated = settings.replicas, settings.DEDICATED_CONNECTIONS
    per_replica = pool.max_size + dedicated
    if per_replica * count > row["rolconnlimit"]:
        prefix = settings.name.upper()
        raise SettingsError(
            f"{prefix}_DB_POOL_MAX={pool.max_size} (+{dedicated} dedicated) x "
            f"{prefix}_REPLICAS={count} = {per_replica * count} connections, but role {row['rolname']} has "
            f"CONNECTION LIMIT {row['rolconnlimit']}: lower {prefix}_DB_POOL_MAX or raise the limit with "
            f"`python -m ops.roles` (README, Pool sizing)"
        )
