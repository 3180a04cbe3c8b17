"""The request ID and complaint ID of the work in hand, added to every log line.

A request ID comes from the caller's `x-request-id` metadata, or is made
here; it is bound for the whole RPC (each RPC runs in its own asyncio task, so
contextvars keep concurrent RPCs apart) and sent on to the next service: intake
puts it in each DispatchRequest, so the pipeline's lines about a complaint
carry the ID of the submission that brought it. Only IDs are bound here, never
anything a complainant wrote.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any

HEADER = "x-request-id"

_request_id: ContextVar[str | _FromMetadata | None] = ContextVar("request_id", default=None)
_complaint_id: ContextVar[str | None] = ContextVar("complaint_id", default=None)

# A caller's ID is echoed into logs: keep it short and plain.
_ACCEPTABLE = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")


# A random prefix per process and a counter: unique like a UUID across
# processes, without a system call for every RPC that brings no ID.
_PREFIX = uuid.uuid4().hex[:16]
_counter = itertools.count(1)


def new_id() -> str:
    return f"{_PREFIX}{next(_counter):016x}"


def accept(value: object) -> str | None:
    """`value` if it is a usable request ID, else None."""
    text = str(value) if value is not None else ""
    return text if _ACCEPTABLE.fullmatch(text) else None


def from_metadata(metadata: Iterable[tuple[str, Any]] | None) -> str:
    """The caller's x-request-id, or a new one."""
    for key, value in metadata or ():
        if key == HEADER and (found := accept(value)):
            return found
    return new_id()


class _FromMetadata:
    """An RPC's request ID, read from its metadata (or made) only when a log
    line or a call to another service first wants it: most RPCs of the
    dashboard never do. Read once, so every task that inherited it sees the
    same ID."""

    __slots__ = ("metadata", "value")

    def __init__(self, metadata: Iterable[tuple[str, Any]] | None) -> None:
        self.metadata = metadata
        self.value: str | None = None

    def get(self) -> str:
        if self.value is None:
            self.value = from_metadata(self.metadata)
            self.metadata = None
        return self.value


def request_id() -> str | None:
    bound = _request_id.get()
    return bound.get() if isinstance(bound, _FromMetadata) else bound


def fields() -> dict[str, str]:
    """What is bound now, for a log line."""
    bound = {"request_id": request_id(), "complaint_id": _complaint_id.get()}
    return {k: v for k, v in bound.items() if v}


def bind(*, request_id: str | None = None, complaint_id: str | None = None) -> None:
    """Binds for the rest of the current task (an RPC's handler)."""
    if request_id:
        _request_id.set(request_id)
    if complaint_id:
        _complaint_id.set(complaint_id)


def bind_metadata(metadata: Iterable[tuple[str, Any]] | None) -> None:
    """Binds the request ID of an RPC with this metadata (see _FromMetadata)."""
    _request_id.set(_FromMetadata(metadata))


# Message type -> whether it has a request_id field, a complaint_id field.
# Every RPC's request and answer pass through bind_from: looked up once per type.
_ID_FIELDS: dict[type, tuple[bool, bool]] = {}


def bind_from(message: Any) -> None:
    """Binds the `complaint_id` and `request_id` fields of a protobuf message, when it has them."""
    kind = type(message)
    has = _ID_FIELDS.get(kind)
    if has is None:
        descriptor = getattr(message, "DESCRIPTOR", None)
        names = descriptor.fields_by_name if descriptor is not None else {}
        has = _ID_FIELDS[kind] = ("request_id" in names, "complaint_id" in names)
    has_request_id, has_complaint_id = has
    if has_request_id or has_complaint_id:
        bind(
            request_id=accept(message.request_id) if has_request_id else None,
            complaint_id=str(message.complaint_id) if has_complaint_id else None,
        )


def outgoing() -> tuple[tuple[str, str], ...]:
    """Metadata that carries the current request ID to another service."""
    return ((HEADER, request_id() or new_id()),)
