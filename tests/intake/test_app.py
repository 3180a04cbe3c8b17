"""The intake service built from its settings and run in the test's process
on port 0 (intake_service/app.py), as `python -m intake_service` runs it."""

from __future__ import annotations

import psycopg

from complaints.v1 import intake_pb2, intake_pb2_grpc, types_pb2
from intake_service.app import build
from intake_service.settings import Settings
from ops.embedded_pg import free_port
from tests.helpers import aio_channel, complaint, in_process_env


async def test_intake_built_from_settings_accepts_a_complaint_in_process(database):
    # No replica listens at the target: the complaint waits QUEUED.
    settings = Settings.from_env(
        in_process_env(
            database,
            "intake",
            PIPELINE_TARGETS=f"127.0.0.1:{free_port()}",
            INTAKE_DISPATCH_API_KEY=database.dispatch_key,
        )
    )
    app = build(settings)
    async with app.running():
        assert app.port != 0
        async with aio_channel(f"127.0.0.1:{app.port}") as ch:
            stub = intake_pb2_grpc.IntakeServiceStub(ch)
            reply = await stub.SubmitComplaint(complaint(), timeout=10)
            status = await stub.GetComplaintStatus(
                intake_pb2.GetComplaintStatusRequest(complaint_id=reply.complaint_id), timeout=10
            )
    assert reply.status == status.status == types_pb2.QUEUED
    with psycopg.connect(database.admin_url) as conn:
        stored = conn.execute("SELECT status FROM complaints WHERE id = %s", (reply.complaint_id,)).fetchone()
    assert stored == ("QUEUED",)
