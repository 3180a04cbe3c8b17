"""The analytics service assembled from its settings: pool, snapshot, store,
servicer. `python -m analytics_service` serves it; tests run it in-process
(complaints/server.py)."""

from __future__ import annotations

import asyncio
import gc
from dataclasses import dataclass

import grpc

from analytics_service import dashboard
from analytics_service.servicer import AnalyticsServicer
from analytics_service.settings import Settings
from analytics_service.snapshot import DashboardSnapshot
from analytics_service.store import AnalyticsStore
from complaints import embedding, server
from complaints.db import make_pool
from complaints.v1 import analytics_pb2, analytics_pb2_grpc


@dataclass(kw_only=True)
class App(server.App):
    snapshot: DashboardSnapshot


def build(settings: Settings) -> App:
    pool = make_pool(
        settings.database_url,
        name=settings.name,
        min_size=settings.pool_min,
        max_size=settings.pool_max,
        read_only=True,
        statement_timeout_ms=settings.statement_timeout_ms,
    )
    snapshot = DashboardSnapshot(
        lambda: dashboard.load(pool, settings.top_entities, settings.top_cases),
        settings.database_url,
        max_staleness=settings.max_staleness_seconds,
        debounce=settings.refresh_debounce_seconds,
    )
    servicer = AnalyticsServicer(
        snapshot,
        AnalyticsStore(pool, settings.ef_search),
        watch_interval_ms=settings.watch_interval_ms,
        page_size=settings.page_size,
        max_page_size=settings.max_page_size,
        case_complaints=settings.case_complaints,
    )

    def register(srv: grpc.aio.Server) -> list[str]:
        return [_add_servicer(servicer, srv)]

    async def start() -> None:
        await snapshot.start()
        # Load the embedding model now, not on the first search.
        asyncio.get_running_loop().run_in_executor(None, _load_model)

    return App(
        settings=settings,
        pool=pool,
        register=register,
        start_background=start,
        stop_background=snapshot.stop,
        snapshot=snapshot,
    )


# The dashboard RPCs answer with bytes the snapshot serialised once per reload.
PRE_SERIALISED = ("GetDashboard", "WatchDashboard")


class _Handlers:
    """Collects the method handlers the generated code would register."""

    def __init__(self) -> None:
        self.methods: dict[str, grpc.RpcMethodHandler] = {}

    def add_generic_rpc_handlers(self, _handlers: object) -> None:
        pass

    def add_registered_method_handlers(self, _service: str, methods: dict[str, grpc.RpcMethodHandler]) -> None:
        self.methods.update(methods)


def _add_servicer(servicer: analytics_pb2_grpc.AnalyticsServiceServicer, srv: grpc.aio.Server | _Handlers) -> str:
    """Registers AnalyticsService as the generated code does, except that the
    dashboard RPCs have no response serializer: grpc sends their bytes as is."""
    name = analytics_pb2.DESCRIPTOR.services_by_name["AnalyticsService"].full_name
    handlers = _Handlers()
    analytics_pb2_grpc.add_AnalyticsServiceServicer_to_server(servicer, handlers)
    methods = {
        method: handler._replace(response_serializer=None) if method in PRE_SERIALISED else handler
        for method, handler in handlers.methods.items()
    }
    srv.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(name, methods),))
    srv.add_registered_method_handlers(name, methods)
    return name


def _load_model() -> None:
    embedding.query("")
    # The model's tokenizer is tens of thousands of long-lived objects: out of
    # the collector's sight, a full collection no longer stalls the event loop
    # for tens of milliseconds (complaints/server.py freezes the rest).
    gc.freeze()
