"""The grpc.aio server every service runs: each method's handler is wrapped
once, as it is registered, in what every RPC needs: it is observed
(complaints/rpc_observer.py), its API key is checked (complaints/auth.py) and
what its handler raises is answered with the one error table
(complaints/errors.py).

Wrapped at registration rather than by a grpc.aio server interceptor: with
an interceptor grpc.aio runs a chain of coroutines per RPC just to find the
handler, and the dashboard answers from memory, so that showed in its
requests per second. Servicers, health and reflection register on this
server as on any other (it is a grpc.aio.Server).

The order is what three nested interceptors would give: the observer
outermost, so it sees every RPC, refused ones included, with its final code;
an authentication refusal is raised inside the error mapping, so the table
answers it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Sequence
from typing import Any

import grpc

from complaints import request_context
from complaints.auth import Authenticator
from complaints.errors import decoded_requests, is_grpc_abort, status_for, tolerant
from complaints.rpc_observer import observer

# What a handler runs: (request or request iterator, context) -> reply, or an
# async iterator of replies.
Behaviour = Callable[[Any, grpc.aio.ServicerContext], Any]


class ServiceServer(grpc.aio.Server):
    """`server` with every handler registered on it wrapped (see above)."""

    def __init__(self, server: grpc.aio.Server, auth: Authenticator, item_errors: Collection[str] = ()) -> None:
        self._server = server
        self.auth = auth
        # Full method names of request streams whose handler answers an
        # UndecodableRequest with a per-item error instead of ending the stream.
        self.item_errors = frozenset(item_errors)
        self._methods = _Methods()
        server.add_generic_rpc_handlers((self._methods,))

    def add_generic_rpc_handlers(self, generic_rpc_handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        # Generated code registers a service twice: as a generic handler, and
        # method by method (below), which is what is kept, wrapped.
        pass

    def add_registered_method_handlers(
        self, service_name: str, method_handlers: dict[str, grpc.RpcMethodHandler]
    ) -> None:
        # Served through the one generic handler, not registered method by
        # method with grpc.aio: it waits for the next call of each registered
        # method apart, one future each, and asyncio.wait() over all of them
        # for every RPC showed in the dashboard's profile (2% of its samples).
        for name, handler in method_handlers.items():
            method = f"/{service_name}/{name}"
            self._methods.handlers[method] = self._wrap(method, handler)

    def add_insecure_port(self, address: str) -> int:
        return self._server.add_insecure_port(address)

    def add_secure_port(self, address: str, server_credentials: grpc.ServerCredentials) -> int:
        return self._server.add_secure_port(address, server_credentials)

    async def start(self) -> None:
        await self._server.start()

    async def stop(self, grace: float | None) -> None:
        await self._server.stop(grace)

    async def wait_for_termination(self, timeout: float | None = None) -> bool:
        return await self._server.wait_for_termination(timeout)

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        """`handler` observed, its caller's key checked, its exceptions answered by the error table."""
        started, finished = observer(method, handler)
        arguments = decoded_requests(handler.request_streaming, method in self.item_errors)
        check = self.auth.check_for(method)

        def unary(inner: Behaviour) -> Behaviour:
            async def answer(request: Any, context: grpc.aio.ServicerContext) -> Any:
                metadata = context.invocation_metadata()
                begun, request = started(request, metadata)
                failed: BaseException | None = None
                try:
                    try:
                        # An undecodable request is refused as such, before its key is checked.
                        given = arguments(request)
                        if check is not None and not check.admits(metadata):
                            await check(metadata)
                        reply = await inner(given, context)
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
            async def answers(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                metadata = context.invocation_metadata()
                begun, request = started(request, metadata)
                failed: BaseException | None = None
                try:
                    try:
                        given = arguments(request)
                        if check is not None and not check.admits(metadata):
                            await check(metadata)
                        async for reply in inner(given, context):
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

        return _rewrap(handler, unary, stream, tolerant(handler.request_deserializer))


class _Methods(grpc.GenericRpcHandler):
    """Every wrapped handler, by full method name."""

    def __init__(self) -> None:
        self.handlers: dict[str, grpc.RpcMethodHandler] = {}

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        return self.handlers.get(handler_call_details.method)


def _rewrap(
    handler: grpc.RpcMethodHandler,
    unary: Callable[[Behaviour], Behaviour],
    stream: Callable[[Behaviour], Behaviour],
    request_deserializer: Callable[[bytes], Any] | None,
) -> grpc.RpcMethodHandler:
    """A handler of `handler`'s call shape (a request or a request stream,
    answered once or with a stream) running `unary(behaviour)` when it answers
    once, `stream(behaviour)` when it streams its answers."""
    if handler.response_streaming:
        if handler.request_streaming:
            return grpc.stream_stream_rpc_method_handler(
                stream(handler.stream_stream), request_deserializer, handler.response_serializer
            )
        return grpc.unary_stream_rpc_method_handler(
            stream(handler.unary_stream), request_deserializer, handler.response_serializer
        )
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(
            unary(handler.stream_unary), request_deserializer, handler.response_serializer
        )
    return grpc.unary_unary_rpc_method_handler(
        unary(handler.unary_unary), request_deserializer, handler.response_serializer
    )
