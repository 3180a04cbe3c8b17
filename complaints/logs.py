"""Structured JSON log lines on stderr, one object per line.

Callers pass fields with `extra={"fields": {...}}`. Complainant identity is
never passed to a logger: only IDs, counts and states.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys

from complaints import request_context


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
            # The request and complaint the line is about (complaints/request_context.py).
            **request_context.fields(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            line.update(fields)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def setup(service: str, level: str = "INFO") -> None:
    """JSON lines at `level` (a service's LOG_LEVEL, read into its settings)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # psycopg_pool logs every reconnect attempt at INFO; warnings are enough.
    logging.getLogger("psycopg.pool").setLevel(logging.WARNING)
