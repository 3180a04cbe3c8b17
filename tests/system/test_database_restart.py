"""PostgreSQL restarted under running services: the connections their pools
kept idle are dead, and the first requests after the restart must not be
handed them. Every pool is made by complaints/db.py's make_pool, which checks
a connection before lending it (psycopg_pool's check_connection)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import pytest

from analytics_service.app import build as build_analytics
from analytics_service.settings import Settings as AnalyticsSettings
from complaints import server
from complaints.v1 import analytics_pb2, analytics_pb2_grpc, intake_pb2_grpc
from intake_service.app import build as build_intake
from intake_service.settings import Settings as IntakeSettings
from ops.embedded_pg import free_port
from ops.supervisor import Supervisor
from tests.helpers import aio_channel, complaint, in_process_env

# More connections than one request takes, all idle when PostgreSQL goes.
POOL = 3

Call = Callable[[grpc.aio.Channel], Awaitable[Any]]


def service_env(database: Supervisor, service: str, **env: str) -> dict[str, str]:
    return in_process_env(database, service, **{f"{service.upper()}_DB_POOL_MIN": str(POOL)}, **env)


async def list_complaints(ch: grpc.aio.Channel) -> Any:
    request = analytics_pb2.ListComplaintsRequest(page_size=1)
    return await analytics_pb2_grpc.AnalyticsServiceStub(ch).ListComplaints(request, timeout=10)


async def submit(ch: grpc.aio.Channel) -> Any:
    return await intake_pb2_grpc.IntakeServiceStub(ch).SubmitComplaint(complaint(), timeout=10)


def analytics(database: Supervisor) -> tuple[server.App, Call]:
    # No reload of the dashboard of its own: only the calls below use the pool.
    env = service_env(database, "analytics", ANALYTICS_MAX_STALENESS_SECONDS="3600")
    return build_analytics(AnalyticsSettings.from_env(env)), list_complaints


def intake(database: Supervisor) -> tuple[server.App, Call]:
    env = service_env(
        database,
        "intake",
        PIPELINE_TARGETS=f"127.0.0.1:{free_port()}",
        INTAKE_DISPATCH_API_KEY=database.dispatch_key,
    )
    return build_intake(IntakeSettings.from_env(env)), submit


@pytest.mark.parametrize("service", [analytics, intake])
async def test_the_first_requests_after_a_postgres_restart_get_live_connections(database, service):
    app, call = service(database)
    async with app.running(), aio_channel(f"127.0.0.1:{app.port}") as ch:
        await call(ch)
        await app.pool.wait(timeout=30)  # every connection open
        assert database.pg is not None
        # Restarted while the service's event loop waits (these calls block
        # it): its pool notices nothing until the next request.
        database.pg.stop()
        database.pg.start()
        for _ in range(POOL + 1):
            await call(ch)
