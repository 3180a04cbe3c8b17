"""Typed reads of settings from the environment.

Every setting has a safe default; a value that is present but wrong stops the
service at start with a message naming the variable.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


class SettingsError(ValueError):
    pass


def env_str(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name}={value} is below the minimum of {minimum}")
    if maximum is not None and value > maximum:
        raise SettingsError(f"{name}={value} is above the maximum of {maximum}")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name}={value} is below the minimum of {minimum}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return list(default)
    return [part.strip() for part in raw.split(",") if part.strip()]


def pool_bounds(prefix: str, default_min: int, default_max: int) -> tuple[int, int]:
    """Reads <PREFIX>_DB_POOL_MIN and <PREFIX>_DB_POOL_MAX."""
    low = env_int(f"{prefix}_DB_POOL_MIN", default_min, minimum=0)
    high = env_int(f"{prefix}_DB_POOL_MAX", default_max, minimum=1)
    if low > high:
        raise SettingsError(f"{prefix}_DB_POOL_MIN={low} is above {prefix}_DB_POOL_MAX={high}")
    return low, high


def database_url(service_var: str) -> str:
    """The service's own URL if set, else DATABASE_URL."""
    url = os.environ.get(service_var) or os.environ.get("DATABASE_URL")
    if not url:
        raise SettingsError(f"set {service_var} or DATABASE_URL to a PostgreSQL URL")
    return url


@dataclass(frozen=True)
class ServiceSettings:
    """What every service reads the same way: its database, pool, address and
    shutdown grace, from <PREFIX>_DATABASE_URL (else DATABASE_URL),
    <PREFIX>_DB_POOL_MIN/MAX, <PREFIX>_BIND (else 0.0.0.0:<PREFIX>_PORT) and
    <PREFIX>_GRACE_SECONDS, and its CPU tier from <PREFIX>_CPU_PRIORITY (0:
    unchanged; complaints/cpu_priority.py). Each service's Settings extends it."""

    database_url: str
    pool_min: int
    pool_max: int
    bind: str
    grace_seconds: float
    cpu_priority: str

    @staticmethod
    def read(prefix: str, *, port: int, pool: tuple[int, int], grace_seconds: float) -> dict[str, Any]:
        from complaints import cpu_priority  # it reads settings through this module

        low, high = pool_bounds(prefix, *pool)
        return {
            "database_url": database_url(f"{prefix}_DATABASE_URL"),
            "pool_min": low,
            "pool_max": high,
            "bind": env_str(f"{prefix}_BIND", f"0.0.0.0:{env_int(f'{prefix}_PORT', port, minimum=0)}"),
            "grace_seconds": env_float(f"{prefix}_GRACE_SECONDS", grace_seconds, minimum=0),
            "cpu_priority": cpu_priority.setting(prefix.lower(), "0"),
        }
