"""One complaint's analysis, with no database connection held: extraction in
threads (an unreadable image may go to a vision model), then the analyzer's
one call over the masked text."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from complaints.cancellation import cancel_and_wait
from complaints.constants import Stage
from complaints.metrics import STAGE_SECONDS
from complaints.redact import introduced, redact_all
from pipeline_service.analyzer import Analysis, Analyzer
from pipeline_service.extract import MARKUP_TYPES, Extracted, extract
from pipeline_service.store import Work

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class Outcome:
    subject: str
    description: str
    analysis: Analysis
    extracted: dict[int, Extracted]


@dataclass(frozen=True)
class Extraction:
    tesseract: str = "tesseract"
    # Below this mean OCR confidence an image goes to the vision model, if any.
    ocr_min_confidence: float = 70.0


async def _all(*calls: Awaitable[Any]) -> list[Any]:
    """Like gather, but the first failure cancels the other calls instead of
    leaving them running (and holding model slots) for nothing."""
    tasks = [asyncio.ensure_future(c) for c in calls]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        await cancel_and_wait(*tasks)
        raise


async def _timed(stage: str, call: Awaitable[T]) -> T:
    with STAGE_SECONDS.labels(stage).time():
        return await call


async def _document(doc: dict[str, Any], analyzer: Analyzer, how: Extraction) -> Extracted:
    content, kind = bytes(doc["content"]), doc["detected_type"]
    result = await _timed("extract", asyncio.to_thread(extract, kind, content, how.tesseract))
    unreadable = result.status != "extracted" or (result.confidence or 0) < how.ocr_min_confidence
    # An SVG is markup: its text was read, and it never goes to a vision model.
    if not kind.startswith("image/") or kind in MARKUP_TYPES or result.status == "error" or not unreadable:
        return result
    try:
        text = await _timed("read_image", analyzer.read_image(content, kind))
    except Exception as exc:  # the vision model failing must not fail the complaint
        log.warning("vision model failed", extra={"fields": {"document_id": doc["id"], "error": repr(exc)[:200]}})
        result.error = (result.error + "; " if result.error else "") + f"vision model failed ({type(exc).__name__})"
        return result
    if text is None:
        return result
    if not text.strip():
        return Extracted("not_extracted", error="the vision model found no text", method="vision")
    return Extracted("extracted", text, method="vision", confidence=result.confidence)


async def _unheard(stage: str) -> None:
    return None


async def analyse(
    work: Work,
    analyzer: Analyzer,
    how: Extraction = Extraction(),
    starting: Callable[[str], Awaitable[None]] = _unheard,
) -> Outcome:
    """`starting` hears of the analysing stage when extraction (the stage the
    store's load noted) came first."""
    results = await _all(*(_document(d, analyzer, how) for d in work.documents))
    extracted = {d["id"]: r for d, r in zip(work.documents, results)}
    texts = [work.subject, work.description, *(r.text for r in results if r.text)]
    # The fields' identity, and any the writer gives in the text as their own.
    people = [work.identity, *introduced(texts)]
    subject, description, *evidence = (redact_all(t, people) for t in texts)
    text = "\n\n".join(part for part in (subject, description, *evidence) if part)

    if work.documents:
        await starting(Stage.ANALYSING)
    analysis = await _timed("analyse", analyzer.analyse(text))
    return Outcome(subject, description, analysis, extracted)
