"""AnalyticsService over gRPC."""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import grpc

from analytics_service.snapshot import DashboardSnapshot
from complaints.v1 import analytics_pb2, analytics_pb2_grpc


class AnalyticsServicer(analytics_pb2_grpc.AnalyticsServiceServicer):
    def __init__(self, snapshot: DashboardSnapshot, watch_interval_ms: int) -> None:
        self.snapshot = snapshot
        self.watch_interval = watch_interval_ms / 1000

    async def GetDashboard(self, request: analytics_pb2.GetDashboardRequest, context: grpc.aio.ServicerContext) -> analytics_pb2.Dashboard:
        return await self.snapshot.get(timeout=context.time_remaining())

    async def WatchDashboard(self, request: analytics_pb2.WatchDashboardRequest, context: grpc.aio.ServicerContext) -> AsyncIterator[analytics_pb2.Dashboard]:
        dashboard = await self.snapshot.get()
        version = self.snapshot.version
        yield dashboard
        while True:
            sent = time.monotonic()
            version = await self.snapshot.wait_newer(version)
            # At most one push per interval, whatever the rate of change.
            rest = self.watch_interval - (time.monotonic() - sent)
            if rest > 0:
                await asyncio.sleep(rest)
            version = self.snapshot.version
            yield self.snapshot.current
