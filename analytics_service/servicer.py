"""AnalyticsService over gRPC: requests through requests.py to the store (or
search.py), rows turned into messages. The dashboard comes from the shared
snapshot."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf import timestamp_pb2

from analytics_service import pages, requests, search
from analytics_service.snapshot import DashboardSnapshot
from analytics_service.store import AnalyticsStore
from complaints.errors import NotFound
from complaints.messages import parse_id, timestamp
from complaints.v1 import analytics_pb2, analytics_pb2_grpc, types_pb2


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
        case_id=str(row["id"]),
        title=row["title"],
        category=row["category"],
        sector=row["sector"],
        complaint_count=row["complaint_count"],
        updated_at=_when(row["updated_at"]),
    )


class AnalyticsServicer(analytics_pb2_grpc.AnalyticsServiceServicer):
    def __init__(
        self,
        snapshot: DashboardSnapshot,
        store: AnalyticsStore,
        *,
        watch_interval_ms: int,
        page_size: int,
        max_page_size: int,
        case_complaints: int,
    ) -> None:
        self.snapshot = snapshot
        self.store = store
        self.watch_interval = watch_interval_ms / 1000
        self.sizes = requests.PageSizes(page_size, max_page_size)
        self.case_complaints = case_complaints

    # The dashboard RPCs answer with the snapshot's bytes, already a
    # serialised Dashboard (registered without a serializer: app.py).
    async def GetDashboard(  # type: ignore[override]  # bytes: see above
        self, request: analytics_pb2.GetDashboardRequest, context: grpc.aio.ServicerContext
    ) -> bytes:
        return await self.snapshot.get(timeout=context.time_remaining())

    async def WatchDashboard(  # type: ignore[override]  # bytes: see above
        self, request: analytics_pb2.WatchDashboardRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
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
            encoded = self.snapshot.encoded
            assert encoded is not None  # set by the first get() above, never unset
            yield encoded

    async def ListComplaints(
        self, request: analytics_pb2.ListComplaintsRequest, context: grpc.aio.ServicerContext
    ) -> analytics_pb2.ListComplaintsResponse:
        listing = requests.complaint_listing(request, self.sizes)
        rows = await self.store.list_complaints(listing.filters, listing.after, listing.size + 1)
        reply = analytics_pb2.ListComplaintsResponse(complaints=[complaint_summary(r) for r in rows[: listing.size]])
        if len(rows) > listing.size:
            reply.next_page_token = pages.complaints_token(rows[listing.size - 1], listing.filters)
        return reply

    async def GetComplaint(
        self, request: analytics_pb2.GetComplaintRequest, context: grpc.aio.ServicerContext
    ) -> analytics_pb2.ComplaintDetail:
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

    async def ListCases(
        self, request: analytics_pb2.ListCasesRequest, context: grpc.aio.ServicerContext
    ) -> analytics_pb2.ListCasesResponse:
        listing = requests.case_listing(request, self.sizes)
        rows = await self.store.list_cases(listing.category, listing.sector, listing.after, listing.size + 1)
        reply = analytics_pb2.ListCasesResponse(cases=[case_summary(r) for r in rows[: listing.size]])
        if len(rows) > listing.size:
            reply.next_page_token = pages.cases_token(rows[listing.size - 1]["id"], listing.filters)
        return reply

    async def GetCase(
        self, request: analytics_pb2.GetCaseRequest, context: grpc.aio.ServicerContext
    ) -> analytics_pb2.CaseDetail:
        case_id = requests.case_id(request)
        row = await self.store.case(case_id, self.case_complaints)
        if row is None:
            raise NotFound(f"no case with ID {case_id}")
        return analytics_pb2.CaseDetail(
            case=case_summary(row),
            complaints=[complaint_summary(c) for c in row["complaints"]],
            shared_entities=[
                analytics_pb2.EntityCount(type=e["type"], value=e["value"], count=e["count"])
                for e in row["shared_entities"]
            ],
        )

    async def SearchSimilar(
        self, request: analytics_pb2.SearchSimilarRequest, context: grpc.aio.ServicerContext
    ) -> analytics_pb2.SearchSimilarResponse:
        rows = await search.similar(self.store, requests.similar_query(request))
        return analytics_pb2.SearchSimilarResponse(
            results=[
                analytics_pb2.SimilarComplaint(complaint=complaint_summary(r), similarity=float(r["similarity"]))
                for r in rows
            ]
        )
