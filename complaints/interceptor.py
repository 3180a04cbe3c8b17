"""Re-wrapping a gRPC method handler, whatever its call shape, once per method.

A handler has one of four call shapes (a request or a request stream, answered
with one reply or a stream of them); an interceptor that adds behaviour around
a handler builds a handler of the same shape. `rewrap` does that for all four:
the caller says what to do around a behaviour that answers once and around one
that streams its answers.

grpc.aio asks the interceptor for the handler on every RPC; building new
closures and handler tuples each time cost the dashboard a visible share of
its requests per second. `HandlerCache` keeps the wrapped handler per method
together with the handler it wraps, and rebuilds it only when that changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

# What a handler runs: (request or request iterator, context) -> reply, or an
# async iterator of replies.
Behaviour = Callable[[Any, grpc.aio.ServicerContext], Any]
Around = Callable[[Behaviour], Behaviour]
Wrap = Callable[[str, grpc.RpcMethodHandler], grpc.RpcMethodHandler]


def rewrap(
    handler: grpc.RpcMethodHandler,
    unary: Around,
    stream: Around,
    request_deserializer: Callable[[bytes], Any] | None = None,
) -> grpc.RpcMethodHandler:
    """A handler of `handler`'s call shape running `unary(behaviour)` when it
    answers once, `stream(behaviour)` when it streams its answers (an async
    generator). Requests are decoded by `request_deserializer` when given."""
    decode = request_deserializer or handler.request_deserializer
    if handler.response_streaming:
        if handler.request_streaming:
            return grpc.stream_stream_rpc_method_handler(
                stream(handler.stream_stream), decode, handler.response_serializer
            )
        return grpc.unary_stream_rpc_method_handler(stream(handler.unary_stream), decode, handler.response_serializer)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(unary(handler.stream_unary), decode, handler.response_serializer)
    return grpc.unary_unary_rpc_method_handler(unary(handler.unary_unary), decode, handler.response_serializer)


class HandlerCache:
    def __init__(self, wrap: Wrap) -> None:
        self._wrap = wrap
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def get(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap(method, handler)
        self._wrapped[method] = (handler, wrapped)
        return wrapped
