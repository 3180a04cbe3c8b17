"""What the analytics RPCs accept: each request checked as a whole, so that one
INVALID_ARGUMENT names every field at fault, and turned into the store's
terms. A page token is read only once the rest of its request is valid."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from analytics_service import pages
from analytics_service.store import ComplaintFilter, ComplaintKey
from complaints.errors import InvalidArgument
from complaints.messages import parse_id
from complaints.taxonomy import CATEGORIES, SECTORS
from complaints.v1 import analytics_pb2, types_pb2

SEARCH_LIMIT = 10
MAX_SEARCH_LIMIT = 100
MAX_SEARCH_TEXT = 10_000


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
            return getattr(message, name).ToDatetime(tzinfo=dt.UTC)
        except (ValueError, OverflowError):
            self.bad(field, "is not a valid timestamp")
            return None


@dataclass(frozen=True)
class PageSizes:
    default: int
    maximum: int


@dataclass(frozen=True)
class ComplaintListing:
    filters: ComplaintFilter
    after: ComplaintKey | None
    size: int


def complaint_listing(request: analytics_pb2.ListComplaintsRequest, sizes: PageSizes) -> ComplaintListing:
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
    size = checks.size("page_size", request.page_size, sizes.default, sizes.maximum)
    checks.done()
    after = pages.complaints_after(request.page_token, f) if request.page_token else None
    return ComplaintListing(f, after, size)


@dataclass(frozen=True)
class CaseListing:
    category: str | None
    sector: str | None
    after: int | None
    size: int

    @property
    def filters(self) -> tuple[str | None, str | None]:
        return (self.category, self.sector)


def case_listing(request: analytics_pb2.ListCasesRequest, sizes: PageSizes) -> CaseListing:
    checks = _Checks()
    category = checks.choice("category", request.category, CATEGORIES)
    sector = checks.choice("sector", request.sector, SECTORS)
    size = checks.size("page_size", request.page_size, sizes.default, sizes.maximum)
    checks.done()
    after = pages.cases_after(request.page_token, (category, sector)) if request.page_token else None
    return CaseListing(category, sector, after, size)


def case_id(request: analytics_pb2.GetCaseRequest) -> int:
    checks = _Checks()
    found = checks.case_id("case_id", request.case_id, required=True)
    checks.done()
    assert found is not None  # a required ID is either found or at fault
    return found


@dataclass(frozen=True)
class SimilarQuery:
    """By `text`, or by the stored embedding of `complaint_id` (left out of the answer)."""

    text: str
    complaint_id: uuid.UUID | None
    category: str | None
    sector: str | None
    limit: int


def similar_query(request: analytics_pb2.SearchSimilarRequest) -> SimilarQuery:
    checks = _Checks()
    category = checks.choice("category", request.category, CATEGORIES)
    sector = checks.choice("sector", request.sector, SECTORS)
    limit = checks.size("limit", request.limit, SEARCH_LIMIT, MAX_SEARCH_LIMIT)
    query = request.WhichOneof("query")
    complaint_id = None
    if query is None:
        checks.bad("query", "set text or complaint_id")
    elif query == "text" and not request.text.strip():
        checks.bad("text", "must not be blank")
    elif query == "text" and len(request.text) > MAX_SEARCH_TEXT:
        checks.bad("text", f"must be at most {MAX_SEARCH_TEXT} characters")
    elif query == "complaint_id":
        complaint_id = parse_id(request.complaint_id)
    checks.done()
    return SimilarQuery(request.text, complaint_id, category, sector, limit)
