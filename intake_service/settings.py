from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from complaints.config import Env, ServiceSettings

# Where `make run` and a bare start listen (gRPC, metrics).
PORT, METRICS_PORT = 50051, 9151


@dataclass(frozen=True)
class Limits:
    max_documents: int
    max_document_bytes: int
    max_total_document_bytes: int
    max_description_chars: int
    max_subject_chars: int
    max_field_chars: int

    @property
    def max_message_bytes(self) -> int:
        # Room for every document plus the text fields and framing.
        return self.max_total_document_bytes + 4 * self.max_description_chars + 1024 * 1024


@dataclass(frozen=True)
class StreamFlow:
    """SubmitComplaints: requests read ahead of the commit, and stored per transaction."""

    batch_items: int
    read_ahead_bytes: int


@dataclass(frozen=True)
class Settings(ServiceSettings):
    pipeline_targets: list[str]
    # Intake's own key (role dispatch) for PipelineService.Dispatch.
    dispatch_api_key: str
    limits: Limits
    flow: StreamFlow

    # The status feed's LISTEN connection (intake_service/status_feed.py).
    DEDICATED_CONNECTIONS = 1

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        env = Env(environ)
        return cls(
            **ServiceSettings.read(
                env, "INTAKE", port=PORT, metrics_port=METRICS_PORT, replicas=1, pool=(2, 8), grace_seconds=10.0
            ),
            # Comma-separated host:port of pipeline replicas, or one
            # dns:///name:port that resolves to all of them (headless Service).
            pipeline_targets=env.strings("PIPELINE_TARGETS", ["127.0.0.1:50053", "127.0.0.1:50054"]),
            dispatch_api_key=env.string("INTAKE_DISPATCH_API_KEY", ""),
            limits=Limits(
                max_documents=env.integer("INTAKE_MAX_DOCUMENTS", 10, minimum=0),
                max_document_bytes=env.integer("INTAKE_MAX_DOCUMENT_BYTES", 20 * 1024 * 1024, minimum=1),
                max_total_document_bytes=env.integer("INTAKE_MAX_TOTAL_DOCUMENT_BYTES", 50 * 1024 * 1024, minimum=1),
                max_description_chars=env.integer("INTAKE_MAX_DESCRIPTION_CHARS", 50_000, minimum=1),
                max_subject_chars=env.integer("INTAKE_MAX_SUBJECT_CHARS", 500, minimum=1),
                max_field_chars=env.integer("INTAKE_MAX_FIELD_CHARS", 200, minimum=1),
            ),
            flow=StreamFlow(
                batch_items=env.integer("INTAKE_STREAM_BATCH", 256, minimum=1),
                read_ahead_bytes=env.integer("INTAKE_STREAM_READ_AHEAD_BYTES", 16 * 1024 * 1024, minimum=1),
            ),
        )
