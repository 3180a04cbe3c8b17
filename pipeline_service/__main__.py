"""python -m pipeline_service"""

from __future__ import annotations

from complaints import server
from pipeline_service.app import build
from pipeline_service.settings import Settings

if __name__ == "__main__":
    server.main("pipeline", Settings.from_env, build)
