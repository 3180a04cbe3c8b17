"""The one interceptor every service installs: it observes each RPC
(complaints/rpc_observer.py), checks its API key (complaints/auth.py) and
answers what its handler raises with the one error table
(complaints/errors.py), in one wrapper around the handler rather than one per
concern: the dashboard answers from memory, so each layer showed in its
requests per second.

The order is what three nested interceptors would give: the observer
outermost, so it sees every RPC, refused ones included, with its final code;
an authentication refusal is raised inside the error mapping, so the table
answers it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection
from typing import Any

import grpc

from complaints import request_context
from complaints.auth import Authenticator, required_roles
from complaints.errors import decoded_requests, is_grpc_abort, status_for, tolerant
from complaints.interceptor import Behaviour, HandlerCache, rewrap
from complaints.rpc_observer import bind_request_id, observer


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, auth: Authenticator, item_errors: Collection[str] = ()) -> None:
        self.auth = auth
        # Full method names of request streams whose handler answers an
        # UndecodableRequest with a per-item error instead of ending the stream.
        self.item_errors = frozenset(item_errors)
        self._wrapped = HandlerCache(self._wrap)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Any],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        bind_request_id(details)
        handler = await continuation(details)
        if handler is None:
            return None
        needed = required_roles(details.method)
        if needed is not None:
            try:
                await self.auth.check(details.method, needed, details.invocation_metadata)
            except Exception as exc:
                # Refusals are rare: their handler is built for the call, not cached.
                return self._wrap(details.method, handler, refusal=exc)
        return self._wrapped.get(details.method, handler)

    def _wrap(
        self, method: str, handler: grpc.RpcMethodHandler, refusal: Exception | None = None
    ) -> grpc.RpcMethodHandler:
        """`handler` observed, with its exceptions (or `refusal` instead of
        running it) answered by the error table."""
        started, finished = observer(method, handler)
        arguments = decoded_requests(handler.request_streaming, method in self.item_errors)

        def unary(inner: Behaviour) -> Behaviour:
            if refusal is not None:
                inner = _raising(refusal)

            async def answer(request: Any, context: grpc.aio.ServicerContext) -> Any:
                begun, request = started(request)
                failed: BaseException | None = None
                try:
                    try:
                        reply = await inner(arguments(request), context)
                    except Exception as exc:
                        if is_grpc_abort(exc):
                            raise
                        await context.abort_with_status(status_for(exc, method))
                    request_context.bind_from(reply)  # SubmitComplaint answers with the new ID
                    return reply
                except BaseException as exc:
                    failed = exc
                    raise
                finally:
                    finished(begun, context, failed)

            return answer

        def stream(inner: Behaviour) -> Behaviour:
            if refusal is not None:
                inner = _raising_stream(refusal)

            async def answers(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                begun, request = started(request)
                failed: BaseException | None = None
                try:
                    try:
                        async for reply in inner(arguments(request), context):
                            yield reply
                    except Exception as exc:
                        if is_grpc_abort(exc):
                            raise
                        await context.abort_with_status(status_for(exc, method))
                except BaseException as exc:
                    failed = exc
                    raise
                finally:
                    finished(begun, context, failed)

            return answers

        return rewrap(handler, unary, stream, tolerant(handler.request_deserializer))


def _raising(exc: Exception) -> Behaviour:
    async def refuse(request: Any, context: grpc.aio.ServicerContext) -> Any:
        raise exc

    return refuse


def _raising_stream(exc: Exception) -> Behaviour:
    async def refuse(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        raise exc
        yield  # an async generator, like every streaming handler

    return refuse
