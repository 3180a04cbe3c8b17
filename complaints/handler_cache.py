"""Interceptors wrap a method's handler once, not on every call.

grpc.aio asks each interceptor for the handler on every RPC; building new
closures and handler tuples each time cost the dashboard a visible share of
its requests per second. The wrapped handler is kept per method together
with the handler it wraps, and rebuilt only when that changes (an
authentication refusal hands on a handler of its own).
"""
from __future__ import annotations

from collections.abc import Callable

import grpc

Wrap = Callable[[str, grpc.RpcMethodHandler], grpc.RpcMethodHandler]


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
