"""The `llm` analyzer against a real OpenAI-compatible HTTP server on loopback
(ops/fake_llm.py): one structured call per complaint, JSON answers validated
against the taxonomy with the local model standing in for a bad field, retries on
timeouts, 429 and 5xx honouring Retry-After, the per-replica concurrency
limit, the circuit breaker, image parts and embeddings."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator

import numpy as np
import pytest

from complaints import embedding as local_embedding
from complaints.taxonomy import ACTS, CATEGORIES, SECTORS
from ops.fake_llm import FakeLLM, answer, broken_body, hang, malformed, status
from pipeline_service.analyzer import EndpointUnavailable, InvalidAnswer
from pipeline_service.analyzer import local as local_analyzer
from pipeline_service.analyzer.breaker import BreakerOpen
from pipeline_service.analyzer.llm import LLMAnalyzer
from pipeline_service.settings import LLMSettings

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
    return fake.settings(**{"retries": 3, "concurrency": 16, "breaker_reset_seconds": 60.0, **changes})


@pytest.fixture
async def llm(fake: FakeLLM) -> AsyncIterator[LLMAnalyzer]:
    analyzer = LLMAnalyzer(settings(fake))
    yield analyzer
    await analyzer.close()


async def category(analyzer: LLMAnalyzer) -> str:
    return (await analyzer.analyse(TEXT)).category


async def test_one_call_asks_for_the_whole_analysis_as_json_in_the_taxonomy(fake, llm):
    result = await llm.analyse(TEXT)
    assert (result.category, result.sector) == ("BRIBERY", "LAW_ENFORCEMENT")
    assert result.acts == ["MACC Act 2009 s.16", "MACC Act 2009 s.17"] and set(result.acts) <= set(ACTS)
    assert result.summary and len(result.summary) <= 600
    assert 0 < result.category_confidence <= 1 and 0 < result.sector_confidence <= 1
    (request,) = fake.received()
    assert request.kind == "analysis", "one structured call per complaint, not one per stage"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.body["model"] == "test-model"
    schema = request.body["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["category"]["enum"] == list(CATEGORIES)
    assert schema["properties"]["sector"]["enum"] == list(SECTORS)
    assert TEXT in request.body["messages"][-1]["content"]
    # Labelled train-split complaints come first, as earlier turns with their answers.
    examples = request.body["messages"][1:-1]
    assert len(examples) >= 8 and [m["role"] for m in examples[:2]] == ["user", "assistant"]
    assert {json.loads(m["content"])["category"] for m in examples if m["role"] == "assistant"} == set(CATEGORIES)
    assert llm.usage["calls"] == 1 and llm.usage["prompt_tokens"] > 0


async def test_an_answer_outside_the_taxonomy_is_sent_back_for_correction(fake, llm):
    fake.script(
        "analysis",
        answer({"category": "CORRUPTION", "sector": "LAW_ENFORCEMENT", "acts": [], "summary": "s", "entities": []}),
    )
    assert await category(llm) == "BRIBERY"
    _, second = fake.received("analysis")
    correction = second.body["messages"][-1]["content"]
    assert "'CORRUPTION' is not one of" in correction
    assert json.loads(second.body["messages"][-2]["content"])["category"] == "CORRUPTION"


async def test_malformed_json_is_repaired_and_a_body_that_is_not_json_too(fake, llm):
    fake.script("analysis", malformed())
    assert (await llm.analyse(TEXT)).sector == "LAW_ENFORCEMENT"
    fake.script("analysis", broken_body())
    assert (await llm.analyse(TEXT)).acts == ["MACC Act 2009 s.16", "MACC Act 2009 s.17"]


async def test_a_field_that_stays_invalid_is_taken_from_the_local_model(fake, llm):
    wrong = {
        "category": "Rasuah besar",
        "sector": "LAW_ENFORCEMENT",
        "acts": ["Akta Hasutan"],
        "summary": "Polis minta duit.",
        "entities": [{"type": "AMOUNT", "value": "RM300"}, {"type": "PERSON", "value": "Invented Name"}],
    }
    fake.script("analysis", answer(wrong), answer(wrong))
    result = await llm.analyse(TEXT)
    assert result.category == "BRIBERY", "the local model's category stands in"
    assert "Akta Hasutan" not in result.acts and result.acts
    assert result.summary == "Polis minta duit."
    assert ("AMOUNT", "RM300") in {(e.type, e.value) for e in result.entities}
    assert "Invented Name" not in {e.value for e in result.entities}, "a name not in the text is dropped"


async def test_an_answer_that_stays_unusable_fails_clearly_and_stores_no_free_text(fake, llm):
    fake.script("analysis", answer("BRIBERY please"), answer(["BRIBERY"]))
    with pytest.raises(InvalidAnswer, match="not a JSON object"):
        await llm.analyse(TEXT)


async def test_5xx_is_retried_and_a_retry_after_on_429_is_honoured(fake):
    analyzer = LLMAnalyzer(settings(fake, retry_max_wait_seconds=5))
    try:
        fake.script("analysis", status(502), status(429, retry_after=1))
        assert await category(analyzer) == "BRIBERY"
        times = [r.at for r in fake.received("analysis")]
        assert len(times) == 3
        assert times[2] - times[1] >= 1.0, "the retry came before Retry-After allowed"
    finally:
        await analyzer.close()


async def test_a_hung_call_times_out_and_is_retried(fake):
    analyzer = LLMAnalyzer(settings(fake, timeout_seconds=0.3))
    try:
        fake.script("analysis", hang())
        assert (await analyzer.analyse(TEXT)).summary
        assert len(fake.received("analysis")) == 2
    finally:
        await analyzer.close()


async def test_retries_give_up_with_an_endpoint_error(fake):
    analyzer = LLMAnalyzer(settings(fake, retries=2))
    try:
        fake.script("analysis", status(503), status(503), status(503))
        with pytest.raises(EndpointUnavailable, match="HTTP 503"):
            await category(analyzer)
        assert len(fake.received("analysis")) == 3
    finally:
        await analyzer.close()


async def test_calls_in_flight_never_exceed_the_replicas_limit(fake):
    analyzer = LLMAnalyzer(settings(fake, concurrency=4))
    fake.latency = 0.05
    try:
        answers = await asyncio.gather(*(category(analyzer) for _ in range(24)))
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
                await category(analyzer)
        assert analyzer.breaker.state == "open"
        assert not analyzer.breaker.allows_claims()
        sent = len(fake.received())
        with pytest.raises(BreakerOpen):
            await category(analyzer)
        assert len(fake.received()) == sent, "an open circuit must not call the endpoint"

        fake.down = False
        await asyncio.sleep(0.6)  # the reset period is the behaviour under test
        assert analyzer.breaker.state == "half_open" and analyzer.breaker.allows_claims()
        # One probe goes first; the calls behind it wait for its outcome and then pass.
        assert [r.sector for r in await asyncio.gather(*(analyzer.analyse(TEXT) for _ in range(5)))] == [
            "LAW_ENFORCEMENT"
        ] * 5
        assert analyzer.breaker.state == "closed"
    finally:
        await analyzer.close()


async def test_a_failed_probe_opens_the_circuit_again(fake):
    analyzer = LLMAnalyzer(settings(fake, retries=0, breaker_failures=1, breaker_reset_seconds=0.3))
    try:
        fake.down = True
        with pytest.raises(EndpointUnavailable):
            await category(analyzer)
        await asyncio.sleep(0.35)
        results = await asyncio.gather(*(category(analyzer) for _ in range(4)), return_exceptions=True)
        assert all(isinstance(r, EndpointUnavailable) for r in results)
        assert sum(not isinstance(r, BreakerOpen) for r in results) == 1, "only the probe reaches the endpoint"
        assert analyzer.breaker.state == "open"
    finally:
        await analyzer.close()


async def test_a_refused_key_counts_against_the_endpoint_but_a_rate_limit_does_not(fake):
    analyzer = LLMAnalyzer(settings(fake, retries=0, breaker_failures=2))
    try:
        fake.script("analysis", status(429), status(429), status(429))
        for _ in range(3):
            with pytest.raises(EndpointUnavailable):
                await category(analyzer)
        assert analyzer.breaker.state == "closed"
        fake.script("analysis", status(401), status(401))
        for _ in range(2):
            with pytest.raises(Exception, match="HTTP 401"):
                await category(analyzer)
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
        result = await analyzer.analyse(TEXT)
        vector = result.embedding
        assert vector.shape == (384,) and abs(float(np.linalg.norm(vector)) - 1) < 1e-5
        assert fake.received("embeddings")[0].body == {"model": "test-embed", "input": TEXT}
        # The endpoint's vector is not the local e5 one the classifier saw: the
        # confidence comes from the heads fitted without the embedding.
        from_text = local_analyzer.probabilities(TEXT, None)
        assert result.category_confidence == pytest.approx(from_text[0][result.category])
        assert result.sector_confidence == pytest.approx(from_text[1][result.sector])
        assert from_text != local_analyzer.probabilities(TEXT, local_embedding.passage(TEXT))

        fake.embedding_dims = 768
        local = (await analyzer.analyse(TEXT)).embedding
        assert local.shape == (384,)
        sent = len(fake.received("embeddings"))
        await analyzer.analyse(TEXT)
        assert len(fake.received("embeddings")) == sent, "after a misfit the replica stays on the local model"
    finally:
        await analyzer.close()


def test_last_error_keeps_our_own_messages_and_only_the_type_of_any_other():
    from pipeline_service.worker import public_error

    assert (
        public_error(InvalidAnswer("the answer is not a JSON object"))
        == "InvalidAnswer: the answer is not a JSON object"
    )
    assert (
        public_error(EndpointUnavailable("chat/completions: HTTP 503"))
        == "EndpointUnavailable: chat/completions: HTTP 503"
    )
    leaky = ValueError("<Conn object at 0x7f3a2c> host=db.internal password=hunter2")
    assert public_error(leaky) == "ValueError (the pipeline's log has the details)"
