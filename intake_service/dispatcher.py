"""Hands new complaint IDs to pipeline replicas over long-lived Dispatch streams.

The stream is only the fast path: the QUEUED row is the truth and replicas
sweep for it, so an ID that cannot be sent is simply left for the sweep.
IDs are spread round-robin over every replica currently connected. Targets
are re-resolved every few seconds, so a new replica (a new address behind a
dns:/// name, or a listed address that comes up) gets work within seconds,
and a dead one's share moves to the others as soon as its stream breaks.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import uuid

import grpc

from complaints import request_context
from complaints.auth import bearer
from complaints.cancellation import cancel_and_wait
from complaints.retry import connected, reconnecting
from complaints.v1 import pipeline_pb2, pipeline_pb2_grpc

log = logging.getLogger(__name__)

RESOLVE_SECONDS = 5.0
QUEUE_LIMIT = 10_000
# What ends a stream to a replica that is then opened again (complaints/retry.py).
_LOST = (grpc.aio.AioRpcError, asyncio.TimeoutError, OSError)


async def resolve(target: str) -> set[str]:
    """host:port addresses behind a target; dns:///name:port gives one per A record."""
    if not target.startswith("dns:///"):
        return {target}
    host, _, port = target.removeprefix("dns:///").rpartition(":")
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
    except OSError:
        return set()
    addresses = {str(info[4][0]) for info in infos}
    return {f"[{a}]:{port}" if ":" in a else f"{a}:{port}" for a in addresses}


class _Link:
    """One replica: a channel, a stream and the IDs waiting to go on it."""

    def __init__(self, address: str, metadata: tuple[tuple[str, str], ...]) -> None:
        self.address = address
        self.metadata = metadata
        self.queue: asyncio.Queue[pipeline_pb2.DispatchRequest] = asyncio.Queue(QUEUE_LIMIT)
        self.connected = False
        self.task = asyncio.create_task(self._run(), name=f"dispatch:{address}")

    async def _requests(self):
        while True:
            yield await self.queue.get()

    async def _run(self) -> None:
        async for attempt in reconnecting(retry_on=_LOST):
            with attempt:
                try:
                    async with grpc.aio.insecure_channel(self.address) as channel:
                        async with asyncio.timeout(5):  # not wait_for: complaints/cancellation.py
                            await channel.channel_ready()
                        stub = pipeline_pb2_grpc.PipelineServiceStub(channel)
                        call = stub.Dispatch(self._requests(), metadata=(*self.metadata, *request_context.outgoing()))
                        self.connected = True
                        connected(attempt)
                        log.info("dispatch stream open", extra={"fields": {"replica": self.address}})
                        async for _ack in call:
                            pass
                except _LOST as exc:
                    if self.connected:
                        log.warning(
                            "dispatch stream lost", extra={"fields": {"replica": self.address, "error": str(exc)}}
                        )
                    raise
                finally:
                    self.connected = False
                    # IDs queued for a dead replica stay QUEUED in the database; the sweep takes them.
                    while not self.queue.empty():
                        self.queue.get_nowait()

    async def close(self) -> None:
        await cancel_and_wait(self.task)


class Dispatcher:
    def __init__(self, targets: list[str], api_key: str = "") -> None:
        self.targets = targets
        # Without a key every replica refuses the stream; the sweep still takes the work.
        self.metadata = bearer(api_key) if api_key else ()
        self.links: dict[str, _Link] = {}
        self._turn = itertools.count()
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        self.left_for_sweep = 0

    async def start(self) -> None:
        await self._refresh()
        self._task = asyncio.create_task(self._resolve_forever(), name="dispatch:resolve")

    async def _refresh(self) -> None:
        wanted: set[str] = set()
        for target in self.targets:
            wanted |= await resolve(target)
        for address in wanted - self.links.keys():
            self.links[address] = _Link(address, self.metadata)
        for address in set(self.links) - wanted:
            await self.links.pop(address).close()

    async def _resolve_forever(self) -> None:
        while True:
            await asyncio.sleep(RESOLVE_SECONDS)
            try:
                await self._refresh()
            except Exception:
                log.exception("resolving pipeline targets failed")

    def offer(self, complaint_ids: list[uuid.UUID]) -> None:
        """Sends committed IDs round-robin to connected replicas; never blocks."""
        live = [link for link in self.links.values() if link.connected]
        request_id = request_context.request_id() or ""
        for cid in complaint_ids:
            if not live:
                self.left_for_sweep += 1
                continue
            link = live[next(self._turn) % len(live)]
            try:
                link.queue.put_nowait(pipeline_pb2.DispatchRequest(complaint_id=str(cid), request_id=request_id))
                self.sent += 1
            except asyncio.QueueFull:
                self.left_for_sweep += 1

    def connected(self) -> list[str]:
        return sorted(a for a, link in self.links.items() if link.connected)

    async def stop(self, _grace: float = 0) -> None:
        if self._task:
            await cancel_and_wait(self._task)
        for link in list(self.links.values()):
            await link.close()
        self.links.clear()
