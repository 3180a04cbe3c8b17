"""The `llm` analyzer: any OpenAI-compatible endpoint (vLLM, OpenRouter,
Ollama, llama.cpp) over httpx.

A complaint is analysed in one chat call asking for JSON that fits a schema
built from the taxonomy (category, sector, acts, summary, entities), with a
few labelled train-split complaints as earlier turns. An answer outside the
schema is sent back once for correction; a field still invalid then is taken
from the local model, and an answer that is no JSON object at all fails the
attempt (InvalidAnswer), so no model's free text reaches a stored category,
sector or act. Calls are bounded per replica (a semaphore), time out (15 s by
default), are retried by tenacity on timeouts, 429 and 5xx honouring
Retry-After, and go through a circuit breaker that the worker consults before
claiming. Entities are the local rules' and those the model names that the
text contains; embeddings come from the endpoint's /v1/embeddings when a
model is set (and it gives 384 dimensions), else from the packaged local
model, which the local classifier always uses.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import email.utils
import json
import logging
import time
from typing import Any

import httpx
import numpy as np
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from complaints import embedding as local_embedding
from complaints.metrics import LLM_TOKENS, observe_llm_call
from complaints.taxonomy import ACTS, CATEGORIES, SECTORS
from pipeline_service.analyzer import Analysis, EndpointUnavailable, Entity, InvalidAnswer, local, model
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

    def __init__(
        self,
        message: str,
        retry_after: float | None = None,
        rate_limited: bool = False,
        outcome: str = "transport_error",
    ) -> None:
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
    kinds = (
        (BreakerOpen, "breaker_open"),
        (Refused, "refused"),
        (InvalidAnswer, "invalid_answer"),
        (asyncio.CancelledError, "cancelled"),
    )
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


def _choices(allowed: dict[str, str]) -> str:
    return "\n".join(f"- {value}: {meaning}" for value, meaning in allowed.items())


ANALYSIS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["category", "sector", "acts", "summary", "entities"],
    "properties": {
        "category": {"type": "string", "enum": list(CATEGORIES)},
        "sector": {"type": "string", "enum": list(SECTORS)},
        "acts": {"type": "array", "items": {"type": "string", "enum": list(ACTS)}},
        "summary": {"type": "string", "maxLength": SUMMARY_CHARS},
        "entities": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["type", "value"],
                "properties": {
                    "type": {"type": "string", "enum": list(entity_rules.TYPES)},
                    "value": {"type": "string"},
                },
            },
        },
    },
}
TASK = (
    "Analyse this complaint. Answer with:\n"
    f"category: the offence it describes, exactly one of:\n{_choices(CATEGORIES)}\n"
    f"sector: where the body complained about sits, exactly one of:\n{_choices(SECTORS)}\n"
    f"acts: the acts and sections that may apply (an empty list if none), from:\n{_choices(ACTS)}\n"
    "summary: at most three sentences for an investigating officer, in the complaint's language: "
    "who, what, where, when, how much.\n"
    "entities: people, agencies, companies, amounts, phones, IC numbers, vehicle plates, dates and "
    "places named in it, each value as written."
)


def prompt_prefix() -> list[dict[str, str]]:
    """What every analysis request starts with, the same for every complaint
    (so servers with prefix caching, such as vLLM, compute it once): the
    instructions, then labelled train-split complaints as earlier turns, so
    the model sees how the categories are drawn (model.json's examples, chosen
    by make train). Nothing of any complainant is in it."""
    out = [{"role": "system", "content": f"{SYSTEM}\n\n{TASK}"}]
    for example in model.load().examples:
        out.append({"role": "user", "content": f"Complaint:\n<<<\n{example['text']}\n>>>"})
        out.append(
            {
                "role": "assistant",
                "content": json.dumps(
                    {"category": example["category"], "sector": example["sector"]}, ensure_ascii=False
                ),
            }
        )
    return out


def _object(reply: Any) -> dict[str, Any]:
    answer = _content(reply)
    if not isinstance(answer, dict):
        raise InvalidAnswer("the answer is not a JSON object")
    return answer


def _problems(answer: dict[str, Any]) -> list[str]:
    problems = []
    for field, allowed in (("category", CATEGORIES), ("sector", SECTORS)):
        if answer.get(field) not in allowed:
            problems.append(f"{field} {str(answer.get(field))[:60]!r} is not one of {', '.join(allowed)}")
    acts = answer.get("acts")
    if not isinstance(acts, list) or any(a not in ACTS for a in acts):
        problems.append(f"acts {str(acts)[:80]} are not all in the list of acts")
    if not isinstance(answer.get("summary"), str):
        problems.append("summary is not text")
    return problems


def _choice(answer: dict[str, Any], field: str, allowed: dict[str, str]) -> str | None:
    value = answer.get(field)
    return value if isinstance(value, str) and value in allowed else None


def _acts(answer: dict[str, Any]) -> list[str] | None:
    values = answer.get("acts")
    if not isinstance(values, list) or any(v not in ACTS for v in values):
        return None
    return list(dict.fromkeys(values))


def _text(answer: dict[str, Any], field: str, limit: int) -> str | None:
    value = answer.get(field)
    if not isinstance(value, str) or not value.strip():
        return None
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def _entities(answer: dict[str, Any], text: str, found: list[Entity]) -> list[Entity]:
    """The rules' entities, and those the model names that the text really
    contains (a model's guess that is not in the text is dropped)."""
    out = list(found)
    lowered = text.lower()
    for item in answer.get("entities") or []:
        if not isinstance(item, dict):
            continue
        kind, value = item.get("type"), item.get("value")
        if kind in entity_rules.TYPES and isinstance(value, str) and value.strip() and value.lower() in lowered:
            out.append(Entity(kind, " ".join(value.split())[:200]))
    return list(dict.fromkeys(out))


def _local_answer(text: str, vector: np.ndarray, e5: bool) -> tuple[Analysis, local.Probabilities]:
    """The local analysis, and its calibrated probability of every category
    and sector (from the heads fitted without the embedding unless `vector`
    is the local e5 one)."""
    probabilities = local.probabilities(text, vector if e5 else None)
    return local.analyse(text, vector, known=probabilities), probabilities


class LLMAnalyzer:
    name = "llm"

    def __init__(self, settings: LLMSettings) -> None:
        self.settings = settings
        self.breaker = Breaker(settings.breaker_failures, settings.breaker_reset_seconds)
        self._limit = asyncio.Semaphore(settings.concurrency)
        headers = {"authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
        limits = httpx.Limits(max_connections=CONNECTIONS_PER_CLIENT, max_keepalive_connections=CONNECTIONS_PER_CLIENT)
        self._clients = [
            httpx.AsyncClient(
                base_url=settings.base_url.rstrip("/") + "/",
                headers=headers,
                timeout=httpx.Timeout(settings.timeout_seconds),
                limits=limits,
            )
            for _ in range(-(-settings.concurrency // CONNECTIONS_PER_CLIENT))
        ]
        self._busy = [0] * len(self._clients)
        self._retrying: dict[str, Any] = dict(
            stop=stop_after_attempt(settings.retries + 1),
            retry=retry_if_exception_type(Transient),
            wait=self._wait,
            reraise=True,
        )
        self._backoff = wait_exponential_jitter(multiplier=0.5, max=settings.retry_max_wait_seconds)
        self._local_embeddings = not settings.embedding_model
        # Successful requests and reported tokens since start (make eval reports them per complaint).
        self.usage: collections.Counter[str] = collections.Counter()

    # -- the analysis ---------------------------------------------------------------

    async def analyse(self, text: str) -> Analysis:
        """One structured call for category, sector, acts, summary and entities;
        the local model's answer stands in for any field the model cannot give,
        and its calibrated probability of the model's category and sector is
        their confidence (so an answer the local model doubts goes to review)."""
        vector, e5 = await self._embedding(text)
        fallback, probabilities = await asyncio.to_thread(_local_answer, text, vector, e5)
        answer = await self._ask(text)
        category = _choice(answer, "category", CATEGORIES)
        sector = _choice(answer, "sector", SECTORS)
        missing = [name for name, value in (("category", category), ("sector", sector)) if value is None]
        category = category or fallback.category
        sector = sector or fallback.sector
        acts = _acts(answer)
        if acts is None:
            missing.append("acts")
            acts = local.acts(text, category)
        summary = _text(answer, "summary", SUMMARY_CHARS)
        if summary is None:
            missing.append("summary")
            summary = fallback.summary
        if missing:
            log.warning(
                "the model's answer lacked valid fields; the local answer stands in",
                extra={"fields": {"missing": ",".join(missing)}},
            )
        category_confidence = probabilities[0][category]
        sector_confidence = probabilities[1][sector]
        return Analysis(
            category,
            sector,
            acts,
            summary,
            _entities(answer, text, fallback.entities),
            vector,
            self.name,
            category_confidence,
            sector_confidence,
            local.needs_review(category_confidence, sector_confidence),
        )

    async def _embedding(self, text: str) -> tuple[np.ndarray, bool]:
        """The text's vector, and whether it is the local e5 one (said with the
        vector: another call may switch the replica to e5 meanwhile)."""
        if not self._local_embeddings:
            reply = await self._post("embeddings", {"model": self.settings.embedding_model, "input": text[:4000]})
            try:
                vector = np.asarray(reply["data"][0]["embedding"], dtype=np.float32)
            except (KeyError, IndexError, TypeError, ValueError):
                raise InvalidAnswer("the embeddings answer has no data[0].embedding") from None
            if vector.shape == (local_embedding.DIMENSIONS,) and np.isfinite(vector).all() and vector.any():
                return vector / np.linalg.norm(vector), False
            # Mixing two models' vectors would make grouping meaningless: from
            # now on this replica embeds locally, and says so once.
            log.warning(
                "embedding model gives %s, not %d dimensions; using the local model",
                vector.shape,
                local_embedding.DIMENSIONS,
            )
            self._local_embeddings = True
        return await asyncio.to_thread(local_embedding.passage, text), True

    async def read_image(self, content: bytes, content_type: str) -> str | None:
        if not self.settings.vision_model:
            return None
        image = f"data:{content_type};base64,{base64.b64encode(content).decode()}"
        schema = {
            "type": "object",
            "additionalProperties": False,
            "required": ["text"],
            "properties": {"text": {"type": "string"}},
        }
        payload = {
            "model": self.settings.vision_model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": SYSTEM},
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "text",
                            "text": "Transcribe all text in this evidence image, as written. "
                            'Answer as {"text": "..."}; an empty string if it has none.',
                        },
                        {"type": "image_url", "image_url": {"url": image}},
                    ],
                },
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "image_text", "strict": True, "schema": schema},
            },
        }
        answer = _object(await self._post("chat/completions", payload))
        if not isinstance(answer.get("text"), str):
            raise InvalidAnswer("the image answer's text is not text")
        return _text(answer, "text", 50_000) or ""

    async def close(self) -> None:
        await asyncio.gather(*(client.aclose() for client in self._clients))

    # -- calls --------------------------------------------------------------------

    async def _ask(self, text: str) -> dict[str, Any]:
        """The model's answer as a JSON object; an answer that is not one, or
        misses a required field, is sent back once for correction."""
        messages = [*prompt_prefix(), {"role": "user", "content": f"Complaint:\n<<<\n{text[:MAX_INPUT_CHARS]}\n>>>"}]
        payload = {
            "model": self.settings.model,
            "temperature": 0,
            "messages": messages,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "analysis", "strict": True, "schema": ANALYSIS_SCHEMA},
            },
        }
        answer: dict[str, Any] = {}
        for attempt in range(1 + REPAIRS):
            reply: Any = None
            try:
                reply = await self._post("chat/completions", payload)
                answer = _object(reply)
                problems = _problems(answer)
            except InvalidAnswer as exc:
                if attempt == REPAIRS:
                    raise
                problems = [str(exc)]
            if not problems:
                return answer
            if attempt < REPAIRS:
                # Ask again, saying what was wrong: models usually correct themselves.
                payload = {
                    **payload,
                    "messages": [
                        *messages,
                        {"role": "assistant", "content": _said(reply)},
                        {
                            "role": "user",
                            "content": f"That answer is not valid: {'; '.join(problems)}. "
                            "Answer again with JSON that matches the schema exactly.",
                        },
                    ],
                }
        return answer

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
                raise Transient(
                    f"{path}: no answer within {self.settings.timeout_seconds:g} s", outcome="timeout"
                ) from None
            except httpx.TransportError as exc:
                raise Transient(f"{path}: {type(exc).__name__}: {exc}"[:300]) from None
            finally:
                self._busy[pick] -= 1
            code = response.status_code
            if code == 429 or code >= 500:
                raise Transient(
                    f"{path}: HTTP {code}",
                    _retry_after(response.headers.get("retry-after")),
                    rate_limited=code == 429,
                    outcome="server_error",
                )
            if code >= 400:
                raise Refused(f"{path}: HTTP {code}: {response.text[:200]}", code)
            try:
                body = response.json()
            except ValueError:
                raise InvalidAnswer(f"{path}: the body is not JSON: {response.text[:80]!r}") from None
            self._count(path, body)
            return body

    def _count(self, path: str, body: Any) -> None:
        """Calls and the tokens the endpoint reports, for metrics and `usage`."""
        self.usage["calls"] += 1
        self.usage[f"calls:{path}"] += 1
        usage = body.get("usage") if isinstance(body, dict) else None
        if isinstance(usage, dict):
            for kind in ("prompt", "completion"):
                tokens = usage.get(f"{kind}_tokens")
                if isinstance(tokens, int) and tokens >= 0:
                    self.usage[f"{kind}_tokens"] += tokens
                    LLM_TOKENS.labels(kind).inc(tokens)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, Transient) and exc.retry_after is not None:
            return min(exc.retry_after, self.settings.retry_max_wait_seconds)
        return self._backoff(state)
