"""The `llm` analyzer against a real OpenAI-compatible HTTP server on loopback
(tests/fake_llm.py): JSON answers validated against the taxonomy, retries on
timeouts, 429 and 5xx honouring Retry-After, the per-replica concurrency
limit, the circuit breaker, image parts and embeddings."""
from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator

import numpy as np
import pytest

from complaints.taxonomy import ACTS, CATEGORIES, SECTORS
from pipeline_service.analyzer import EndpointUnavailable, InvalidAnswer
from pipeline_service.analyzer.breaker import BreakerOpen
from pipeline_service.analyzer.llm import LLMAnalyzer
from pipeline_service.settings import LLMSettings
from tests.fake_llm import FakeLLM, answer, broken_body, hang, malformed, status

TEXT = "Seorang anggota polis di sekatan jalan meminta rasuah RM300 supaya saman dibatalkan."


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


@pytest.fixture(autouse=True)
def fresh(fake: FakeLLM) -> None:
    fake.clear()
    fake.latency = 0.0
    fake.embedding_dims = 384


def settings(fake: FakeLLM, **changes) -> LLMSettings:
    base = LLMSettings(
        base_url=fake.base_url, model="test-model", api_key="sk-test", timeout_seconds=2.0, retries=3,
        retry_max_wait_seconds=0.05, concurrency=16, breaker_failures=5, breaker_reset_seconds=60.0,
        vision_model="", embedding_model="",
    )
    return dataclasses.replace(base, **changes)


@pytest.fixture
async def llm(fake: FakeLLM) -> AsyncIterator[LLMAnalyzer]:
    analyzer = LLMAnalyzer(settings(fake))
    yield analyzer
    await analyzer.close()


