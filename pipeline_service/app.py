"""The pipeline service assembled from its settings: analyzer, pool, store,
worker, servicer. `python -m pipeline_service` serves it; tests run it
in-process (complaints/server.py)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import grpc

from complaints import metrics, server
from complaints.config import SettingsError
from complaints.db import make_pool
from complaints.v1 import pipeline_pb2, pipeline_pb2_grpc
from pipeline_service.analyzer import Analyzer
from pipeline_service.analyzer.llm import LLMAnalyzer
from pipeline_service.analyzer.local import LocalAnalyzer
from pipeline_service.servicer import PipelineServicer
from pipeline_service.settings import Settings
from pipeline_service.store import PipelineStore
from pipeline_service.worker import Worker


@dataclass(kw_only=True)
class App(server.App):
    worker: Worker


def make_analyzer(settings: Settings) -> Analyzer:
    if settings.analyzer == "local":
        return LocalAnalyzer()
    if settings.analyzer == "llm":
        if not settings.llm.model:
            raise SettingsError("PIPELINE_ANALYZER=llm needs PIPELINE_LLM_MODEL (the model name the endpoint serves)")
        return LLMAnalyzer(settings.llm)
    raise SettingsError(f"PIPELINE_ANALYZER={settings.analyzer!r} is not known; use local or llm")


def build(settings: Settings) -> App:
    analyzer = make_analyzer(settings)
    pool = make_pool(settings.database_url, name=settings.name, min_size=settings.pool_min, max_size=settings.pool_max)
    store = PipelineStore(pool, settings.replica_id, settings.lease_seconds, settings.max_attempts)
    worker = Worker(settings, store, analyzer)
    servicer = PipelineServicer(worker, store, settings.replica_id)

    def register(srv: grpc.aio.Server) -> list[str]:
        pipeline_pb2_grpc.add_PipelineServiceServicer_to_server(servicer, srv)
        return [pipeline_pb2.DESCRIPTOR.services_by_name["PipelineService"].full_name]

    return App(
        settings=settings,
        pool=pool,
        register=register,
        start_background=worker.start,
        stop_background=worker.stop,
        collectors=[functools.partial(metrics.PipelineCollector, worker, store.queue_depth)],
        worker=worker,
    )
