"""Typed reads of settings from the environment.

Every setting has a safe default; a value that is present but wrong stops the
service at start with a message naming the variable. A service reads all of
its settings once, at start, into its Settings (a ServiceSettings); tests
build one from a dict of variables instead of the process environment.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class Env:
    """Typed reads of one set of variables: the process environment for a
    service, a dict for a test."""

    values: Mapping[str, str]

    def _raw(self, name: str) -> str | None:
        value = self.values.get(name)
        return None if value is None or value == "" else value

    def string(self, name: str, default: str) -> str:
        value = self._raw(name)
        return default if value is None else value

    def integer(self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
        raw = self._raw(name)
        if raw is None:
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

    def number(self, name: str, default: float, *, minimum: float | None = None, maximum: float | None = None) -> float:
        raw = self._raw(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name}={raw!r} is not a number") from None
        # float() takes "nan" and "inf": a NaN passes every bound check and
        # then compares false with everything (a threshold nothing reaches).
        if not math.isfinite(value):
            raise SettingsError(f"{name}={raw!r} is not a finite number")
        if minimum is not None and value < minimum:
            raise SettingsError(f"{name}={value} is below the minimum of {minimum}")
        if maximum is not None and value > maximum:
            raise SettingsError(f"{name}={value} is above the maximum of {maximum}")
        return value

    def strings(self, name: str, default: list[str]) -> list[str]:
        """A comma-separated list."""
        raw = self.values.get(name)
        if raw is None or raw.strip() == "":
            return list(default)
        return [part.strip() for part in raw.split(",") if part.strip()]

    def pool_bounds(self, prefix: str, default_min: int, default_max: int) -> tuple[int, int]:
        """Reads <PREFIX>_DB_POOL_MIN and <PREFIX>_DB_POOL_MAX."""
        low = self.integer(f"{prefix}_DB_POOL_MIN", default_min, minimum=0)
        high = self.integer(f"{prefix}_DB_POOL_MAX", default_max, minimum=1)
        if low > high:
            raise SettingsError(f"{prefix}_DB_POOL_MIN={low} is above {prefix}_DB_POOL_MAX={high}")
        return low, high

    def database_url(self, service_var: str) -> str:
        """The service's own URL if set, else DATABASE_URL."""
        url = self.values.get(service_var) or self.values.get("DATABASE_URL")
        if not url:
            raise SettingsError(f"set {service_var} or DATABASE_URL to a PostgreSQL URL")
        return url

    def log_level(self) -> str:
        """LOG_LEVEL: one of Python's level names."""
        level = self.string("LOG_LEVEL", "INFO").strip().upper()
        if level not in logging.getLevelNamesMapping():
            raise SettingsError(f"LOG_LEVEL={level!r} is not a log level (use DEBUG, INFO, WARNING or ERROR)")
        return level


# The process environment, for the tools that read it where they start (ops/).
ENV = Env(os.environ)
env_str, env_int, env_float, env_list, database_url = ENV.string, ENV.integer, ENV.number, ENV.strings, ENV.database_url


@dataclass(frozen=True)
class ServiceSettings:
    """What every service reads the same way: its database, pool, address,
    shutdown grace, CPU tier, metrics port, replica count, concurrent-RPC
    bound, key cache and log level, from <PREFIX>_DATABASE_URL (else
    DATABASE_URL), <PREFIX>_DB_POOL_MIN/MAX, <PREFIX>_BIND (else
    0.0.0.0:<PREFIX>_PORT), <PREFIX>_GRACE_SECONDS, <PREFIX>_CPU_PRIORITY (0:
    unchanged; complaints/cpu_priority.py), <PREFIX>_METRICS_PORT (0: off),
    <PREFIX>_REPLICAS (the most replicas at once, checked against the role's
    connection limit), <PREFIX>_MAX_CONCURRENT_RPCS, AUTH_CACHE_SECONDS and
    LOG_LEVEL. Each service's Settings extends it."""

    # The service's name (its logs' "service", its pool's application_name).
    name: str
    database_url: str
    pool_min: int
    pool_max: int
    bind: str
    grace_seconds: float
    cpu_priority: str
    metrics_port: int
    replicas: int
    max_concurrent_rpcs: int
    auth_cache_seconds: float
    log_level: str

    # Connections a replica holds outside its pool (a LISTEN connection);
    # counted against its role's connection limit. A fact of the service.
    DEDICATED_CONNECTIONS: ClassVar[int] = 0

    @staticmethod
    def read(
        env: Env,
        prefix: str,
        *,
        port: int,
        metrics_port: int,
        replicas: int,
        pool: tuple[int, int],
        grace_seconds: float,
    ) -> dict[str, Any]:
        from complaints import cpu_priority  # it reads settings through this module

        low, high = env.pool_bounds(prefix, *pool)
        return {
            "name": prefix.lower(),
            "database_url": env.database_url(f"{prefix}_DATABASE_URL"),
            "pool_min": low,
            "pool_max": high,
            "bind": env.string(f"{prefix}_BIND", f"0.0.0.0:{env.integer(f'{prefix}_PORT', port, minimum=0)}"),
            "grace_seconds": env.number(f"{prefix}_GRACE_SECONDS", grace_seconds, minimum=0),
            "cpu_priority": cpu_priority.setting(prefix.lower(), "0", env),
            "metrics_port": env.integer(f"{prefix}_METRICS_PORT", metrics_port, minimum=0, maximum=65535),
            "replicas": env.integer(f"{prefix}_REPLICAS", replicas, minimum=1),
            # Past it a call is refused (RESOURCE_EXHAUSTED) instead of
            # queueing without bound; watch streams count while open.
            "max_concurrent_rpcs": env.integer(f"{prefix}_MAX_CONCURRENT_RPCS", 10_000, minimum=1),
            "auth_cache_seconds": env.number("AUTH_CACHE_SECONDS", 2.0, minimum=0),
            "log_level": env.log_level(),
        }
