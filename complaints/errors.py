"""Domain errors and the one table that maps them to gRPC status codes.

Domain code raises these; every RPC's handler wrapper (complaints/service_server.py)
answers them with `status_for`: a status with a google.rpc.Status (field
violations for bad input). Anything else becomes INTERNAL with a generic
message, logged with its traceback.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from typing import Any

import grpc
import psycopg
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from psycopg_pool import PoolClosed, PoolTimeout

log = logging.getLogger(__name__)

# The retry hint sent with UNAVAILABLE when the database is unreachable.
DATABASE_RETRY_SECONDS = 1.0


class ServiceError(Exception):
    code = grpc.StatusCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def details(self) -> list[Any]:
        return []


class InvalidArgument(ServiceError):
    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, violations: Iterable[tuple[str, str]], message: str | None = None) -> None:
        self.violations = list(violations)
        text = "; ".join(f"{field}: {what}" for field, what in self.violations)
        super().__init__(message or f"invalid request: {text}")

    def details(self) -> list[Any]:
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=f, description=d) for f, d in self.violations
            ]
        )
        return [bad]


class TooLarge(InvalidArgument):
    """A size limit was exceeded: RESOURCE_EXHAUSTED with the fields at fault."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class ResourceExhausted(ServiceError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unimplemented(ServiceError):
    code = grpc.StatusCode.UNIMPLEMENTED


class NotFound(ServiceError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(ServiceError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(ServiceError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Unavailable(ServiceError):
    code = grpc.StatusCode.UNAVAILABLE

    def __init__(self, message: str, retry_seconds: float = 0) -> None:
        super().__init__(message)
        self.retry_seconds = retry_seconds

    def details(self) -> list[Any]:
        if not self.retry_seconds:
            return []
        # google.rpc.RetryInfo: how long a client should wait before retrying.
        info = error_details_pb2.RetryInfo()
        info.retry_delay.FromTimedelta(dt.timedelta(seconds=self.retry_seconds))
        return [info]


class DeadlineExceeded(ServiceError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class Unauthenticated(ServiceError):
    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(ServiceError):
    code = grpc.StatusCode.PERMISSION_DENIED


def to_status(exc: ServiceError) -> status_pb2.Status:
    details = []
    for detail in exc.details():
        packed = any_pb2.Any()
        packed.Pack(detail)
        details.append(packed)
    return status_pb2.Status(code=exc.code.value[0], message=exc.message, details=details)


def internal_status() -> status_pb2.Status:
    return status_pb2.Status(code=code_pb2.INTERNAL, message="internal error; the server log has the details")


def _status_for(exc: BaseException, method: str) -> status_pb2.Status:
    if isinstance(exc, ServiceError):
        return to_status(exc)
    if isinstance(exc, NotImplementedError):
        # What the generated base servicer raises for an RPC not built yet.
        return to_status(Unimplemented(f"{method} is not implemented yet"))
    if isinstance(exc, PoolTimeout):
        # Every connection busy for the pool's timeout (an unreachable database
        # is DatabaseUnreachable, complaints/db.py): the client should back off.
        log.warning("pool exhausted", extra={"fields": {"method": method}})
        return to_status(ResourceExhausted("the service is at capacity; retry with backoff"))
    if isinstance(exc, psycopg.errors.QueryCanceled):
        # statement_timeout (or an operator) cancelled the query: it ran too long, nothing was committed.
        log.warning("query cancelled", extra={"fields": {"method": method, "error": str(exc)[:200]}})
        return to_status(
            DeadlineExceeded(
                "the query ran longer than the service allows; nothing was stored, narrow the request or retry later"
            )
        )
    if isinstance(exc, (psycopg.OperationalError, PoolClosed)):
        # Database restarting or unreachable: nothing was committed, a retry is safe.
        log.warning("database unavailable", extra={"fields": {"method": method, "error": str(exc)[:200]}})
        return to_status(
            Unavailable(
                "the database is unavailable; nothing was stored, retry with backoff",
                retry_seconds=DATABASE_RETRY_SECONDS,
            )
        )
    log.exception("unhandled error", extra={"fields": {"method": method}}, exc_info=exc)
    return internal_status()


def is_grpc_abort(exc: BaseException) -> bool:
    # context.abort() raises this; it has already set the status.
    return isinstance(exc, grpc.aio.AbortError)


def status_for(exc: BaseException, method: str) -> grpc.Status:
    """The status `exc`, raised by `method`'s handler, is answered with."""
    return rpc_status.to_status(_status_for(exc, method))


class UndecodableRequest:
    """Stands for a request frame that is not a valid message (bad UTF-8 in a
    string field, truncated bytes): refused as INVALID_ARGUMENT, not INTERNAL.
    A bulk stream that answers item by item gets these in its request stream
    and answers each with its own error; other RPCs are refused whole."""

    def __init__(self, error: Exception, size: int) -> None:
        self.error = error
        self.size = size  # bytes on the wire, for read-ahead accounting

    def refusal(self) -> InvalidArgument:
        return InvalidArgument([("request", f"is not a valid message of this RPC ({self.error})")])


def tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """`deserializer`, answering a frame it cannot decode with an UndecodableRequest."""
    if deserializer is None:
        return None

    def decode(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception as exc:
            return UndecodableRequest(exc, len(data))

    return decode


def _decoded(request: Any) -> Any:
    if isinstance(request, UndecodableRequest):
        raise request.refusal()
    return request


async def _checked(requests: Any) -> Any:
    async for request in requests:
        if isinstance(request, UndecodableRequest):
            raise request.refusal()
        yield request


def _as_sent(requests: Any) -> Any:
    return requests


def decoded_requests(streaming_requests: bool, item_errors: bool) -> Callable[[Any], Any]:
    """What a handler is given for its request (or request stream): an
    undecodable one raises its refusal, except in a stream that answers such
    items one by one (`item_errors`)."""
    if not streaming_requests:
        return _decoded
    return _as_sent if item_errors else _checked
