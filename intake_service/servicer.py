"""IntakeService over gRPC: translates messages to submissions and back."""
from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import grpc

from complaints.errors import NotFound, ServiceError, to_status
from complaints.messages import parse_id, status_message, timestamp
from complaints.v1 import intake_pb2, intake_pb2_grpc, types_pb2
from intake_service.dispatcher import Dispatcher
from intake_service.settings import Limits
from intake_service.store import IntakeStore, Stored
from intake_service.submission import Document, Submission, validate

WATCH_POLL_SECONDS = 0.5


def to_submission(req: intake_pb2.SubmitComplaintRequest) -> Submission:
    c = req.complainant
    return Submission(
        idempotency_key=req.idempotency_key,
        source_system=req.source_system,
        channel=req.channel,
        subject=req.subject,
        description=req.description,
        incident_date=req.incident_date,
        location=req.location,
        name=c.name,
        id_number=c.id_number,
        phone=c.phone,
        email=c.email,
        anonymous=c.anonymous,
        documents=[Document(d.filename, d.content_type, d.content) for d in req.documents],
        fingerprint=hashlib.sha256(req.SerializeToString(deterministic=True)).digest(),
    )


def response(stored: Stored, index: int = 0) -> intake_pb2.SubmitComplaintResponse:
    return intake_pb2.SubmitComplaintResponse(
        complaint_id=str(stored.complaint_id),
        status=types_pb2.ComplaintState.Value(stored.status),
        received_at=timestamp(stored.received_at),
        duplicate=stored.duplicate,
        index=index,
    )


class IntakeServicer(intake_pb2_grpc.IntakeServiceServicer):
    def __init__(self, store: IntakeStore, dispatcher: Dispatcher, limits: Limits) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.limits = limits

    async def SubmitComplaint(self, request: intake_pb2.SubmitComplaintRequest, context: grpc.aio.ServicerContext) -> intake_pb2.SubmitComplaintResponse:
        sub = to_submission(request)
        validate(sub, self.limits)
        [outcome] = await self.store.store([sub])
        if isinstance(outcome, ServiceError):
            raise outcome
        # Dispatch only after the commit: the row is the truth, the stream a hint.
        if not outcome.duplicate:
            self.dispatcher.offer([outcome.complaint_id])
        return response(outcome)

    async def SubmitComplaints(self, request_iterator: AsyncIterator[intake_pb2.SubmitComplaintRequest], context: grpc.aio.ServicerContext) -> AsyncIterator[intake_pb2.SubmitComplaintResponse]:
        index = 0
        async for request in request_iterator:
            sub = to_submission(request)
            try:
                validate(sub, self.limits)
                [outcome] = await self.store.store([sub])
            except ServiceError as exc:
                outcome = exc
            if isinstance(outcome, ServiceError):
                yield intake_pb2.SubmitComplaintResponse(index=index, error=to_status(outcome))
            else:
                if not outcome.duplicate:
                    self.dispatcher.offer([outcome.complaint_id])
                yield response(outcome, index)
            index += 1

    async def GetComplaintStatus(self, request: intake_pb2.GetComplaintStatusRequest, context: grpc.aio.ServicerContext) -> types_pb2.ComplaintStatus:
        row = await self.store.status(parse_id(request.complaint_id))
        if row is None:
            raise NotFound(f"no complaint with ID {request.complaint_id}")
        return status_message(row)

    async def WatchComplaint(self, request: intake_pb2.WatchComplaintRequest, context: grpc.aio.ServicerContext) -> AsyncIterator[types_pb2.ComplaintStatus]:
        cid = parse_id(request.complaint_id)
        last = None
        while True:
            row = await self.store.status(cid)
            if row is None:
                raise NotFound(f"no complaint with ID {request.complaint_id}")
            message = status_message(row)
            if message != last:
                yield message
                last = message
            if row["status"] in ("PROCESSED", "FAILED"):
                return
            await asyncio.sleep(WATCH_POLL_SECONDS)
