"""python -m analytics_service"""

from __future__ import annotations

from analytics_service.app import build
from analytics_service.settings import Settings
from complaints import server

if __name__ == "__main__":
    server.main("analytics", Settings.from_env, build)
