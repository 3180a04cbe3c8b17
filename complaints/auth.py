"""API-key authentication for all three services, and the one table of which
role may call which RPC.

Callers send `authorization: Bearer <key>` metadata. Keys are looked up by
their sha256 in `api_keys` (migration 004) and cached for AUTH_CACHE_SECONDS
(default 2 s), so a revoked key stops working within that bound while the
database is reachable. While it is not, a key already seen valid keeps
working (the dashboard serves its last snapshot through an outage); an unseen
key gets UNAVAILABLE. Health checks and reflection stay open for probes.
A key is never logged: only its ID.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import PoolClosed, PoolTimeout

from complaints.db import ServicePool
from complaints.errors import PermissionDenied, Unauthenticated

ROLES = ("submit", "read", "admin", "dispatch")

# Who may call what. A method not listed takes its service's entry; an RPC of
# no listed service needs admin. Admin may call everything.
POLICY: dict[str, frozenset[str]] = {
    "/complaints.v1.IntakeService/SubmitComplaint": frozenset({"submit"}),
    "/complaints.v1.IntakeService/SubmitComplaints": frozenset({"submit"}),
    "/complaints.v1.IntakeService/GetComplaintStatus": frozenset({"submit", "read"}),
    "/complaints.v1.IntakeService/WatchComplaint": frozenset({"submit", "read"}),
    "/complaints.v1.AnalyticsService/": frozenset({"read"}),
    # Only intake's own key (role dispatch) hands IDs to the pipeline.
    "/complaints.v1.PipelineService/Dispatch": frozenset({"dispatch"}),
    "/complaints.v1.PipelineService/GetPipelineStatus": frozenset({"read"}),
    "/complaints.v1.PipelineService/Reprocess": frozenset({"admin"}),
}
# Probes and tools must reach these without a key.
OPEN = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)

CACHE_LIMIT = 10_000
# How long a key seen valid waits for its re-check before its last answer is
# used: a database that does not answer (the pool waits its full timeout)
# must not hold up every call while the dashboard serves its snapshot.
STALE_WAIT_SECONDS = 0.1


def required_roles(method: str) -> frozenset[str] | None:
    """The roles that may call `method` (admin always may); None when open."""
    if method.startswith(OPEN):
        return None
    if method in POLICY:
        return POLICY[method]
    return POLICY.get(method[: method.rfind("/") + 1], frozenset({"admin"}))


@functools.lru_cache(maxsize=1024)
def key_digest(key: str) -> bytes:
    # Remembered: every RPC presents its key, mostly one of a few.
    return hashlib.sha256(key.encode()).digest()


def bearer(key: str) -> tuple[tuple[str, str]]:
    """Call metadata that presents `key`."""
    return (("authorization", f"Bearer {key}"),)


@dataclass(frozen=True)
class Caller:
    key_id: str
    name: str
    roles: frozenset[str]


_LOOKUP = "SELECT id, name, roles FROM api_keys WHERE key_sha256 = %s AND revoked_at IS NULL"


@dataclass
class _Entry:
    expires: float
    answer: asyncio.Future[Caller | None]
    # The previous answer for a key seen valid, and whether its re-check has
    # already kept a caller waiting STALE_WAIT_SECONDS.
    stale: Caller | None = None
    slow: bool = False


class KeyCache:
    """Key look-ups through the service's own pool, cached for `ttl` seconds.
    Concurrent calls with the same key share one query."""

    def __init__(self, pool: ServicePool, ttl: float) -> None:
        self.pool = pool
        self.ttl = ttl
        self._entries: dict[bytes, _Entry] = {}

    async def caller(self, key: str) -> Caller | None:
        digest = key_digest(key)
        now = time.monotonic()
        entry = self._entries.get(digest)
        if entry is not None and entry.expires > now and _succeeded(entry.answer):
            return entry.answer.result()  # nearly every call: nothing to wait for
        if entry is None or (entry.expires <= now and entry.answer.done()):
            stale = entry.answer.result() if entry and _succeeded(entry.answer) else None
            if len(self._entries) >= CACHE_LIMIT:
                self._entries = {d: e for d, e in self._entries.items() if e.expires > now}
                if len(self._entries) >= CACHE_LIMIT:
                    self._entries.clear()
            entry = _Entry(now + self.ttl, asyncio.ensure_future(self._fetch(digest, stale)), stale)
            self._entries[digest] = entry
        if entry.stale is not None and not entry.answer.done():
            if not entry.slow:
                await asyncio.wait({entry.answer}, timeout=STALE_WAIT_SECONDS)
                entry.slow = not entry.answer.done()
            if entry.slow:
                return entry.stale
        try:
            # Shielded: one caller cancelling must not cancel the shared look-up.
            return await asyncio.shield(entry.answer)
        except BaseException:
            if entry.answer.done() and self._entries.get(digest) is entry:
                del self._entries[digest]  # errors are not cached: the next call asks again
            raise

    async def _fetch(self, digest: bytes, stale: Caller | None) -> Caller | None:
        try:
            async with self.pool.connection() as conn:
                cur = await conn.execute(_LOOKUP, (digest,))
                row = await cur.fetchone()
        except (psycopg.OperationalError, PoolTimeout, PoolClosed):
            if stale is not None:
                return stale
            raise
        return Caller(row["id"], row["name"], frozenset(row["roles"])) if row else None


def _succeeded(answer: asyncio.Future[Caller | None]) -> bool:
    return answer.done() and not answer.cancelled() and answer.exception() is None


def _presented_key(metadata: Iterable[tuple[str, Any]] | None) -> str:
    values = [v for k, v in metadata or () if k == "authorization"]
    if not values:
        raise Unauthenticated("missing API key: send metadata 'authorization: Bearer <key>'")
    scheme, _, key = str(values[0]).partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthenticated("malformed authorization metadata: expected 'Bearer <key>'")
    return key.strip()


class Authenticator:
    """The authentication step of every RPC's handler wrapper
    (complaints/service_server.py): its refusals are answered by the
    error table there, and the RPC observer sees them with their code."""

    def __init__(self, keys: KeyCache) -> None:
        self.keys = keys

    def check_for(self, method: str) -> Callable[[Any], Awaitable[Caller]] | None:
        """The check of `method`'s callers (given the call's metadata), built
        once per method; None when the method is open."""
        needed = required_roles(method)
        if needed is None:
            return None
        allowed = needed | {"admin"}
        keys = self.keys

        async def check(metadata: Any) -> Caller:
            caller = await keys.caller(_presented_key(metadata))
            if caller is None:
                raise Unauthenticated("unknown or revoked API key")
            if not caller.roles & allowed:
                raise PermissionDenied(
                    f"API key {caller.key_id} ({caller.name}) has roles {', '.join(sorted(caller.roles))}; "
                    f"{method} needs one of {', '.join(sorted(allowed))}"
                )
            return caller

        return check
