"""One complaint's analysis, with no database connection held: extraction in
threads, then every text-only stage at once."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

from pipeline_service.analyzer import Analysis, Analyzer
from pipeline_service.extract import Extracted, extract
from pipeline_service.redact import redact
from pipeline_service.store import Work


@dataclass
class Outcome:
    subject: str
    description: str
    analysis: Analysis
    extracted: dict[int, Extracted]


async def analyse(work: Work, analyzer: Analyzer) -> Outcome:
    results = await asyncio.gather(
        *(asyncio.to_thread(extract, d["detected_type"], bytes(d["content"])) for d in work.documents)
    )
    extracted = {d["id"]: r for d, r in zip(work.documents, results)}
    subject = redact(work.subject, **work.identity)
    description = redact(work.description, **work.identity)
    evidence = [redact(r.text, **work.identity) for r in results if r.text]
    text = "\n\n".join(part for part in (subject, description, *evidence) if part)

    category, sector, acts, summary, entities, embedding = await asyncio.gather(
        analyzer.category(text),
        analyzer.sector(text),
        analyzer.acts(text),
        analyzer.summary(text),
        analyzer.entities(text),
        analyzer.embedding(text),
    )
    analysis = Analysis(category, sector, acts, summary, entities, embedding, analyzer.name)
    return Outcome(subject, description, analysis, extracted)