async def test_stages_ask_for_json_in_the_taxonomy_and_return_valid_values(fake, llm):
    category, sector, acts, summary = await asyncio.gather(
        llm.category(TEXT), llm.sector(TEXT), llm.acts(TEXT), llm.summary(TEXT))
    assert (category, sector) == ("BRIBERY", "LAW_ENFORCEMENT")
    assert acts == ["MACC Act 2009 s.16", "MACC Act 2009 s.17"] and set(acts) <= set(ACTS)
    assert summary and len(summary) <= 600
    asked = {r.kind: r for r in fake.received()}
    assert set(asked) == {"category", "sector", "acts", "summary"}
    request = asked["category"]
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.body["model"] == "test-model"
    schema = request.body["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["category"]["enum"] == list(CATEGORIES)
    assert asked["sector"].body["response_format"]["json_schema"]["schema"]["properties"]["sector"]["enum"] == list(SECTORS)
    assert TEXT in request.body["messages"][-1]["content"]


async def test_an_answer_outside_the_taxonomy_is_sent_back_for_correction(fake, llm):
    fake.script("category", answer({"category": "CORRUPTION"}))
    assert await llm.category(TEXT) == "BRIBERY"
    first, second = fake.received("category")
    correction = second.body["messages"][-1]["content"]
    assert "'CORRUPTION' is not one of" in correction
    assert second.body["messages"][-2] == {"role": "assistant", "content": '{"category": "CORRUPTION"}'}


async def test_malformed_json_is_repaired_and_a_body_that_is_not_json_too(fake, llm):
    fake.script("sector", malformed())
    assert await llm.sector(TEXT) == "LAW_ENFORCEMENT"
    fake.script("acts", broken_body())
    assert await llm.acts(TEXT) == ["MACC Act 2009 s.16", "MACC Act 2009 s.17"]


async def test_an_answer_that_stays_invalid_fails_clearly_and_stores_no_free_text(fake, llm):
    fake.script("category", answer({"category": "Rasuah besar"}), answer("BRIBERY please"))
    with pytest.raises(InvalidAnswer, match="category"):
        await llm.category(TEXT)
    fake.script("acts", answer({"acts": ["MACC Act 2009 s.16", "Akta Hasutan"]}), answer({"acts": ["Akta Hasutan"]}))
    with pytest.raises(InvalidAnswer, match="Akta Hasutan"):
        await llm.acts(TEXT)


async def test_5xx_is_retried_and_a_retry_after_on_429_is_honoured(fake):
    analyzer = LLMAnalyzer(settings(fake, retry_max_wait_seconds=5))
    try:
        fake.script("category", status(502), status(429, retry_after=1))
        assert await analyzer.category(TEXT) == "BRIBERY"
        times = [r.at for r in fake.received("category")]
        assert len(times) == 3
        assert times[2] - times[1] >= 1.0, "the retry came before Retry-After allowed"
    finally:
        await analyzer.close()


async def test_a_hung_call_times_out_and_is_retried(fake):
    analyzer = LLMAnalyzer(settings(fake, timeout_seconds=0.3))
    try:
        fake.script("summary", hang())
        assert await analyzer.summary(TEXT)
        assert len(fake.received("summary")) == 2
    finally:
        await analyzer.close()


async def test_retries_give_up_with_an_endpoint_error(fake):
    analyzer = LLMAnalyzer(settings(fake, retries=2))
    try:
        fake.script("category", status(503), status(503), status(503))
        with pytest.raises(EndpointUnavailable, match="HTTP 503"):
            await analyzer.category(TEXT)
        assert len(fake.received("category")) == 3
    finally:
        await analyzer.close()


async def test_calls_in_flight_never_exceed_the_replicas_limit(fake):
    analyzer = LLMAnalyzer(settings(fake, concurrency=4))
    fake.latency = 0.05
    try:
        answers = await asyncio.gather(*(analyzer.category(TEXT) for _ in range(24)))
        assert answers == ["BRIBERY"] * 24
        assert fake.max_concurrent == 4
    finally:
        await analyzer.close()


async def test_the_breaker_opens_when_the_endpoint_is_down_and_closes_when_it_is_back(fake):
    analyzer = LLMAnalyzer(settings(fake, retries=0, breaker_failures=3, breaker_reset_seconds=0.5))
    try:
        fake.down = True
        for _ in range(3):
            with pytest.raises(EndpointUnavailable):
                await analyzer.category(TEXT)
        assert analyzer.breaker.state == "open"
        assert not analyzer.breaker.allows_claims()
        sent = len(fake.received())
        with pytest.raises(BreakerOpen):
            await analyzer.category(TEXT)
        assert len(fake.received()) == sent, "an open circuit must not call the endpoint"

        fake.down = False
        await asyncio.sleep(0.6)  # the reset period is the behaviour under test
        assert analyzer.breaker.state == "half_open" and analyzer.breaker.allows_claims()
        # One probe goes first; the calls behind it wait for its outcome and then pass.
        assert await asyncio.gather(*(analyzer.sector(TEXT) for _ in range(5))) == ["LAW_ENFORCEMENT"] * 5
        assert analyzer.breaker.state == "closed"
    finally:
        await analyzer.close()


async def test_a_failed_probe_opens_the_circuit_again(fake):
    analyzer = LLMAnalyzer(settings(fake, retries=0, breaker_failures=1, breaker_reset_seconds=0.3))
    try:
        fake.down = True
        with pytest.raises(EndpointUnavailable):
            await analyzer.category(TEXT)
        await asyncio.sleep(0.35)
        results = await asyncio.gather(*(analyzer.category(TEXT) for _ in range(4)), return_exceptions=True)
        assert all(isinstance(r, EndpointUnavailable) for r in results)
        assert sum(not isinstance(r, BreakerOpen) for r in results) == 1, "only the probe reaches the endpoint"
        assert analyzer.breaker.state == "open"
    finally:
        await analyzer.close()


async def test_a_refused_key_counts_against_the_endpoint_but_a_rate_limit_does_not(fake):
    analyzer = LLMAnalyzer(settings(fake, retries=0, breaker_failures=2))
    try:
        fake.script("category", status(429), status(429), status(429))
        for _ in range(3):
            with pytest.raises(EndpointUnavailable):
                await analyzer.category(TEXT)
        assert analyzer.breaker.state == "closed"
        fake.script("category", status(401), status(401))
        for _ in range(2):
            with pytest.raises(Exception, match="HTTP 401"):
                await analyzer.category(TEXT)
        assert analyzer.breaker.state == "open"
    finally:
        await analyzer.close()


async def test_images_go_to_the_vision_model_as_image_parts(fake, llm):
    png = b"\x89PNG\r\n\x1a\n fake image bytes"
    assert await llm.read_image(png, "image/png") is None, "no vision model set: OCR only"
    assert fake.received() == []

    analyzer = LLMAnalyzer(settings(fake, vision_model="test-vision"))
    try:
        assert await analyzer.read_image(png, "image/png") == "Resit bayaran RM500 kepada pegawai kastam."
        (request,) = fake.received("image_text")
        assert request.body["model"] == "test-vision"
        parts = request.body["messages"][-1]["content"]
        image = next(p for p in parts if p["type"] == "image_url")
        assert image["image_url"]["url"].startswith("data:image/png;base64,iVBORw0KGgo")
    finally:
        await analyzer.close()


async def test_embeddings_come_from_the_endpoint_or_from_the_local_model_when_they_do_not_fit(fake):
    analyzer = LLMAnalyzer(settings(fake, embedding_model="test-embed"))
    try:
        vector = await analyzer.embedding(TEXT)
        assert vector.shape == (384,) and abs(float(np.linalg.norm(vector)) - 1) < 1e-5
        assert fake.received("embeddings")[0].body == {"model": "test-embed", "input": TEXT}

        fake.embedding_dims = 768
        local = await analyzer.embedding(TEXT)
        assert local.shape == (384,)
        sent = len(fake.received("embeddings"))
        await analyzer.embedding(TEXT)
        assert len(fake.received("embeddings")) == sent, "after a misfit the replica stays on the local model"
    finally:
        await analyzer.close()
