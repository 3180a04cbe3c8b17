"""Database budgets: each service's login role gets a CONNECTION LIMIT that
fits its pool, so no service can take the connections another needs.

    python -m ops.roles              # as an admin role (DATABASE_URL), after migrations
    python -m ops.roles --dry-run    # print the plan, change nothing

For each service: CONNECTION LIMIT = (pool max + dedicated) x (replicas + surge)

- pool max: <SERVICE>_DB_POOL_MAX, the same setting the service reads;
- dedicated: connections held outside the pool (intake's and analytics'
  LISTEN connection: each Settings' DEDICATED_CONNECTIONS);
- replicas: <SERVICE>_REPLICAS, the most replicas that may run at once (for
  the pipeline, the autoscaler's maximum);
- surge: DB_BUDGET_SURGE_REPLICAS (default 1), replicas' worth of headroom
  for a rolling update, when old and new pods overlap.

Each service checks at start that pool max + dedicated, times its replicas,
fits its role's limit, and refuses to start otherwise. The limits together
must fit in max_connections less the reserved slots, with the autoscaler's
role (migration 010, limit 2); this refuses a plan that does not.
`<SERVICE>_DB_PASSWORD` (and AUTOSCALER_DB_PASSWORD), when set, becomes the
role's password.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass

import psycopg
from psycopg import sql

from complaints.config import ServiceSettings, SettingsError, env_int

ROLES = {"intake": "complaints_intake", "pipeline": "complaints_pipeline", "analytics": "complaints_analytics"}
# Reads the queue depth for KEDA; its limit is fixed by migration 010.
AUTOSCALER_ROLE, AUTOSCALER_LIMIT = "complaints_autoscaler", 2


@dataclass(frozen=True)
class Budget:
    service: str
    role: str
    pool_max: int
    dedicated: int
    replicas: int
    surge: int

    @property
    def limit(self) -> int:
        return (self.pool_max + self.dedicated) * (self.replicas + self.surge)


def _settings(service: str) -> ServiceSettings:
    # The services' own settings, so their defaults are read in one place.
    if service == "intake":
        from intake_service.settings import Settings as Intake

        return Intake.from_env()
    if service == "analytics":
        from analytics_service.settings import Settings as Analytics

        return Analytics.from_env()
    from pipeline_service.settings import Settings as Pipeline

    return Pipeline.from_env()


def plan() -> list[Budget]:
    surge = env_int("DB_BUDGET_SURGE_REPLICAS", 1, minimum=0)
    budgets = []
    for service, role in ROLES.items():
        settings = _settings(service)
        budgets.append(
            Budget(service, role, settings.pool_max, settings.DEDICATED_CONNECTIONS, settings.replicas, surge)
        )
    return budgets


def available_connections(conn: psycopg.Connection) -> tuple[int, str]:
    """Connections left to ordinary roles, and how that was worked out."""
    row = conn.execute(
        "SELECT current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int,"
        " coalesce(current_setting('reserved_connections', true), '0')::int"
    ).fetchone()
    assert row is not None
    total, superuser, reserved = row
    return total - superuser - reserved, (
        f"max_connections {total} - superuser_reserved_connections {superuser} - reserved_connections {reserved}"
    )


def apply(conn: psycopg.Connection, budgets: list[Budget]) -> None:
    """Sets every limit (and password, when given) in one transaction, or
    nothing when the limits together exceed what the server allows."""
    free, how = available_connections(conn)
    wanted = sum(b.limit for b in budgets) + AUTOSCALER_LIMIT
    if wanted > free:
        raise SettingsError(
            f"the roles' CONNECTION LIMITs add up to {wanted} ({AUTOSCALER_LIMIT} of them the autoscaler's), "
            f"but only {free} connections are available ({how}): "
            "raise max_connections, or lower pool sizes or replicas (README, Pool sizing)"
        )
    with conn.transaction():
        for budget in budgets:
            conn.execute(
                sql.SQL("ALTER ROLE {} CONNECTION LIMIT {}").format(
                    sql.Identifier(budget.role), sql.Literal(budget.limit)
                )
            )
        for prefix, role in [*((b.service.upper(), b.role) for b in budgets), ("AUTOSCALER", AUTOSCALER_ROLE)]:
            password = os.environ.get(f"{prefix}_DB_PASSWORD")
            if password:
                conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))


def render(budgets: list[Budget]) -> str:
    head = f"{'role':<22} {'pool max':>8} {'dedicated':>9} {'replicas':>8} {'surge':>5} {'CONNECTION LIMIT':>16}"
    rows = [
        f"{b.role:<22} {b.pool_max:>8} {b.dedicated:>9} {b.replicas:>8} {b.surge:>5} {b.limit:>16}" for b in budgets
    ]
    autoscaler = f"{AUTOSCALER_ROLE:<22} {'':>8} {'':>9} {'':>8} {'':>5} {AUTOSCALER_LIMIT:>16}"
    total = sum(b.limit for b in budgets) + AUTOSCALER_LIMIT
    return "\n".join([head, *rows, autoscaler, f"{'total':<22} {total:>50}"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ops.roles", description="Set each service role's CONNECTION LIMIT from its pool size."
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    args = parser.parse_args(argv)
    try:
        budgets = plan()
        print(render(budgets))
        if args.dry_run:
            return 0
        url = os.environ.get("DATABASE_URL")
        if not url:
            raise SettingsError("set DATABASE_URL to an admin role's URL (one that may ALTER ROLE)")
        with psycopg.connect(url, autocommit=True) as conn:
            apply(conn, budgets)
            free, how = available_connections(conn)
    except SettingsError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    print(f"applied; {free} connections available to these roles ({how})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
