"""How every service boots and stops, so a reader who knows one knows all three:

settings -> open pool -> grpc.aio server (interceptors, message limits) ->
servicers, health (NOT_SERVING), reflection -> SERVING after pool.wait() (a
SIGTERM during that wait stops at once) -> on SIGTERM or
SIGINT: NOT_SERVING, stop accepting, finish in-flight RPCs within the grace
period, let the service drain its own work, close the pool.
"""
from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from psycopg_pool import AsyncConnectionPool

from complaints import cpu_priority, metrics
from complaints.auth import Authenticator
from complaints.cancellation import cancel_and_wait
from complaints.db import check_connection_budget
from complaints.service_interceptor import ServiceInterceptor

log = logging.getLogger(__name__)


@dataclass
class Service:
    """What a service hands to `run`."""

    name: str
    bind: str
    pool: AsyncConnectionPool
    # Registers servicers on the server; returns their full service names.
    register: Callable[[grpc.aio.Server], Sequence[str]]
    grace_seconds: float = 10.0
    max_message_bytes: int = 4 * 1024 * 1024
    # Background work started once the pool is ready (pipeline workers,
    # dispatcher, snapshot refresher) and stopped after the server stopped.
    start_background: Callable[[], Awaitable[None]] | None = None
    stop_background: Callable[[float], Awaitable[None]] | None = None
    # Service-specific Prometheus collectors, registered while it runs.
    collectors: Sequence[Any] = ()
    # Request streams that answer an undecodable item on its own (complaints/service_interceptor.py).
    item_errors: Sequence[str] = ()
    # The CPU tier it moves to once SERVING (complaints/cpu_priority.py).
    cpu_priority: str = "0"


async def run(service: Service, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    await service.pool.open()
    host = service.bind.rsplit(":", 1)[0]
    exporter = metrics.MetricsServer(service.name, host)
    exporter.start()
    for collector in (metrics.PoolCollector(service.pool, loop), *service.collectors):
        exporter.register(collector)
    server = grpc.aio.server(
        interceptors=[ServiceInterceptor(Authenticator.from_env(service.pool), service.item_errors)],
        options=[
            ("grpc.max_receive_message_length", service.max_message_bytes),
            ("grpc.max_send_message_length", service.max_message_bytes),
            # Clients behind a load balancer re-resolve and spread again.
            ("grpc.max_connection_age_ms", 5 * 60 * 1000),
            ("grpc.max_connection_age_grace_ms", 30 * 1000),
            ("grpc.so_reuseport", 0),
        ],
    )
    names = list(service.register(server))
    health_servicer = health.aio.HealthServicer()
    # grpcio-health starts the server-wide status at SERVING; ours is SERVING
    # only once the pool is ready and the background work runs.
    await health_servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [*names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME], server
    )
    port = server.add_insecure_port(service.bind)
    if port == 0:
        raise RuntimeError(f"{service.name}: cannot listen on {service.bind}")
    await server.start()
    try:
        if await _first_connections(service.pool, stop):
            await check_connection_budget(service.pool, service.name)
            if service.start_background:
                await service.start_background()
            # Everything loaded so far lives as long as the process: frozen,
            # the cyclic collector no longer walks it, so a full collection
            # costs well under a millisecond instead of tens (the dashboard's
            # p99 while the pipeline commits; bench/report.md).
            gc.freeze()
            # Started at the caller's priority, so that a busy host cannot
            # starve the start (a model to load); its tier from now on.
            cpu_priority.lower_self(service.cpu_priority)
            for name in ["", *names]:
                await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
            log.info("listening", extra={"fields": {"event": "listening", "address": f"{host}:{port}", "port": port}})
            await stop.wait()
        log.info("shutting down", extra={"fields": {"event": "stopping", "grace_seconds": service.grace_seconds}})
        await health_servicer.enter_graceful_shutdown()
    finally:
        # Stop taking RPCs and let in-flight ones finish while the service
        # drains its own work (both may still need the pool); the pool last.
        drains = [server.stop(service.grace_seconds)]
        if service.stop_background:
            drains.append(service.stop_background(service.grace_seconds))
        await asyncio.gather(*drains)
        await service.pool.close()
        exporter.stop()
        log.info("stopped", extra={"fields": {"event": "stopped"}})


async def _first_connections(pool: AsyncConnectionPool, stop: asyncio.Event) -> bool:
    """Waits (at most 60 s) for the pool's first connections; False when a stop
    comes first, so a SIGTERM is not held up by an unreachable database."""
    ready = asyncio.ensure_future(pool.wait(timeout=60))
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({ready, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await cancel_and_wait(ready, stopping)
    if ready.cancelled():
        return False
    ready.result()  # PoolTimeout: the database stayed unreachable
    return True


def die_with_supervisor() -> None:
    """Under `make run` (SUPERVISOR_PID set): SIGTERM when the supervisor dies,
    so nothing is orphaned."""
    supervisor = os.environ.get("SUPERVISOR_PID")
    if not supervisor:
        return
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != int(supervisor):  # it died before we asked
        os.kill(os.getpid(), signal.SIGTERM)


def main(name: str, entry: Callable[[], Awaitable[None]]) -> None:
    """Process entry point: JSON logs, and a bad setting stops the start with
    one clear line (exit code 2) instead of a traceback."""
    import sys

    from complaints import logs
    from complaints.config import SettingsError

    die_with_supervisor()
    logs.setup(name)
    try:
        asyncio.run(entry())
    except SettingsError as exc:
        log.error("bad setting: %s", exc, extra={"fields": {"event": "bad_setting"}})
        sys.exit(2)
