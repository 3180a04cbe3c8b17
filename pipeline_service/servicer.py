"""PipelineService over gRPC."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator

import grpc

from complaints.db import pool_stats
from complaints.messages import parse_id, status_message
from complaints.v1 import pipeline_pb2, pipeline_pb2_grpc, types_pb2
from pipeline_service.store import PipelineStore
from pipeline_service.worker import Worker

log = logging.getLogger(__name__)


class PipelineServicer(pipeline_pb2_grpc.PipelineServiceServicer):
    def __init__(self, worker: Worker, store: PipelineStore, replica_id: str) -> None:
        self.worker = worker
        self.store = store
        self.replica_id = replica_id

    async def Dispatch(
        self, request_iterator: AsyncIterator[pipeline_pb2.DispatchRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pipeline_pb2.DispatchAck]:
        async for request in request_iterator:
            try:
                accepted = self.worker.hint(uuid.UUID(request.complaint_id))
            except ValueError:
                accepted = False
            # The request and complaint IDs of this message are bound (complaints/rpc_observer.py).
            log.debug("complaint dispatched", extra={"fields": {"accepted": accepted}})
            yield pipeline_pb2.DispatchAck(complaint_id=request.complaint_id, accepted=accepted)

    async def GetPipelineStatus(
        self, request: pipeline_pb2.GetPipelineStatusRequest, context: grpc.aio.ServicerContext
    ) -> pipeline_pb2.PipelineStatus:
        breaker = self.worker.analyzer.breaker
        return pipeline_pb2.PipelineStatus(
            replica_id=self.replica_id,
            in_flight=self.worker.in_flight,
            capacity=self.worker.capacity,
            queue_depth=await self.store.queue_depth(),
            processed_total=self.worker.processed_total,
            failed_total=self.worker.failed_total,
            pool=types_pb2.PoolStats(stats=pool_stats(self.store.pool)),
            llm_breaker_state=breaker.state if breaker is not None else "none",
            analyzer=self.worker.analyzer.name,
            draining=self.worker.draining,
        )

    async def Reprocess(
        self, request: pipeline_pb2.ReprocessRequest, context: grpc.aio.ServicerContext
    ) -> pipeline_pb2.ReprocessResponse:
        row = await self.store.reprocess(parse_id(request.complaint_id))
        self.worker.wake.set()
        return pipeline_pb2.ReprocessResponse(status=status_message(row))
