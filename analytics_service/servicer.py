"""AnalyticsService over gRPC: requests checked and turned into store calls,
rows turned into messages. The dashboard comes from the shared snapshot."""
from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Collection
from typing import Any

import grpc
from google.protobuf import timestamp_pb2

from analytics_service import pages
from analytics_service.snapshot import DashboardSnapshot
from analytics_service.store import AnalyticsStore, ComplaintFilter, ComplaintKey
from complaints import embedding
from complaints.errors import FailedPrecondition, InvalidArgument, NotFound
from complaints.messages import parse_id, timestamp
from complaints.taxonomy import CATEGORIES, SECTORS
from complaints.v1 import analytics_pb2, analytics_pb2_grpc, types_pb2

SEARCH_LIMIT = 10
MAX_SEARCH_LIMIT = 100
MAX_SEARCH_TEXT = 10_000


def _when(value: dt.datetime | str) -> timestamp_pb2.Timestamp | None:
    # Rows aggregated as JSON carry timestamps as ISO text.
    return timestamp(dt.datetime.fromisoformat(value) if isinstance(value, str) else value)


def complaint_summary(row: dict[str, Any]) -> analytics_pb2.ComplaintSummary:
    return analytics_pb2.ComplaintSummary(
        complaint_id=str(row["id"]),
        status=types_pb2.ComplaintState.Value(row["status"]),
        subject=row["subject"] or "",
        category=row["category"] or "",
        sector=row["sector"] or "",
        case_id=str(row["case_id"]) if row["case_id"] is not None else "",
        received_at=_when(row["received_at"]),
        needs_review=bool(row["needs_review"]),
    )


def case_summary(row: dict[str, Any]) -> analytics_pb2.CaseSummary:
    return analytics_pb2.CaseSummary(
        case_id=str(row["id"]), title=row["title"], category=row["category"], sector=row["sector"],
        complaint_count=row["complaint_count"], updated_at=_when(row["updated_at"]),
    )


class _Checks:
    """Collects every field at fault, so one INVALID_ARGUMENT names them all."""

    def __init__(self) -> None:
        self.violations: list[tuple[str, str]] = []

    def bad(self, field: str, what: str) -> None:
        self.violations.append((field, what))

    def done(self) -> None:
        if self.violations:
            raise InvalidArgument(self.violations)

    def choice(self, field: str, value: str, allowed: Collection[str]) -> str | None:
        if value == "":
            return None
        if value not in allowed:
            self.bad(field, f"must be one of {', '.join(sorted(allowed))}")
        return value

    def case_id(self, field: str, value: str, required: bool = False) -> int | None:
        if value == "" and not required:
            return None
        if not (value.isascii() and value.isdigit() and len(value) <= 18 and int(value) > 0):
            self.bad(field, "must be a case ID as returned by ListCases (a positive whole number)")
            return None
        return int(value)

    def size(self, field: str, value: int, default: int, maximum: int) -> int:
        """0 takes the default; above the maximum is cut to it."""
        if value < 0:
            self.bad(field, "must not be negative")
        return default if value <= 0 else min(value, maximum)

    def instant(self, field: str, message: Any, name: str) -> dt.datetime | None:
        if not message.HasField(name):
            return None
        try:
            return getattr(message, name).ToDatetime(tzinfo=dt.timezone.utc)
        except (ValueError, OverflowError):
            self.bad(field, "is not a valid timestamp")
            return None


def _complaint_key(key: list[Any]) -> ComplaintKey:
    if len(key) != 2 or not all(type(part) is str for part in key):
        raise pages.BadKey("not a complaint key")
    at, ident = key
    when = dt.datetime.fromisoformat(at)
    if when.tzinfo is None:
        raise pages.BadKey("no time zone")
    return ComplaintKey(when, uuid.UUID(ident))


# Case IDs are bigserial: anything outside bigint is not one of ours.
_MAX_CASE_ID = 2**63 - 1


def _case_key(key: list[Any]) -> int:
    if len(key) != 1 or type(key[0]) is not int or not 0 < key[0] <= _MAX_CASE_ID:
        raise pages.BadKey("not a case ID")
    return key[0]


