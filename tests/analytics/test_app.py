"""The analytics service built from its settings and run in the test's
process on port 0 (analytics_service/app.py), as `python -m analytics_service`
runs it; tests/analytics/test_snapshot.py runs it the same way."""

from __future__ import annotations

import grpc
import pytest

from analytics_service.app import build
from analytics_service.settings import Settings
from complaints.v1 import analytics_pb2 as pb
from complaints.v1 import analytics_pb2_grpc
from tests.helpers import aio_channel, in_process_env


async def test_analytics_built_from_settings_answers_in_process_within_its_concurrent_rpc_bound(database):
    app = build(Settings.from_env(in_process_env(database, "analytics", ANALYTICS_MAX_CONCURRENT_RPCS="1")))
    async with app.running(), aio_channel(f"127.0.0.1:{app.port}") as ch:
        stub = analytics_pb2_grpc.AnalyticsServiceStub(ch)
        assert (await stub.GetDashboard(pb.GetDashboardRequest(), timeout=10)).HasField("as_of")
        # An open watch is the one RPC allowed: the next call is refused, not queued.
        watch = stub.WatchDashboard(pb.WatchDashboardRequest(), timeout=30)
        await watch.read()
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetDashboard(pb.GetDashboardRequest(), timeout=10)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        watch.cancel()
