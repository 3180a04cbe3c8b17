"""How every service boots and stops, so a reader who knows one knows all three:

settings -> app.py build(settings) -> App (pool, servicers, background work)
-> serve(app): signal handlers and the metrics server, then App.running():
open pool -> grpc.aio server (message limits, concurrent-RPC bound, every
handler wrapped as it is registered) -> servicers, health (NOT_SERVING),
reflection -> SERVING after pool.wait() (a SIGTERM during that wait stops at
once) -> on SIGTERM or SIGINT: NOT_SERVING, stop accepting, finish in-flight
RPCs within the grace period, let the service drain its own work, close the
pool.

Tests run an App in their own process with `async with app.running()`,
bound to port 0: no signal handlers, no metrics server, no environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client.registry import Collector

from complaints import cpu_priority, logs, metrics
from complaints.auth import Authenticator, KeyCache
from complaints.cancellation import cancel_and_wait
from complaints.config import ServiceSettings, SettingsError
from complaints.db import ServicePool, check_connection_budget
from complaints.service_server import ServiceServer

log = logging.getLogger(__name__)

S = TypeVar("S", bound=ServiceSettings)


@dataclass(kw_only=True)
class App:
    """A service as its app.py `build(settings)` assembles it."""

    settings: ServiceSettings
    pool: ServicePool
    # Registers servicers on the server; returns their full service names.
    register: Callable[[grpc.aio.Server], Sequence[str]]
    # Background work started once the pool is ready (pipeline workers,
    # dispatcher, snapshot refresher) and stopped after the server stopped.
    start_background: Callable[[], Awaitable[None]] | None = None
    stop_background: Callable[[float], Awaitable[None]] | None = None
    # Service-specific Prometheus collectors, each made with the event loop
    # it reads on; serve registers them while it runs.
    collectors: Sequence[Callable[[asyncio.AbstractEventLoop], Collector]] = ()
    # Request streams that answer an undecodable item on its own (complaints/service_server.py).
    item_errors: Sequence[str] = ()
    max_message_bytes: int = 4 * 1024 * 1024
    # The port it listens on once running (the one chosen for a bind to port 0).
    port: int = field(default=0, init=False)

    @contextlib.asynccontextmanager
    async def running(self, stop: asyncio.Event | None = None) -> AsyncIterator[bool]:
        """Serves on settings.bind until the block ends. Enters once SERVING
        (True), or once `stop` was set while the database was still awaited
        (False: the caller stops at once)."""
        settings = self.settings
        await self.pool.open()
        try:
            bare = grpc.aio.server(
                options=[
                    ("grpc.max_receive_message_length", self.max_message_bytes),
                    ("grpc.max_send_message_length", self.max_message_bytes),
                    # Clients behind a load balancer re-resolve and spread again.
                    ("grpc.max_connection_age_ms", 5 * 60 * 1000),
                    ("grpc.max_connection_age_grace_ms", 30 * 1000),
                    ("grpc.so_reuseport", 0),
                ],
                maximum_concurrent_rpcs=settings.max_concurrent_rpcs,
            )
            server = ServiceServer(
                bare, Authenticator(KeyCache(self.pool, settings.auth_cache_seconds)), self.item_errors
            )
            names = list(self.register(server))
            health_servicer = health.aio.HealthServicer()
            # grpcio-health starts the server-wide status at SERVING; ours is SERVING
            # only once the pool is ready and the background work runs.
            await health_servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
            health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
            reflection.enable_server_reflection(
                [*names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME], server
            )
            self.port = server.add_insecure_port(settings.bind)
            if self.port == 0:
                raise RuntimeError(f"{settings.name}: cannot listen on {settings.bind}")
            await server.start()
            try:
                serving = await _first_connections(self.pool, stop or asyncio.Event())
                if serving:
                    await check_connection_budget(self.pool, settings)
                    if self.start_background:
                        await self.start_background()
                    # Everything loaded so far lives as long as the process: frozen,
                    # the cyclic collector no longer walks it, so a full collection
                    # costs well under a millisecond instead of tens (the dashboard's
                    # p99 while the pipeline commits; bench/report.md).
                    gc.freeze()
                    # Started at the caller's priority, so that a busy host cannot
                    # starve the start (a model to load); its tier from now on.
                    cpu_priority.move_self(settings.cpu_priority)
                    for name in ["", *names]:
                        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
                    host = settings.bind.rsplit(":", 1)[0]
                    log.info(
                        "listening",
                        extra={"fields": {"event": "listening", "address": f"{host}:{self.port}", "port": self.port}},
                    )
                yield serving
                log.info(
                    "shutting down", extra={"fields": {"event": "stopping", "grace_seconds": settings.grace_seconds}}
                )
                await health_servicer.enter_graceful_shutdown()
            finally:
                # Stop taking RPCs and let in-flight ones finish while the service
                # drains its own work (both may still need the pool); the pool last.
                drains: list[Awaitable[None]] = [server.stop(settings.grace_seconds)]
                if self.stop_background:
                    drains.append(self.stop_background(settings.grace_seconds))
                await asyncio.gather(*drains)
        finally:
            await self.pool.close()
            log.info("stopped", extra={"fields": {"event": "stopped"}})


async def serve(app: App) -> None:
    """Runs `app` as this process's service: until SIGTERM or SIGINT, with its
    metrics on settings.metrics_port."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    exporter = metrics.MetricsServer(app.settings.name, app.settings.bind.rsplit(":", 1)[0], app.settings.metrics_port)
    exporter.start()
    try:
        for collector in (metrics.PoolCollector(app.pool, loop), *(make(loop) for make in app.collectors)):
            exporter.register(collector)
        async with app.running(stop) as serving:
            if serving:
                await stop.wait()
    finally:
        exporter.stop()


async def _first_connections(pool: ServicePool, stop: asyncio.Event) -> bool:
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


def main(name: str, read_settings: Callable[[], S], build: Callable[[S], App]) -> None:
    """A service's process: JSON logs, settings read once, the App built and
    served; a bad setting stops the start with one clear line (exit code 2)
    instead of a traceback."""
    die_with_supervisor()
    logs.setup(name)

    async def run() -> None:
        settings = read_settings()
        logs.setup(name, settings.log_level)
        await serve(build(settings))

    try:
        asyncio.run(run())
    except SettingsError as exc:
        log.error("bad setting: %s", exc, extra={"fields": {"event": "bad_setting"}})
        sys.exit(2)