class AnalyticsServicer(analytics_pb2_grpc.AnalyticsServiceServicer):
    def __init__(self, snapshot: DashboardSnapshot, store: AnalyticsStore, *, watch_interval_ms: int,
                 page_size: int, max_page_size: int, case_complaints: int) -> None:
        self.snapshot = snapshot
        self.store = store
        self.watch_interval = watch_interval_ms / 1000
        self.page_size = page_size
        self.max_page_size = max_page_size
        self.case_complaints = case_complaints

    # The dashboard RPCs answer with the snapshot's bytes, already a
    # serialised Dashboard (registered without a serializer: app.py).
    async def GetDashboard(self, request: analytics_pb2.GetDashboardRequest, context: grpc.aio.ServicerContext) -> bytes:
        return await self.snapshot.get(timeout=context.time_remaining())

    async def WatchDashboard(self, request: analytics_pb2.WatchDashboardRequest, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        dashboard = await self.snapshot.get(timeout=context.time_remaining())
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
            yield self.snapshot.encoded

    async def ListComplaints(self, request: analytics_pb2.ListComplaintsRequest, context: grpc.aio.ServicerContext) -> analytics_pb2.ListComplaintsResponse:
        checks = _Checks()
        status = None
        if request.status != types_pb2.COMPLAINT_STATE_UNSPECIFIED:
            if request.status in types_pb2.ComplaintState.values():
                status = types_pb2.ComplaintState.Name(request.status)
            else:
                checks.bad("status", "is not a known ComplaintState")
        f = ComplaintFilter(
            status=status,
            category=checks.choice("category", request.category, CATEGORIES),
            sector=checks.choice("sector", request.sector, SECTORS),
            case_id=checks.case_id("case_id", request.case_id),
            received_from=checks.instant("received_from", request, "received_from"),
            received_to=checks.instant("received_to", request, "received_to"),
            needs_review=True if request.needs_review else None,
        )
        if f.received_from and f.received_to and f.received_from > f.received_to:
            checks.bad("received_to", "must not be before received_from")
        size = checks.size("page_size", request.page_size, self.page_size, self.max_page_size)
        checks.done()
        after = pages.decode(request.page_token, f, _complaint_key) if request.page_token else None
        rows = await self.store.list_complaints(f, after, size + 1)
        reply = analytics_pb2.ListComplaintsResponse(complaints=[complaint_summary(r) for r in rows[:size]])
        if len(rows) > size:
            last = rows[size - 1]
            reply.next_page_token = pages.encode([last["received_at"].isoformat(), str(last["id"])], f)
        return reply

    async def GetComplaint(self, request: analytics_pb2.GetComplaintRequest, context: grpc.aio.ServicerContext) -> analytics_pb2.ComplaintDetail:
        complaint_id = parse_id(request.complaint_id)
        row = await self.store.complaint(complaint_id)
        if row is None:
            raise NotFound(f"no complaint with ID {complaint_id}")
        return analytics_pb2.ComplaintDetail(
            complaint=complaint_summary(row),
            description=row["description"] or "",
            location=row["location"],
            incident_date=row["incident_date"].isoformat() if row["incident_date"] else "",
            channel=row["channel"],
            source_system=row["source_system"],
            summary=row["summary"] or "",
            acts=row["acts"] or [],
            entities=[analytics_pb2.Entity(type=e["type"], value=e["value"]) for e in row["entities"] or []],
            documents=[analytics_pb2.DocumentInfo(**d) for d in row["documents"]],
            attempts=row["attempts"],
            last_error=row["last_error"],
            analyzer=row["analyzer"] or "",
            category_confidence=row["category_confidence"] or 0.0,
            sector_confidence=row["sector_confidence"] or 0.0,
            case=case_summary(row["case"]) if row["case"] else None,
        )

    async def ListCases(self, request: analytics_pb2.ListCasesRequest, context: grpc.aio.ServicerContext) -> analytics_pb2.ListCasesResponse:
        checks = _Checks()
        category = checks.choice("category", request.category, CATEGORIES)
        sector = checks.choice("sector", request.sector, SECTORS)
        size = checks.size("page_size", request.page_size, self.page_size, self.max_page_size)
        checks.done()
        filters = (category, sector)
        after = pages.decode(request.page_token, filters, _case_key) if request.page_token else None
        rows = await self.store.list_cases(category, sector, after, size + 1)
        reply = analytics_pb2.ListCasesResponse(cases=[case_summary(r) for r in rows[:size]])
        if len(rows) > size:
            reply.next_page_token = pages.encode([rows[size - 1]["id"]], filters)
        return reply

    async def GetCase(self, request: analytics_pb2.GetCaseRequest, context: grpc.aio.ServicerContext) -> analytics_pb2.CaseDetail:
        checks = _Checks()
        case_id = checks.case_id("case_id", request.case_id, required=True)
        checks.done()
        row = await self.store.case(case_id, self.case_complaints)
        if row is None:
            raise NotFound(f"no case with ID {case_id}")
        return analytics_pb2.CaseDetail(
            case=case_summary(row),
            complaints=[complaint_summary(c) for c in row["complaints"]],
            shared_entities=[analytics_pb2.EntityCount(type=e["type"], value=e["value"], count=e["count"])
                             for e in row["shared_entities"]],
        )

    async def SearchSimilar(self, request: analytics_pb2.SearchSimilarRequest, context: grpc.aio.ServicerContext) -> analytics_pb2.SearchSimilarResponse:
        checks = _Checks()
        category = checks.choice("category", request.category, CATEGORIES)
        sector = checks.choice("sector", request.sector, SECTORS)
        limit = checks.size("limit", request.limit, SEARCH_LIMIT, MAX_SEARCH_LIMIT)
        query = request.WhichOneof("query")
        exclude = None
        if query is None:
            checks.bad("query", "set text or complaint_id")
        elif query == "text" and not request.text.strip():
            checks.bad("text", "must not be blank")
        elif query == "text" and len(request.text) > MAX_SEARCH_TEXT:
            checks.bad("text", f"must be at most {MAX_SEARCH_TEXT} characters")
        elif query == "complaint_id":
            exclude = parse_id(request.complaint_id)
        checks.done()
        if exclude is None:
            # The model is CPU work (tens of ms): off the event loop.
            vector = await asyncio.to_thread(embedding.query, request.text)
        else:
            exists, vector = await self.store.embedding(exclude)
            if not exists:
                raise NotFound(f"no complaint with ID {exclude}")
            if vector is None:
                raise FailedPrecondition(f"complaint {exclude} is not analysed yet; search by text instead")
        rows = await self.store.similar(vector, limit, category=category, sector=sector, exclude=exclude)
        return analytics_pb2.SearchSimilarResponse(results=[
            analytics_pb2.SimilarComplaint(complaint=complaint_summary(r), similarity=float(r["similarity"]))
            for r in rows
        ])
