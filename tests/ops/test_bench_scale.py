"""make bench-scale's generated rows are what the product would have stored:
every pre-computed figure equals the rows, the entity counts among them
counted by migration 013's own backfill (the bench has no copy of it)."""

from __future__ import annotations

from pathlib import Path

import psycopg

from bench import scale
from ops.embedded_pg import free_port
from ops.supervisor import Supervisor
from tests.invariants import assert_figures
from tests.sql import scalar


def test_the_filled_database_counts_what_its_rows_say(tmp_path: Path) -> None:
    sup = Supervisor(
        datadir=tmp_path,
        intake_port=0,
        analytics_port=0,
        pipeline_ports=[],
        pg_port=free_port(),
        durable=False,
        logs_dir=tmp_path,
    )
    try:
        scale.fill(sup, 400)
        with psycopg.connect(sup.admin_url) as conn:
            latest = scalar(conn, "SELECT max(version) FROM schema_migrations")
            counted = scalar(conn, "SELECT count(*) FROM case_entities")
            processed = scalar(conn, "SELECT count(*) FROM analyses")
        assert latest == max(version for version, _, _ in scale.migrate.available())
        assert processed == 400
        assert counted > 0, "no entity counted: the check below would compare empty tables"
        assert_figures(sup.admin_url)
    finally:
        sup.stop()
