"""The intake service assembled from its settings: pool, store, dispatcher,
status feed, servicer. `python -m intake_service` serves it; tests run it
in-process (complaints/server.py)."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from complaints import server
from complaints.db import make_pool
from complaints.v1 import intake_pb2, intake_pb2_grpc
from intake_service.dispatcher import Dispatcher
from intake_service.servicer import IntakeServicer
from intake_service.settings import Settings
from intake_service.status_feed import StatusFeed
from intake_service.store import IntakeStore

SERVICE = intake_pb2.DESCRIPTOR.services_by_name["IntakeService"].full_name


@dataclass(kw_only=True)
class App(server.App):
    dispatcher: Dispatcher
    feed: StatusFeed


def build(settings: Settings) -> App:
    pool = make_pool(
        settings.database_url, name=settings.name, min_size=settings.pool_min, max_size=settings.pool_max, vectors=False
    )
    dispatcher = Dispatcher(settings.pipeline_targets, settings.dispatch_api_key)
    feed = StatusFeed(settings.database_url)
    servicer = IntakeServicer(IntakeStore(pool), dispatcher, feed, settings.limits, settings.flow)

    async def start_background() -> None:
        await dispatcher.start()
        await feed.start()

    async def stop_background(grace: float) -> None:
        await feed.stop()
        await dispatcher.stop(grace)

    def register(srv: grpc.aio.Server) -> list[str]:
        intake_pb2_grpc.add_IntakeServiceServicer_to_server(servicer, srv)
        return [SERVICE]

    return App(
        settings=settings,
        pool=pool,
        register=register,
        start_background=start_background,
        stop_background=stop_background,
        max_message_bytes=settings.limits.max_message_bytes,
        # A bulk stream answers a frame that is not a request with that item's own error.
        item_errors=[f"/{SERVICE}/SubmitComplaints"],
        dispatcher=dispatcher,
        feed=feed,
    )
