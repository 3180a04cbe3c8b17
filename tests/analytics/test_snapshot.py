"""The dashboard snapshot and WatchDashboard, on an analytics server run in
the test's own process (the real app, on a real embedded PostgreSQL), so a
test can count the snapshot's loads: callers and watchers share one
snapshot, a change shows within the staleness bound, an unreachable database
leaves the last snapshot served with its as_of, and watchers end promptly on
shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import psycopg
import pytest

from analytics_service import app as app_module
from analytics_service.app import App, build
from analytics_service.settings import Settings
from complaints.v1 import analytics_pb2 as pb
from complaints.v1 import analytics_pb2_grpc
from ops.supervisor import Supervisor
from tests.helpers import aio_channel, eventually, in_process_env
from tests.sql import scalar


@dataclass
class Running:
    app: App
    address: str

    def stub(self, channel) -> analytics_pb2_grpc.AnalyticsServiceStub:
        return analytics_pb2_grpc.AnalyticsServiceStub(channel)


@contextlib.asynccontextmanager
async def analytics(sup: Supervisor, **env: str) -> AsyncIterator[Running]:
    """Runs the analytics app in this process with `env` settings until the block ends."""
    app = build(Settings.from_env(in_process_env(sup, "analytics", **env)))
    async with app.running():
        yield Running(app, f"127.0.0.1:{app.port}")


def execute(sup: Supervisor, statement: str, params: tuple = ()) -> None:
    with psycopg.connect(sup.admin_url, autocommit=True) as conn:
        conn.execute(statement, params)


def add_complaint(sup: Supervisor) -> None:
    """A complaint row straight into the table: its trigger bumps the counters and NOTIFYs."""
    execute(
        sup,
        "INSERT INTO complaints (id, source_system, idempotency_key, request_sha256, description)"
        " VALUES (gen_random_uuid(), 'test', gen_random_uuid()::text, '\\x00', 'x')",
    )


def bump_silently(sup: Supervisor) -> None:
    """Changes a dashboard figure without a NOTIFY: only the staleness bound brings it."""
    execute(
        sup,
        "INSERT INTO analytics_counts (dimension, key, shard, value) VALUES ('category', 'BRIBERY', 0, 1)"
        " ON CONFLICT (dimension, key, shard) DO UPDATE SET value = analytics_counts.value + 1",
    )


async def _settled(srv: Running) -> int:
    """Loads done once start-up is over: the first load, then the catch-up
    that the LISTEN connection asks for when it is established."""

    async def two() -> bool:
        return srv.app.snapshot.refreshes >= 2

    await eventually(two, what="the start-up loads")
    return srv.app.snapshot.refreshes


def _age(d: pb.Dashboard) -> float:
    return time.time() - d.as_of.ToNanoseconds() / 1e9


def _waiting_on_lock(sup: Supervisor) -> int:
    with psycopg.connect(sup.admin_url) as conn:
        return scalar(
            conn,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'analytics' AND wait_event_type = 'Lock'",
        )


async def test_callers_on_a_cold_start_wait_for_one_shared_load(database):
    lock = await psycopg.AsyncConnection.connect(database.admin_url)
    await lock.execute("LOCK TABLE analytics_counts IN ACCESS EXCLUSIVE MODE")
    async with analytics(database, ANALYTICS_STATEMENT_TIMEOUT_MS="60000") as srv, aio_channel(srv.address) as ch:
        stub = srv.stub(ch)
        calls = [asyncio.ensure_future(stub.GetDashboard(pb.GetDashboardRequest(), timeout=60)) for _ in range(50)]

        async def blocked() -> bool:
            return await asyncio.to_thread(_waiting_on_lock, database) == 1

        await eventually(blocked, what="the first load to wait on the lock")

        async def all_waiting() -> bool:
            return srv.app.snapshot.waiting == 50

        # Every call inside get() before the load ends; a late one would get the catch-up reload.
        await eventually(all_waiting, what="all fifty callers to wait for the first load")
        assert not any(c.done() for c in calls)
        assert srv.app.snapshot.refreshes == 0
        await lock.rollback()
        answers = await asyncio.gather(*calls)
        # All fifty were answered by the first load.
        assert len({a.as_of.ToNanoseconds() for a in answers}) == 1
        assert srv.app.snapshot.refreshes <= 2
    await lock.close()


async def test_a_first_load_that_fails_is_unavailable_not_a_hang(database):
    lock = await psycopg.AsyncConnection.connect(database.admin_url)
    await lock.execute("LOCK TABLE analytics_counts IN ACCESS EXCLUSIVE MODE")
    async with analytics(database, ANALYTICS_STATEMENT_TIMEOUT_MS="200") as srv, aio_channel(srv.address) as ch:
        stub = srv.stub(ch)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetDashboard(pb.GetDashboardRequest(), timeout=30)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        await lock.rollback()

        async def loaded():
            with contextlib.suppress(grpc.aio.AioRpcError):
                return await stub.GetDashboard(pb.GetDashboardRequest(), timeout=5)

        assert (await eventually(loaded, what="the dashboard after the lock")).HasField("as_of")
    await lock.close()


async def test_concurrent_callers_cause_no_query(database):
    async with analytics(database, ANALYTICS_MAX_STALENESS_SECONDS="30") as srv, aio_channel(srv.address) as ch:
        stub = srv.stub(ch)
        await stub.GetDashboard(pb.GetDashboardRequest(), timeout=10)
        before = await _settled(srv)
        answers = await asyncio.gather(*(stub.GetDashboard(pb.GetDashboardRequest(), timeout=30) for _ in range(500)))
        assert len(answers) == 500
        assert srv.app.snapshot.refreshes == before
        assert len({a.as_of.ToNanoseconds() for a in answers}) == 1


async def test_a_change_shows_by_the_staleness_bound_without_notify_and_by_notify_alone(database):
    """Which path brought a change is told apart by what else could have,
    not by how long it took (the machine may be busy)."""

    def bribery(d: pb.Dashboard) -> int:
        return {c.key: c.count for c in d.categories}.get("BRIBERY", 0)

    # No NOTIFY: only the periodic reload within the bound can bring it.
    async with analytics(database, ANALYTICS_MAX_STALENESS_SECONDS="0.5") as srv, aio_channel(srv.address) as ch:
        stub = srv.stub(ch)
        base = await stub.GetDashboard(pb.GetDashboardRequest(), timeout=10)
        await asyncio.to_thread(bump_silently, database)
        seen = await eventually(
            lambda: _having(
                lambda: stub.GetDashboard(pb.GetDashboardRequest(), timeout=10),
                lambda d: bribery(d) == bribery(base) + 1,
            ),
            60,
            "silent change",
        )
        assert seen.as_of.ToNanoseconds() > base.as_of.ToNanoseconds()
    # A bound of an hour: only the NOTIFY of a complaint's trigger can bring it.
    async with analytics(database, ANALYTICS_MAX_STALENESS_SECONDS="3600") as srv, aio_channel(srv.address) as ch:
        stub = srv.stub(ch)
        await _settled(srv)
        base = await stub.GetDashboard(pb.GetDashboardRequest(), timeout=10)
        await asyncio.to_thread(add_complaint, database)
        seen = await eventually(
            lambda: _having(
                lambda: stub.GetDashboard(pb.GetDashboardRequest(), timeout=10),
                lambda d: d.summary.total == base.summary.total + 1,
            ),
            60,
            "notified change",
        )
        assert seen.as_of.ToNanoseconds() > base.as_of.ToNanoseconds()


async def _having(fetch, predicate):
    d = await fetch()
    return d if predicate(d) else None


async def test_five_hundred_watchers_share_one_snapshot(database):
    async with analytics(database, ANALYTICS_MAX_STALENESS_SECONDS="30", ANALYTICS_WATCH_INTERVAL_MS="100") as srv:
        channels = [aio_channel(srv.address) for _ in range(5)]
        try:
            streams = [
                srv.stub(channels[i % 5]).WatchDashboard(pb.WatchDashboardRequest(), timeout=120) for i in range(500)
            ]
            first = await asyncio.gather(*(s.read() for s in streams))
            before = await _settled(srv)
            await asyncio.to_thread(add_complaint, database)
            pushed = await asyncio.gather(*(s.read() for s in streams))
            assert {d.summary.total for d in first} == {first[0].summary.total}
            assert {d.summary.total for d in pushed} == {first[0].summary.total + 1}
            # One load for the change, not one per watcher.
            assert srv.app.snapshot.refreshes - before <= 2
            for s in streams:
                s.cancel()
        finally:
            for c in channels:
                await c.close()


async def test_watchers_get_at_most_one_push_per_interval(database):
    interval = 0.3
    async with (
        analytics(
            database,
            ANALYTICS_MAX_STALENESS_SECONDS="30",
            ANALYTICS_REFRESH_DEBOUNCE_SECONDS="0.01",
            ANALYTICS_WATCH_INTERVAL_MS=str(int(interval * 1000)),
        ) as srv,
        aio_channel(srv.address) as ch,
    ):
        stream = srv.stub(ch).WatchDashboard(pb.WatchDashboardRequest(), timeout=60)
        first = await stream.read()
        changes = 60
        started = time.monotonic()
        for _ in range(changes):
            await asyncio.to_thread(add_complaint, database)
        totals: list[int] = []
        while not totals or totals[-1] != first.summary.total + changes:
            totals.append((await stream.read()).summary.total)
        elapsed = time.monotonic() - started
        stream.cancel()
    assert totals == sorted(set(totals)), "each push is a new dashboard"
    # The server waits an interval between pushes, so a slower machine can
    # only make fewer of them: a lower bound on time, never an upper one.
    assert len(totals) <= elapsed / interval + 1, (len(totals), elapsed)


async def test_watchers_end_promptly_on_shutdown(database):
    # A grace period longer than the test may run: a server that held its
    # watchers for it could not stop within the test's own time-out.
    async with contextlib.AsyncExitStack() as channels:
        async with analytics(database, ANALYTICS_GRACE_SECONDS="3600") as srv:
            ch = await channels.enter_async_context(aio_channel(srv.address))
            streams = [srv.stub(ch).WatchDashboard(pb.WatchDashboardRequest(), timeout=120) for _ in range(20)]
            await asyncio.gather(*(s.read() for s in streams))
        # The server has stopped; the watchers' streams with it.
        for s in streams:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await s.read()
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_with_the_database_down_the_last_snapshot_is_served_with_its_as_of(database):
    bound = 0.5
    async with analytics(database, ANALYTICS_MAX_STALENESS_SECONDS=str(bound)) as srv, aio_channel(srv.address) as ch:
        stub = srv.stub(ch)
        await stub.GetDashboard(pb.GetDashboardRequest(), timeout=10)
        await _settled(srv)
        await asyncio.to_thread(database.pg.stop)
        try:
            current = srv.app.snapshot.current
            assert current is not None
            held = current.as_of.ToNanoseconds()

            async def stale():
                d = await stub.GetDashboard(pb.GetDashboardRequest(), timeout=5)
                assert d.as_of.ToNanoseconds() <= held  # never a newer one while PostgreSQL is down
                return _age(d) > 4 * bound and d

            outage = await eventually(stale, 30, "the served snapshot to age past the bound")
        finally:
            await asyncio.to_thread(database.pg.start)

        async def fresh():
            d = await stub.GetDashboard(pb.GetDashboardRequest(), timeout=5)
            return d.as_of.ToNanoseconds() > outage.as_of.ToNanoseconds()

        await eventually(fresh, 60, "a fresh snapshot once PostgreSQL is back")


async def test_every_caller_and_watcher_is_sent_the_bytes_serialised_once_per_reload(database):
    async with analytics(database, ANALYTICS_MAX_STALENESS_SECONDS="30") as srv, aio_channel(srv.address) as ch:
        await _settled(srv)
        # Raw calls: the answer's bytes as they came off the wire.
        get = ch.unary_unary("/complaints.v1.AnalyticsService/GetDashboard")
        watch = ch.unary_stream("/complaints.v1.AnalyticsService/WatchDashboard")
        answers = [await get(b"", timeout=10) for _ in range(3)]
        streams = [watch(b"", timeout=10) for _ in range(3)]
        watched = [await s.read() for s in streams]
        for s in streams:
            s.cancel()
        assert set(answers) == set(watched) == {srv.app.snapshot.encoded}
        assert pb.Dashboard.FromString(answers[0]) == srv.app.snapshot.current
    # Registered without a serializer: grpc sends those bytes as they are, no encoding per call.
    handlers = app_module._Handlers()
    # The generated base class, whose methods are never called here.
    app_module._add_servicer(analytics_pb2_grpc.AnalyticsServiceServicer(), handlers)  # type: ignore[abstract]
    serializers = {name: h.response_serializer for name, h in handlers.methods.items()}
    assert serializers["GetDashboard"] is None and serializers["WatchDashboard"] is None
    assert serializers["ListComplaints"] is not None
