"""API-key authentication for all three services, and the one table of which
role may call which RPC.

Callers send `authorization: Bearer <key>` metadata. Keys are looked up by
their sha256 in `api_keys` (migration 004) and the answer cached, by the
metadata value presented, for AUTH_CACHE_SECONDS (default 2 s), so a revoked
key stops working within that bound while the database is reachable. While it is not, a key already seen valid keeps
working (the dashboard serves its last snapshot through an outage); an unseen
key gets UNAVAILABLE. Health checks and reflection stay open for probes.
A key is never logged: only its ID.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterable
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


def key_digest(key: str) -> bytes:
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
    # The answer once it has named a caller: what known() hands out.
    found: Caller | None = None

    def __post_init__(self) -> None:
        self.answer.add_done_callback(self._found)

    def _found(self, answer: asyncio.Future[Caller | None]) -> None:
        if _succeeded(answer):
            self.found = answer.result()


class KeyCache:
    """Key look-ups through the service's own pool, cached for `ttl` seconds
    by the authorization metadata value presented (so a call presenting a
    key already answered neither parses nor hashes it). Concurrent calls
    with the same value share one query."""

    def __init__(self, pool: ServicePool, ttl: float) -> None:
        self.pool = pool
        self.ttl = ttl
        self._entries: dict[str, _Entry] = {}

    def known(self, presented: str | None) -> Caller | None:
        """The caller a fresh cached answer names for this authorization
        value; None when caller() must be asked (nearly every call: not)."""
        entry = self._entries.get(presented) if presented is not None else None
        if entry is not None and entry.found is not None and entry.expires > time.monotonic():
            return entry.found
        return None

    async def caller(self, presented: str | None) -> Caller | None:
        """The caller whose key this authorization value presents; None for
        an unknown or revoked key."""
        key = _key_in(presented)
        assert presented is not None  # _key_in refuses a missing value
        now = time.monotonic()
        entry = self._entries.get(presented)
        if entry is not None and entry.expires > now and _succeeded(entry.answer):
            return entry.answer.result()
        if entry is None or (entry.expires <= now and entry.answer.done()):
            stale = entry.answer.result() if entry and _succeeded(entry.answer) else None
            if len(self._entries) >= CACHE_LIMIT:
                self._entries = {p: e for p, e in self._entries.items() if e.expires > now}
                if len(self._entries) >= CACHE_LIMIT:
                    self._entries.clear()
            entry = _Entry(now + self.ttl, asyncio.ensure_future(self._fetch(key_digest(key), stale)), stale)
            self._entries[presented] = entry
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
            if entry.answer.done() and self._entries.get(presented) is entry:
                del self._entries[presented]  # errors are not cached: the next call asks again
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


def _presented(metadata: Iterable[tuple[str, Any]] | None) -> str | None:
    """The call's authorization metadata value, if any (the first one)."""
    for key, value in metadata or ():
        if key == "authorization":
            return str(value)
    return None


def _key_in(presented: str | None) -> str:
    if presented is None:
        raise Unauthenticated("missing API key: send metadata 'authorization: Bearer <key>'")
    scheme, _, key = presented.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthenticated("malformed authorization metadata: expected 'Bearer <key>'")
    return key.strip()


class MethodCheck:
    """The check of one method's callers, given a call's metadata."""

    def __init__(self, method: str, allowed: frozenset[str], keys: KeyCache) -> None:
        self.method = method
        self.allowed = allowed
        self.keys = keys

    def admits(self, metadata: Iterable[tuple[str, Any]] | None) -> bool:
        """True when the key presented is one a fresh cached answer names,
        with a role allowed here: nothing to ask or wait for, no coroutine
        (nearly every call). Otherwise the call awaits the check itself."""
        caller = self.keys.known(_presented(metadata))
        return caller is not None and not caller.roles.isdisjoint(self.allowed)

    async def __call__(self, metadata: Iterable[tuple[str, Any]] | None) -> Caller:
        caller = await self.keys.caller(_presented(metadata))
        if caller is None:
            raise Unauthenticated("unknown or revoked API key")
        if caller.roles.isdisjoint(self.allowed):
            raise PermissionDenied(
                f"API key {caller.key_id} ({caller.name}) has roles {', '.join(sorted(caller.roles))}; "
                f"{self.method} needs one of {', '.join(sorted(self.allowed))}"
            )
        return caller


class Authenticator:
    """The authentication step of every RPC's handler wrapper
    (complaints/service_server.py): its refusals are answered by the
    error table there, and the RPC observer sees them with their code."""

    def __init__(self, keys: KeyCache) -> None:
        self.keys = keys

    def check_for(self, method: str) -> MethodCheck | None:
        """The check of `method`'s callers, built once per method; None when
        the method is open."""
        needed = required_roles(method)
        if needed is None:
            return None
        return MethodCheck(method, needed | {"admin"}, self.keys)
