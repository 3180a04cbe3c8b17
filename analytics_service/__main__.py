"""python -m analytics_service"""
from __future__ import annotations

from analytics_service import dashboard
from analytics_service.servicer import AnalyticsServicer
from analytics_service.settings import Settings
from analytics_service.snapshot import DashboardSnapshot
from complaints import server
from complaints.db import make_pool
from complaints.v1 import analytics_pb2, analytics_pb2_grpc


async def main() -> None:
    settings = Settings.from_env()
    pool = make_pool(settings.database_url, name="analytics", min_size=settings.pool_min,
                     max_size=settings.pool_max, read_only=True,
                     statement_timeout_ms=settings.statement_timeout_ms)
    snapshot = DashboardSnapshot(
        lambda: dashboard.load(pool, settings.top_entities, settings.top_cases),
        settings.database_url,
        max_staleness=settings.max_staleness_seconds,
        debounce=settings.refresh_debounce_seconds,
    )
    servicer = AnalyticsServicer(snapshot, settings.watch_interval_ms)

    def register(srv):
        analytics_pb2_grpc.add_AnalyticsServiceServicer_to_server(servicer, srv)
        return [analytics_pb2.DESCRIPTOR.services_by_name["AnalyticsService"].full_name]

    await server.run(server.Service(
        name="analytics",
        bind=settings.bind,
        pool=pool,
        register=register,
        grace_seconds=settings.grace_seconds,
        start_background=snapshot.start,
        stop_background=snapshot.stop,
    ))


if __name__ == "__main__":
    server.main("analytics", main)
