from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from complaints.config import Env, ServiceSettings
from pipeline_service.analyzer import model

# Where `make run` and a bare start listen (gRPC, metrics); make run's
# replicas take the ports from these up.
PORT, METRICS_PORT, REPLICAS = 50053, 9153, 2


@dataclass(frozen=True)
class LLMSettings:
    """The `llm` analyzer's endpoint: any OpenAI-compatible server."""

    base_url: str
    model: str
    api_key: str
    timeout_seconds: float
    retries: int
    retry_max_wait_seconds: float
    concurrency: int
    breaker_failures: int
    breaker_reset_seconds: float
    vision_model: str
    embedding_model: str

    @classmethod
    def from_env(cls, env: Env) -> LLMSettings:
        return cls(
            base_url=env.string("PIPELINE_LLM_BASE_URL", "http://127.0.0.1:8000/v1"),
            model=env.string("PIPELINE_LLM_MODEL", ""),
            api_key=env.string("PIPELINE_LLM_API_KEY", ""),
            timeout_seconds=env.number("PIPELINE_LLM_TIMEOUT_SECONDS", 15.0, minimum=0.01),
            retries=env.integer("PIPELINE_LLM_RETRIES", 3, minimum=0),
            retry_max_wait_seconds=env.number("PIPELINE_LLM_RETRY_MAX_WAIT_SECONDS", 30.0, minimum=0),
            concurrency=env.integer("PIPELINE_LLM_CONCURRENCY", 64, minimum=1),
            breaker_failures=env.integer("PIPELINE_LLM_BREAKER_FAILURES", 5, minimum=1),
            breaker_reset_seconds=env.number("PIPELINE_LLM_BREAKER_RESET_SECONDS", 15.0, minimum=0.01),
            vision_model=env.string("PIPELINE_LLM_VISION_MODEL", ""),
            embedding_model=env.string("PIPELINE_LLM_EMBEDDING_MODEL", ""),
        )


@dataclass(frozen=True)
class Settings(ServiceSettings):
    replica_id: str
    analyzer: str
    max_in_flight: int
    lease_seconds: float
    sweep_seconds: float
    max_attempts: int
    retry_base_seconds: float
    retry_max_seconds: float
    # Same-incident probability from which a candidate makes its case a
    # contender, and the one below which another member of that case keeps
    # the complaint out (the fitted model's, chosen together on the dev split
    # and the train folds, unless set).
    case_threshold: float
    case_member_floor: float
    case_candidates: int
    ef_search: int
    ocr_min_confidence: float
    tesseract_cmd: str
    llm: LLMSettings

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        env = Env(environ)
        return cls(
            **ServiceSettings.read(
                env,
                "PIPELINE",
                port=PORT,
                metrics_port=METRICS_PORT,
                replicas=REPLICAS,
                pool=(1, 4),
                grace_seconds=20.0,
            ),
            replica_id=env.string("PIPELINE_REPLICA_ID", f"{socket.gethostname()}-{os.getpid()}"),
            analyzer=env.string("PIPELINE_ANALYZER", "local"),
            max_in_flight=env.integer("PIPELINE_MAX_IN_FLIGHT", 64, minimum=1),
            lease_seconds=env.number("PIPELINE_LEASE_SECONDS", 30.0, minimum=1),
            sweep_seconds=env.number("PIPELINE_SWEEP_SECONDS", 1.0, minimum=0.05),
            max_attempts=env.integer("PIPELINE_MAX_ATTEMPTS", 5, minimum=1),
            retry_base_seconds=env.number("PIPELINE_RETRY_BASE_SECONDS", 2.0, minimum=0),
            retry_max_seconds=env.number("PIPELINE_RETRY_MAX_SECONDS", 300.0, minimum=0),
            case_threshold=env.number("PIPELINE_CASE_THRESHOLD", model.load().pairs.threshold, minimum=0, maximum=1),
            case_member_floor=env.number(
                "PIPELINE_CASE_MEMBER_FLOOR", model.load().pairs.member_floor, minimum=0, maximum=1
            ),
            case_candidates=env.integer("PIPELINE_CASE_CANDIDATES", 20, minimum=1),
            ef_search=env.integer("PIPELINE_HNSW_EF_SEARCH", 40, minimum=1),
            ocr_min_confidence=env.number("PIPELINE_OCR_MIN_CONFIDENCE", 70.0, minimum=0, maximum=100),
            tesseract_cmd=env.string("PIPELINE_TESSERACT_CMD", "tesseract"),
            llm=LLMSettings.from_env(env),
        )
