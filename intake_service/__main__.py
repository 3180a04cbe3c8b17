"""python -m intake_service"""

from __future__ import annotations

from complaints import server
from intake_service.app import build
from intake_service.settings import Settings

if __name__ == "__main__":
    server.main("intake", Settings.from_env, build)
