"""Each service's own async connection pool."""
from __future__ import annotations

from typing import Any

from pgvector.psycopg import register_vector_async
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from complaints.config import SettingsError, env_int


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


# Connections a service holds outside its pool, per replica: intake's status
# feed and analytics' snapshot each LISTEN on a connection of their own.
DEDICATED_CONNECTIONS = {"intake": 1, "analytics": 1, "pipeline": 0}
# How many replicas `make run` starts by default (PIPELINE_REPLICAS).
DEFAULT_REPLICAS = {"intake": 1, "analytics": 1, "pipeline": 2}


def replicas(service: str) -> int:
    """<SERVICE>_REPLICAS: the most replicas of `service` that may run at once
    (for an autoscaled pipeline, the autoscaler's maximum)."""
    return env_int(f"{service.upper()}_REPLICAS", DEFAULT_REPLICAS[service], minimum=1)


def connections_per_replica(service: str, pool_max: int) -> int:
    return pool_max + DEDICATED_CONNECTIONS[service]


async def check_connection_budget(pool: AsyncConnectionPool, service: str) -> None:
    """Refuses to start (SettingsError) when this service's replicas could open
    more connections than its database role's CONNECTION LIMIT allows: better a
    clear refusal at deploy time than "too many connections" under load."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT rolname, rolconnlimit, rolsuper FROM pg_roles WHERE rolname = current_user"
        )
        row = await cur.fetchone()
    if row is None or row["rolconnlimit"] < 0 or row["rolsuper"]:
        return  # no limit (-1), or a superuser, whom PostgreSQL does not limit
    count = replicas(service)
    per_replica = connections_per_replica(service, pool.max_size)
    if per_replica * count > row["rolconnlimit"]:
        prefix = service.upper()
        raise SettingsError(
            f"{prefix}_DB_POOL_MAX={pool.max_size} (+{DEDICATED_CONNECTIONS[service]} dedicated) x "
            f"{prefix}_REPLICAS={count} = {per_replica * count} connections, but role {row['rolname']} has "
            f"CONNECTION LIMIT {row['rolconnlimit']}: lower {prefix}_DB_POOL_MAX or raise the limit with "
            f"`python -m complaints.roles` (README, Pool sizing)"
        )
