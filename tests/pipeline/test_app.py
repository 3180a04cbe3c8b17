"""The pipeline service built from its settings and run in the test's
process on port 0 (pipeline_service/app.py), as `python -m pipeline_service`
runs it."""

from __future__ import annotations

from complaints.v1 import pipeline_pb2, pipeline_pb2_grpc
from pipeline_service.app import build
from pipeline_service.settings import Settings
from tests.helpers import aio_channel, in_process_env


async def test_pipeline_built_from_settings_reports_its_status_in_process(database):
    settings = Settings.from_env(
        in_process_env(database, "pipeline", PIPELINE_REPLICA_ID="in-process", PIPELINE_MAX_IN_FLIGHT="7")
    )
    app = build(settings)
    async with app.running(), aio_channel(f"127.0.0.1:{app.port}") as ch:
        status = await pipeline_pb2_grpc.PipelineServiceStub(ch).GetPipelineStatus(
            pipeline_pb2.GetPipelineStatusRequest(), timeout=10
        )
    assert (status.replica_id, status.capacity, status.analyzer) == ("in-process", 7, "local")
    assert not status.draining
