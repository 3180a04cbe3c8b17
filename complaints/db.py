"""Each service's own async connection pool."""
from __future__ import annotations

from typing import Any

from pgvector.psycopg import register_vector_async
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool


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
) -> AsyncConnectionPool:
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

    return AsyncConnectionPool(
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


def pool_stats(pool: AsyncConnectionPool) -> dict[str, int]:
    return {k: int(v) for k, v in pool.get_stats().items()}
