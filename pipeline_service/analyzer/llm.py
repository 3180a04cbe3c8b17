"""The `llm` analyzer: any OpenAI-compatible endpoint (vLLM, OpenRouter,
Ollama, llama.cpp) over httpx.

Each stage is one chat call asking for JSON that fits a schema built from the
taxonomy; an answer outside it is sent back once for correction and otherwise
refused (InvalidAnswer), so no model's free text reaches a stored category,
sector or act. Calls are bounded per replica (a semaphore), time out (15 s by
default), are retried by tenacity on timeouts, 429 and 5xx honouring
Retry-After, and go through a circuit breaker that the worker consults before
claiming. Entities come from the local gazetteer rules; embeddings from the
endpoint's /v1/embeddings when a model is set (and it gives 384 dimensions),
else from the packaged local model.
"""
from __future__ import annotations

import asyncio
import base64
import email.utils
import json
import logging
import time
from typing import Any

import httpx
import numpy as np
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from complaints import embedding as local_embedding
from complaints.metrics import observe_llm_call
from complaints.taxonomy import ACTS, CATEGORIES, SECTORS
from pipeline_service.analyzer import EndpointUnavailable, Entity, InvalidAnswer
from pipeline_service.analyzer import entities as entity_rules
from pipeline_service.analyzer.breaker import Breaker, BreakerOpen
from pipeline_service.settings import LLMSettings

log = logging.getLogger(__name__)

# Long evidence is cut: the first part of a complaint carries its substance.
MAX_INPUT_CHARS = 12_000
SUMMARY_CHARS = 600
# Times a wrong answer is sent back for correction before the attempt fails.
REPAIRS = 1
# httpx's connection pool scans all its connections for every request, which
# costs more than the request itself past a few dozen connections; calls are
# spread over several small clients instead (3x the calls per second at 64).
CONNECTIONS_PER_CLIENT = 8

SYSTEM = (
    "You analyse complaints sent to Malaysia's anti-corruption agency. Complaints may be in Malay "
    "or English. Answer with one JSON object that matches the given schema and nothing else. "
    "The complainant's own identity has been replaced by [PELAPOR]; never guess it."
)


class Transient(EndpointUnavailable):
    """One request failed in a way worth retrying."""

    def __init__(self, message: str, retry_after: float | None = None, rate_limited: bool = False,
                 outcome: str = "transport_error") -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.rate_limited = rate_limited
        # For complaints_llm_calls_total: timeout, transport_error, server_error, rate_limited.
        self.outcome = "rate_limited" if rate_limited else outcome


