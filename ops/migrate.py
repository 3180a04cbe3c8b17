"""Versioned SQL migrations: each file in migrations/ is applied once, in its
own transaction, and recorded in schema_migrations.

    python -m ops.migrate            # uses DATABASE_URL
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import psycopg

log = logging.getLogger(__name__)

# Any fixed number: concurrent migrators (several replicas starting at once)
# wait for each other instead of racing.
_LOCK_ID = 7_424_221


def available() -> list[tuple[int, str, str]]:
    found = []
    for entry in (Path(__file__).parent / "migrations").iterdir():
        match = re.fullmatch(r"(\d+)_(\w+)\.sql", entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def apply(url: str, *, before: int | None = None) -> list[str]:
    """Applies what is missing (only versions below `before`, when given: a
    database as an older release left it); returns the names applied."""
    applied = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for version, name, sql in available():
                if version in done or (before is not None and version >= before):
                    continue
                with conn.transaction():
                    conn.execute(sql)  # a trusted file from the package
                    conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name))
                log.info("migration applied", extra={"fields": {"migration": name}})
                applied.append(name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
    return applied


def main() -> None:
    from complaints import logs
    from complaints.config import ENV, database_url

    logs.setup("migrate", ENV.log_level())
    names = apply(database_url("DATABASE_URL"))
    print(f"applied {len(names)} migration(s): {', '.join(names) or 'none needed'}")


if __name__ == "__main__":
    main()
