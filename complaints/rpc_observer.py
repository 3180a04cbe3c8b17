"""What every RPC's handler wrapper (complaints/service_server.py) does first
and last, refused RPCs included: it binds the request ID (and the
complaint ID a request or answer names) for the RPC's log lines, counts and
times each RPC by method and status code, and logs one line when an RPC ends
(health checks and reflection only counted, not logged).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc

from complaints import metrics, request_context

log = logging.getLogger("complaints.rpc")

# Probes poll these every few seconds: counted, not logged.
_QUIET = ("/grpc.health.v1.Health/", "/grpc.reflection.")
# Answered from memory thousands of times a second (analytics' snapshot): a
# line each would cost a fifth of the dashboard's throughput and flood the
# logs. Counted and timed like every RPC; logged only when not OK.
_LOGGED_IF_FAILED = ("/complaints.v1.AnalyticsService/GetDashboard",)


def _kind(handler: grpc.RpcMethodHandler) -> str:
    if handler.request_streaming:
        return "bidi_stream" if handler.response_streaming else "client_stream"
    return "server_stream" if handler.response_streaming else "unary"


def _code(context: grpc.aio.ServicerContext, failed: BaseException | None) -> str:
    if isinstance(failed, (asyncio.CancelledError, GeneratorExit)):  # the caller went away
        return grpc.StatusCode.CANCELLED.name
    code = context.code()
    if code is not None:
        # Set by abort() or set_code(); grpc.aio reports either the enum or its number.
        return code.name if isinstance(code, grpc.StatusCode) else grpc.StatusCode(code).name
    return grpc.StatusCode.UNKNOWN.name if failed is not None else grpc.StatusCode.OK.name


async def _each_bound(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
    # A generator runs in its consumer's context: what a message names stays
    # bound while the handler works on it (a Dispatch carries each complaint's
    # ID and the request ID of its submission).
    async for request in requests:
        request_context.bind_from(request)
        yield request


Started = Callable[[Any, Any], tuple[float, Any]]
Finished = Callable[[float, grpc.aio.ServicerContext, BaseException | None], None]


def observer(full_method: str, handler: grpc.RpcMethodHandler) -> tuple[Started, Finished]:
    """For `handler`: what to call as an RPC starts (with its request and its
    metadata; binds its request ID, returns the start time and the request to
    hand on) and as it finishes (with the exception that ended it, if any):
    counted, timed and logged."""
    service, _, method = full_method.lstrip("/").rpartition("/")
    record = metrics.RPCS.record(service, method, _kind(handler))
    quiet = full_method.startswith(_QUIET)
    quiet_if_ok = full_method in _LOGGED_IF_FAILED
    streaming_requests = handler.request_streaming

    def started(request: Any, metadata: Any) -> tuple[float, Any]:
        record.started += 1
        request_context.bind_metadata(metadata)
        if streaming_requests:
            return time.perf_counter(), _each_bound(request)
        request_context.bind_from(request)
        return time.perf_counter(), request

    def finished(begun: float, context: grpc.aio.ServicerContext, failed: BaseException | None) -> None:
        seconds = time.perf_counter() - begun
        code = _code(context, failed)
        record.finished(code, seconds)
        if not quiet and not (quiet_if_ok and code == "OK"):
            log.info(
                "rpc finished",
                extra={"fields": {"event": "rpc", "method": full_method, "code": code, "ms": round(seconds * 1000, 2)}},
            )

    return started, finished