class Refused(Exception):
    """The endpoint refused the request (4xx): retrying the same request will not help."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _outcome(exc: BaseException) -> str:
    """How one request to the endpoint ended, as complaints_llm_calls_total counts it."""
    if isinstance(exc, Transient):
        return exc.outcome
    kinds = ((BreakerOpen, "breaker_open"), (Refused, "refused"), (InvalidAnswer, "invalid_answer"),
             (asyncio.CancelledError, "cancelled"))
    return next((name for kind, name in kinds if isinstance(exc, kind)), "error")


def _counts_against_endpoint(exc: BaseException) -> bool:
    # A rate limit means the endpoint is alive; a refused key or unknown model
    # means every call will fail, so complaints should wait, not fail.
    if isinstance(exc, Transient):
        return not exc.rate_limited
    return isinstance(exc, Refused) and exc.status in (401, 403, 404)


def _content(reply: dict[str, Any]) -> Any:
    """The JSON object in a chat answer, tolerating a Markdown code fence."""
    try:
        text = reply["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise InvalidAnswer("the answer has no choices[0].message.content") from None
    if not isinstance(text, str):
        raise InvalidAnswer("the answer's content is not text")
    text = text.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    try:
        return json.loads(text)
    except ValueError:
        raise InvalidAnswer(f"the answer is not JSON: {text[:80]!r}") from None


def _said(reply: Any) -> str:
    """What the model answered, as text, however malformed the reply."""
    try:
        return str(reply["choices"][0]["message"]["content"])[:2000]
    except (KeyError, IndexError, TypeError):
        return json.dumps(reply)[:2000] if isinstance(reply, (dict, list)) else str(reply)[:2000]


def _one_of(field: str, allowed: dict[str, str]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": [field],
            "properties": {field: {"type": "string", "enum": list(allowed)}}}


def _choices(allowed: dict[str, str]) -> str:
    return "\n".join(f"- {value}: {meaning}" for value, meaning in allowed.items())


def _pick(field: str, allowed: dict[str, str]):
    def check(answer: Any) -> str:
        value = answer.get(field) if isinstance(answer, dict) else None
        if value not in allowed:
            raise InvalidAnswer(f"{field} {str(value)[:60]!r} is not one of {', '.join(allowed)}")
        return str(value)
    return check


def _acts(answer: Any) -> list[str]:
    values = answer.get("acts") if isinstance(answer, dict) else None
    if not isinstance(values, list):
        raise InvalidAnswer("acts is not a list")
    unknown = [v for v in values if v not in ACTS]
    if unknown:
        raise InvalidAnswer(f"acts {str(unknown)[:80]} are not in the list of acts")
    return list(dict.fromkeys(values))


def _text(field: str, limit: int):
    def check(answer: Any) -> str:
        value = answer.get(field) if isinstance(answer, dict) else None
        if not isinstance(value, str):
            raise InvalidAnswer(f"{field} is not text")
        value = " ".join(value.split())
        return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"
    return check


class LLMAnalyzer:
    name = "llm"

    def __init__(self, settings: LLMSettings) -> None:
        self.settings = settings
        self.breaker = Breaker(settings.breaker_failures, settings.breaker_reset_seconds)
        self._limit = asyncio.Semaphore(settings.concurrency)
        headers = {"authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
        limits = httpx.Limits(max_connections=CONNECTIONS_PER_CLIENT, max_keepalive_connections=CONNECTIONS_PER_CLIENT)
        self._clients = [
            httpx.AsyncClient(base_url=settings.base_url.rstrip("/") + "/", headers=headers,
                              timeout=httpx.Timeout(settings.timeout_seconds), limits=limits)
            for _ in range(-(-settings.concurrency // CONNECTIONS_PER_CLIENT))
        ]
        self._busy = [0] * len(self._clients)
        self._retrying = dict(
            stop=stop_after_attempt(settings.retries + 1),
            retry=retry_if_exception_type(Transient),
            wait=self._wait,
            reraise=True,
        )
        self._backoff = wait_exponential_jitter(multiplier=0.5, max=settings.retry_max_wait_seconds)
        self._local_embeddings = not settings.embedding_model

    # -- stages -------------------------------------------------------------------

    async def category(self, text: str) -> str:
        return await self._ask(
            "category", _one_of("category", CATEGORIES),
            f"Which offence does this complaint describe? Choose exactly one:\n{_choices(CATEGORIES)}",
            text, _pick("category", CATEGORIES))

    async def sector(self, text: str) -> str:
        return await self._ask(
            "sector", _one_of("sector", SECTORS),
            f"Which sector is the body complained about in? Choose exactly one:\n{_choices(SECTORS)}",
            text, _pick("sector", SECTORS))

    async def acts(self, text: str) -> list[str]:
        schema = {"type": "object", "additionalProperties": False, "required": ["acts"],
                  "properties": {"acts": {"type": "array", "items": {"type": "string", "enum": list(ACTS)}}}}
        return await self._ask(
            "acts", schema,
            "Which of these acts and sections may apply? An empty list if none:\n" + _choices(ACTS),
            text, _acts)

    async def summary(self, text: str) -> str:
        schema = {"type": "object", "additionalProperties": False, "required": ["summary"],
                  "properties": {"summary": {"type": "string", "maxLength": SUMMARY_CHARS}}}
        return await self._ask(
            "summary", schema,
            "Summarise the complaint for an investigating officer in at most three sentences, in the "
            "complaint's language: who, what, where, when, how much.",
            text, _text("summary", SUMMARY_CHARS))

    async def entities(self, text: str) -> list[Entity]:
        return await asyncio.to_thread(entity_rules.extract, text)

    async def embedding(self, text: str) -> np.ndarray:
        if not self._local_embeddings:
            reply = await self._post("embeddings", {"model": self.settings.embedding_model, "input": text[:4000]})
            try:
                vector = np.asarray(reply["data"][0]["embedding"], dtype=np.float32)
            except (KeyError, IndexError, TypeError, ValueError):
                raise InvalidAnswer("the embeddings answer has no data[0].embedding") from None
            if vector.shape == (local_embedding.DIMENSIONS,) and np.isfinite(vector).all() and vector.any():
                return vector / np.linalg.norm(vector)
            # Mixing two models' vectors would make grouping meaningless: from
            # now on this replica embeds locally, and says so once.
            log.warning("embedding model gives %s, not %d dimensions; using the local model",
                        vector.shape, local_embedding.DIMENSIONS)
            self._local_embeddings = True
        return await asyncio.to_thread(local_embedding.passage, text)

    async def read_image(self, content: bytes, content_type: str) -> str | None:
        if not self.settings.vision_model:
            return None
        image = f"data:{content_type};base64,{base64.b64encode(content).decode()}"
        schema = {"type": "object", "additionalProperties": False, "required": ["text"],
                  "properties": {"text": {"type": "string"}}}
        payload = {
            "model": self.settings.vision_model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": [
                    {"type": "text", "text": "Transcribe all text in this evidence image, as written. "
                                             'Answer as {"text": "..."}; an empty string if it has none.'},
                    {"type": "image_url", "image_url": {"url": image}},
                ]},
            ],
            "response_format": {"type": "json_schema", "json_schema": {"name": "image_text", "strict": True,
                                                                        "schema": schema}},
        }
        return _text("text", 50_000)(_content(await self._post("chat/completions", payload)))

    async def close(self) -> None:
        await asyncio.gather(*(client.aclose() for client in self._clients))

    # -- calls --------------------------------------------------------------------

    async def _ask(self, name: str, schema: dict[str, Any], task: str, text: str, check):
        messages = [
            {"role": "system", "content": SYSTEM},
            # The complaint before the task: the four stages then share a prompt
            # prefix, which servers with prefix caching (vLLM) compute once.
            {"role": "user", "content": f"Complaint:\n<<<\n{text[:MAX_INPUT_CHARS]}\n>>>\n\n{task}"},
        ]
        payload = {
            "model": self.settings.model,
            "temperature": 0,
            "messages": messages,
            "response_format": {"type": "json_schema", "json_schema": {"name": name, "strict": True, "schema": schema}},
        }
        async for attempt in AsyncRetrying(stop=stop_after_attempt(1 + REPAIRS),
                                           retry=retry_if_exception_type(InvalidAnswer), reraise=True):
            with attempt:
                reply = await self._post("chat/completions", payload)
                try:
                    return check(_content(reply))
                except InvalidAnswer as exc:
                    # Ask again, saying what was wrong: models usually correct themselves.
                    said = _said(reply)
                    payload = {**payload, "messages": [
                        *messages,
                        {"role": "assistant", "content": said},
                        {"role": "user", "content": f"That answer is not valid: {exc}. "
                                                    "Answer again with JSON that matches the schema exactly."},
                    ]}
                    raise InvalidAnswer(f"{name}: {exc}") from None
        raise AssertionError("unreachable")

    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        return await AsyncRetrying(**self._retrying)(self._observed, path, payload)

    async def _observed(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """One attempt, counted and timed by outcome (complaints/metrics.py)."""
        begun, outcome = time.perf_counter(), "ok"
        try:
            return await self._post_once(path, payload)
        except BaseException as exc:
            outcome = _outcome(exc)
            raise
        finally:
            observe_llm_call(path, outcome, None if outcome == "breaker_open" else time.perf_counter() - begun)

    async def _post_once(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        async with self._limit, self.breaker.call(_counts_against_endpoint):
            pick = min(range(len(self._clients)), key=self._busy.__getitem__)
            self._busy[pick] += 1
            try:
                async with asyncio.timeout(self.settings.timeout_seconds):
                    response = await self._clients[pick].post(path, json=payload)
            except (TimeoutError, httpx.TimeoutException):
                raise Transient(f"{path}: no answer within {self.settings.timeout_seconds:g} s", outcome="timeout") from None
            except httpx.TransportError as exc:
                raise Transient(f"{path}: {type(exc).__name__}: {exc}"[:300]) from None
            finally:
                self._busy[pick] -= 1
            code = response.status_code
            if code == 429 or code >= 500:
                raise Transient(f"{path}: HTTP {code}", _retry_after(response.headers.get("retry-after")),
                                rate_limited=code == 429, outcome="server_error")
            if code >= 400:
                raise Refused(f"{path}: HTTP {code}: {response.text[:200]}", code)
            try:
                return response.json()
            except ValueError:
                raise InvalidAnswer(f"{path}: the body is not JSON: {response.text[:80]!r}") from None

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, Transient) and exc.retry_after is not None:
            return min(exc.retry_after, self.settings.retry_max_wait_seconds)
        return self._backoff(state)
