"""python -m intake_service"""
from __future__ import annotations

from complaints import server
from complaints.db import make_pool
from complaints.v1 import intake_pb2, intake_pb2_grpc
from intake_service.dispatcher import Dispatcher
from intake_service.servicer import IntakeServicer
from intake_service.settings import Settings
from intake_service.status_feed import StatusFeed
from intake_service.store import IntakeStore


async def main() -> None:
    settings = Settings.from_env()
    pool = make_pool(settings.database_url, name="intake", min_size=settings.pool_min,
                     max_size=settings.pool_max, vectors=False)
    dispatcher = Dispatcher(settings.pipeline_targets, settings.dispatch_api_key)
    feed = StatusFeed(settings.database_url)
    servicer = IntakeServicer(IntakeStore(pool), dispatcher, feed, settings.limits, settings.flow)

    async def start_background() -> None:
        await dispatcher.start()
        await feed.start()

    async def stop_background(grace: float) -> None:
        await feed.stop()
        await dispatcher.stop(grace)

    def register(srv):
        intake_pb2_grpc.add_IntakeServiceServicer_to_server(servicer, srv)
        return [intake_pb2.DESCRIPTOR.services_by_name["IntakeService"].full_name]

    await server.run(server.Service(
        name="intake",
        bind=settings.bind,
        pool=pool,
        register=register,
        grace_seconds=settings.grace_seconds,
        cpu_priority=settings.cpu_priority,
        max_message_bytes=settings.limits.max_message_bytes,
        start_background=start_background,
        stop_background=stop_background,
        # A bulk stream answers a frame that is not a request with that item's own error.
        item_errors=[f"/{intake_pb2.DESCRIPTOR.services_by_name['IntakeService'].full_name}/SubmitComplaints"],
    ))


if __name__ == "__main__":
    server.main("intake", main)
