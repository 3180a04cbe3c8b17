from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from complaints.config import Env, ServiceSettings, SettingsError

# Where `make run` and a bare start listen (gRPC, metrics).
PORT, METRICS_PORT = 50052, 9152


@dataclass(frozen=True)
class Settings(ServiceSettings):
    max_staleness_seconds: float
    refresh_debounce_seconds: float
    watch_interval_ms: int
    statement_timeout_ms: int
    top_entities: int
    top_cases: int
    ef_search: int
    page_size: int
    max_page_size: int
    case_complaints: int

    # The snapshot's LISTEN connection (analytics_service/snapshot.py).
    DEDICATED_CONNECTIONS = 1

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        env = Env(environ)
        settings = cls(
            **ServiceSettings.read(
                env, "ANALYTICS", port=PORT, metrics_port=METRICS_PORT, replicas=1, pool=(2, 10), grace_seconds=5.0
            ),
            max_staleness_seconds=env.number("ANALYTICS_MAX_STALENESS_SECONDS", 1.0, minimum=0.05),
            refresh_debounce_seconds=env.number("ANALYTICS_REFRESH_DEBOUNCE_SECONDS", 0.1, minimum=0),
            watch_interval_ms=env.integer("ANALYTICS_WATCH_INTERVAL_MS", 500, minimum=10),
            statement_timeout_ms=env.integer("ANALYTICS_STATEMENT_TIMEOUT_MS", 2000, minimum=1),
            top_entities=env.integer("ANALYTICS_TOP_ENTITIES", 20, minimum=1),
            top_cases=env.integer("ANALYTICS_TOP_CASES", 10, minimum=1),
            ef_search=env.integer("ANALYTICS_HNSW_EF_SEARCH", 40, minimum=1, maximum=1000),
            page_size=env.integer("ANALYTICS_PAGE_SIZE", 50, minimum=1),
            max_page_size=env.integer("ANALYTICS_MAX_PAGE_SIZE", 500, minimum=1),
            case_complaints=env.integer("ANALYTICS_CASE_COMPLAINTS", 50, minimum=1),
        )
        if settings.refresh_debounce_seconds > settings.max_staleness_seconds:
            raise SettingsError("ANALYTICS_REFRESH_DEBOUNCE_SECONDS must not be above ANALYTICS_MAX_STALENESS_SECONDS")
        if settings.page_size > settings.max_page_size:
            raise SettingsError("ANALYTICS_PAGE_SIZE must not be above ANALYTICS_MAX_PAGE_SIZE")
        return settings
