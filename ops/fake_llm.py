"""An OpenAI-compatible HTTP server on loopback, for tests and benchmarks.

It serves POST /v1/chat/completions (JSON answers, image parts accepted) and
POST /v1/embeddings, with scripted behaviour: a latency, errors, 429 with
Retry-After, malformed JSON, hangs, an endpoint that is down, and a gate that
holds every request until released. It records what it received, so a test
can prove what reached a model (and what never did).

    with FakeLLM(latency=0.3) as llm:
        os.environ["PIPELINE_LLM_BASE_URL"] = llm.base_url
        llm.script("analysis", status(503), status(429, retry_after=1), malformed())

It runs its own asyncio loop in a thread (no thread per request, so hundreds of
requests may wait at once), or as `python -m ops.fake_llm --port N`.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pipeline_service.settings import LLMSettings

DIMENSIONS = 384


@dataclass(frozen=True)
class Behaviour:
    """What the server does with one request instead of answering normally."""

    kind: str  # status, malformed, broken_body, hang, answer
    code: int = 200
    retry_after: float | None = None
    answer: Any = None


def status(code: int, retry_after: float | None = None) -> Behaviour:
    return Behaviour("status", code=code, retry_after=retry_after)


def malformed() -> Behaviour:
    """A 200 whose message content is not JSON."""
    return Behaviour("malformed")


def broken_body() -> Behaviour:
    """A 200 whose HTTP body is not JSON at all."""
    return Behaviour("broken_body")


def hang() -> Behaviour:
    """Never answers; the request ends only when the client gives up."""
    return Behaviour("hang")


def answer(value: Any) -> Behaviour:
    """A 200 whose message content is `value` as JSON (valid or not for the schema)."""
    return Behaviour("answer", answer=value)


@dataclass
class Received:
    path: str
    kind: str  # the JSON schema's name for a chat request, "embeddings" for /v1/embeddings
    body: dict[str, Any]
    headers: dict[str, str]
    at: float

    def text(self) -> str:
        """Everything a model would read in this request, image data included."""
        return json.dumps(self.body, ensure_ascii=False)


# A tiny default judgement so answers look like a model's; tests needing exact
# answers script them or pass their own `responder`.
_CATEGORY_WORDS = [
    ("MONEY_LAUNDERING", r"launder|pengubahan wang haram|cuci wang"),
    ("CRIMINAL_BREACH_OF_TRUST", r"pecah amanah|breach of trust|menyeleweng|misappropriat|embezzl"),
    ("FALSE_CLAIM", r"palsu|false claim|forged|fake|inflated"),
    ("ABUSE_OF_POWER", r"salah guna kuasa|abuse of power|kroni|nepotis|conflict of interest"),
    ("BRIBERY", r"rasuah|suap|brib|duit kopi|kickback|gratification"),
]
_SECTOR_WORDS = [
    ("LAW_ENFORCEMENT", r"polis|police|kastam|customs|imigresen|immigration|jpj"),
    ("LOCAL_GOVERNMENT", r"majlis|council|dbkl"),
    ("HEALTH", r"hospital|klinik|clinic"),
    ("EDUCATION", r"sekolah|school|universiti"),
    ("LAND_AND_PROPERTY", r"tanah|land"),
    ("PUBLIC_WORKS_AND_CONSTRUCTION", r"jkr|kontraktor|contractor|tender"),
]


def _pick(text: str, table: list[tuple[str, str]], default: str) -> str:
    lowered = text.lower()
    return next((label for label, words in table if re.search(words, lowered)), default)


def default_responder(kind: str, prompt: str) -> Any:
    """A valid answer for each schema the pipeline asks with."""
    if kind == "analysis":
        category = _pick(prompt, _CATEGORY_WORDS, "NOT_CORRUPTION")
        return {
            "category": category,
            "sector": _pick(prompt, _SECTOR_WORDS, "OTHER_PUBLIC_SERVICE"),
            "acts": ["MACC Act 2009 s.16", "MACC Act 2009 s.17"] if category == "BRIBERY" else [],
            "summary": " ".join(prompt.split()[-40:])[:300] or "(empty)",
            "entities": [],
        }
    if kind == "image_text":
        return {"text": "Resit bayaran RM500 kepada pegawai kastam."}
    return {}


def fake_embedding(text: str, dims: int = DIMENSIONS) -> list[float]:
    """Hashed bag of words, L2-normalised: near-identical texts get near-identical vectors."""
    vec = np.zeros(dims, dtype=np.float32)
    for word in re.findall(r"\w+", text.lower()):
        vec[int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little") % dims] += 1.0
    norm = float(np.linalg.norm(vec))
    if norm == 0:
        vec[0], norm = 1.0, 1.0
    return [round(float(x), 6) for x in vec / norm]


def _prompt_text(body: dict[str, Any]) -> str:
    parts: list[str] = []
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts += [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
    text = "\n".join(parts)
    # The pipeline puts the complaint between <<< and >>>, after the instructions.
    return text.rsplit("<<<", 1)[-1].split(">>>", 1)[0]


@dataclass
class FakeLLM:
    latency: float = 0.0
    host: str = "127.0.0.1"
    port: int = 0
    responder: Callable[[str, str], Any] = default_responder
    embedding_dims: int = DIMENSIONS
    # Every request answers 503 while true.
    down: bool = False
    requests: list[Received] = field(default_factory=list)
    max_concurrent: int = 0
    _concurrent: int = 0
    _scripts: dict[str, collections.deque[Behaviour]] = field(default_factory=dict)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _server: asyncio.base_events.Server | None = None
    _gate: asyncio.Event | None = None
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)

    # -- control, from any thread ------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def settings(self, **changes: Any) -> LLMSettings:
        """The llm analyzer's settings for this server: no retries, no vision or
        embedding model, short waits; `changes` replace any field."""
        # Here, not at the top: `python -m ops.fake_llm` needs none of the pipeline.
        from pipeline_service.settings import LLMSettings

        base = LLMSettings(
            base_url=self.base_url,
            model="test-model",
            api_key="sk-test",
            timeout_seconds=2.0,
            retries=0,
            retry_max_wait_seconds=0.05,
            concurrency=8,
            breaker_failures=5,
            breaker_reset_seconds=15.0,
            vision_model="",
            embedding_model="",
        )
        return dataclasses.replace(base, **changes)

    def script(self, kind: str, *behaviours: Behaviour) -> None:
        """Queues behaviours for the next requests of `kind` ("analysis",
        "image_text", "embeddings", or "*" for any)."""
        self._scripts.setdefault(kind, collections.deque()).extend(behaviours)

    def clear(self) -> None:
        """Forgets scripts and recorded requests; the server answers normally again."""
        self._scripts.clear()
        self.requests.clear()
        self.down = False
        self.max_concurrent = 0

    def hold(self) -> None:
        """Every request from now on waits until `release()`."""
        self._call(self._set_gate(False))

    def release(self) -> None:
        self._call(self._set_gate(True))

    @property
    def waiting(self) -> int:
        return self._concurrent

    def received(self, kind: str | None = None) -> list[Received]:
        return [r for r in list(self.requests) if kind is None or r.kind == kind]

    def start(self) -> FakeLLM:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="fake-llm", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake LLM server did not start")
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = None

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, coro: Any) -> Any:
        assert self._loop is not None, "start() the server first"
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    # -- the server, on its own loop --------------------------------------------

    def _run(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)

        async def open_server() -> None:
            self._gate = asyncio.Event()
            self._gate.set()
            self._server = await asyncio.start_server(self._connection, self.host, self.port, backlog=2048)
            self.port = self._server.sockets[0].getsockname()[1]

        self._loop.run_until_complete(open_server())
        ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def _set_gate(self, is_open: bool) -> None:
        assert self._gate is not None
        self._gate.set() if is_open else self._gate.clear()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while True:
                line = await reader.readline()
                if not line.strip():
                    break
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    key, _, value = header.decode("latin-1").partition(":")
                    headers[key.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                reply = await self._request(method, target, headers, body, reader)
                if reply is None:  # hung until the client went away
                    break
                code, payload, extra = reply
                head = [
                    f"HTTP/1.1 {code} {'OK' if code == 200 else 'Error'}",
                    "content-type: application/json",
                    f"content-length: {len(payload)}",
                    *(f"{k}: {v}" for k, v in extra.items()),
                ]
                writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _request(
        self, method: str, target: str, headers: dict[str, str], raw: bytes, reader: asyncio.StreamReader
    ) -> tuple[int, bytes, dict[str, str]] | None:
        path = target.split("?", 1)[0]
        if method != "POST" or path not in ("/v1/chat/completions", "/v1/embeddings"):
            return 404, b'{"error": {"message": "not found"}}', {}
        body = json.loads(raw or b"{}")
        if path == "/v1/embeddings":
            kind = "embeddings"
        else:
            kind = ((body.get("response_format") or {}).get("json_schema") or {}).get("name", "chat")
        self.requests.append(Received(path, kind, body, headers, time.monotonic()))
        self._concurrent += 1
        self.max_concurrent = max(self.max_concurrent, self._concurrent)
        try:
            assert self._gate is not None
            await self._gate.wait()
            if self.latency > 0:
                await asyncio.sleep(self.latency)
            behaviour = status(503) if self.down else self._next(kind)
            if behaviour is not None and behaviour.kind == "hang":
                await reader.read()  # returns when the client closes the connection
                return None
            return self._reply(kind, body, behaviour)
        finally:
            self._concurrent -= 1

    def _next(self, kind: str) -> Behaviour | None:
        for key in (kind, "*"):
            queue = self._scripts.get(key)
            if queue:
                try:
                    return queue.popleft()
                except IndexError:
                    pass
        return None

    def _reply(self, kind: str, body: dict[str, Any], behaviour: Behaviour | None) -> tuple[int, bytes, dict[str, str]]:
        if behaviour is not None and behaviour.kind == "status":
            extra = {"retry-after": f"{behaviour.retry_after:g}"} if behaviour.retry_after is not None else {}
            error = {"error": {"message": f"scripted {behaviour.code}", "code": behaviour.code}}
            return behaviour.code, json.dumps(error).encode(), extra
        if behaviour is not None and behaviour.kind == "broken_body":
            return 200, b"<html>upstream error</html>", {}
        if kind == "embeddings":
            inputs = body.get("input")
            texts = inputs if isinstance(inputs, list) else [inputs or ""]
            data = [
                {"object": "embedding", "index": i, "embedding": fake_embedding(t, self.embedding_dims)}
                for i, t in enumerate(texts)
            ]
            return 200, json.dumps({"object": "list", "data": data, "model": body.get("model", "")}).encode(), {}
        if behaviour is not None and behaviour.kind == "malformed":
            content = '{"category": "BRIBERY", oops'
        elif behaviour is not None and behaviour.kind == "answer":
            content = json.dumps(behaviour.answer)
        else:
            content = json.dumps(self.responder(kind, _prompt_text(body)))
        prompt_tokens = len(json.dumps(body.get("messages", []), ensure_ascii=False)) // 4
        reply = {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", ""),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            # Tokens as a rough 4 characters each, as a real server would report them.
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(content) // 4,
                "total_tokens": prompt_tokens + len(content) // 4,
            },
        }
        return 200, json.dumps(reply).encode(), {}


def main() -> None:
    parser = argparse.ArgumentParser(description="OpenAI-compatible fake LLM server on loopback")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    args = parser.parse_args()
    fake = FakeLLM(latency=args.latency, port=args.port).start()
    print(f"fake LLM at {fake.base_url}; Ctrl-C stops it", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
