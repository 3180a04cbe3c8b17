"""IntakeService over gRPC: translates messages to submissions and back."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import grpc

from complaints.cancellation import wait_event
from complaints.constants import FINAL_STATES
from complaints.errors import NotFound, ServiceError, UndecodableRequest, to_status
from complaints.messages import parse_id, status_message, timestamp
from complaints.v1 import intake_pb2, intake_pb2_grpc, types_pb2
from intake_service.declared_rules import DeclaredRules
from intake_service.dispatcher import Dispatcher
from intake_service.group_commit import GroupCommit
from intake_service.read_ahead import ReadAhead
from intake_service.settings import Limits, StreamFlow
from intake_service.status_feed import StatusFeed
from intake_service.store import IntakeStore, Stored
from intake_service.submission import Document, Submission, validate

# intake.proto's buf.validate rules; compiled at import, so a rule intake
# cannot check stops the service at start.
RULES = DeclaredRules(intake_pb2.SubmitComplaintRequest.DESCRIPTOR)


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


# What a SubmitComplaints stream yields: a frame that did not decode is
# answered with its own error (complaints/errors.py).
Request = intake_pb2.SubmitComplaintRequest | UndecodableRequest


def _wire_size(request: Request) -> int:
    return request.size if isinstance(request, UndecodableRequest) else request.ByteSize()


def response(stored: Stored, index: int = 0) -> intake_pb2.SubmitComplaintResponse:
    return intake_pb2.SubmitComplaintResponse(
        complaint_id=str(stored.complaint_id),
        status=types_pb2.ComplaintState.Value(stored.status),
        received_at=timestamp(stored.received_at),
        duplicate=stored.duplicate,
        index=index,
    )


class IntakeServicer(intake_pb2_grpc.IntakeServiceServicer):
    def __init__(
        self, store: IntakeStore, dispatcher: Dispatcher, feed: StatusFeed, limits: Limits, flow: StreamFlow
    ) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.feed = feed
        self.limits = limits
        self.flow = flow
        self._unary = GroupCommit(self._store, _wire_size, max_items=flow.batch_items, max_bytes=flow.read_ahead_bytes)

    async def _store(self, requests: list[Request]) -> list[Stored | ServiceError]:
        """Validates each request and stores the valid ones in one transaction;
        one outcome per request, in order."""
        outcomes: list[Stored | ServiceError | None] = [None] * len(requests)
        valid: list[tuple[int, Submission]] = []
        for i, request in enumerate(requests):
            if isinstance(request, UndecodableRequest):
                outcomes[i] = request.refusal()
                continue
            sub = to_submission(request)
            try:
                validate(sub, self.limits, RULES.violations(request))
            except ServiceError as exc:
                outcomes[i] = exc
            else:
                valid.append((i, sub))
        if valid:
            stored = await self.store.store([sub for _, sub in valid])
            for (i, _), outcome in zip(valid, stored):
                outcomes[i] = outcome
        return [o for o in outcomes if o is not None]

    def _dispatch(self, outcomes: list[Stored | ServiceError]) -> None:
        """After the commit: the row is the truth, the stream a hint. Called in
        the caller's context, so each complaint carries its own request ID."""
        self.dispatcher.offer([o.complaint_id for o in outcomes if isinstance(o, Stored) and not o.duplicate])

    async def SubmitComplaint(
        self, request: intake_pb2.SubmitComplaintRequest, context: grpc.aio.ServicerContext
    ) -> intake_pb2.SubmitComplaintResponse:
        # Shares a transaction with the calls that arrive while another commits.
        outcome = await self._unary(request)
        self._dispatch([outcome])
        if isinstance(outcome, ServiceError):
            raise outcome
        return response(outcome)

    async def SubmitComplaints(
        self, request_iterator: AsyncIterator[Request], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[intake_pb2.SubmitComplaintResponse]:
        ahead = ReadAhead(
            request_iterator, _wire_size, max_items=self.flow.batch_items, max_bytes=self.flow.read_ahead_bytes
        )
        index = 0
        async for batch in ahead.batches():
            outcomes = await self._store(batch)
            self._dispatch(outcomes)
            for outcome in outcomes:
                if isinstance(outcome, ServiceError):
                    yield intake_pb2.SubmitComplaintResponse(index=index, error=to_status(outcome))
                else:
                    yield response(outcome, index)
                index += 1

    async def GetComplaintStatus(
        self, request: intake_pb2.GetComplaintStatusRequest, context: grpc.aio.ServicerContext
    ) -> types_pb2.ComplaintStatus:
        row = await self.store.status(parse_id(request.complaint_id))
        if row is None:
            raise NotFound(f"no complaint with ID {request.complaint_id}")
        return status_message(row)

    async def WatchComplaint(
        self, request: intake_pb2.WatchComplaintRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[types_pb2.ComplaintStatus]:
        cid = parse_id(request.complaint_id)
        last = None
        # A client cancel cancels this handler at an await; leaving the
        # block unregisters the watcher. No connection is held in between.
        with self.feed.watch(str(cid)) as changed:
            while True:
                changed.clear()  # before the read: a change during it wakes us again
                row = await self.store.status(cid)
                if row is None:
                    raise NotFound(f"no complaint with ID {request.complaint_id}")
                message = status_message(row)
                if message != last:
                    yield message
                    last = message
                if row["status"] in FINAL_STATES:
                    return
                await wait_event(changed, self.feed.recheck)
