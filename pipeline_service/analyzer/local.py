"""The offline analyzer: the fitted classifier over the packaged e5 embedding
and cue words (model.py), rule and gazetteer entities, acts that follow from
the category, and an extractive summary."""

from __future__ import annotations

import asyncio
import re

import numpy as np

from complaints import embedding
from pipeline_service.analyzer import Analysis, model
from pipeline_service.analyzer import entities as entity_rules

Probabilities = tuple[dict[str, float], dict[str, float]]


def probabilities(text: str, vector: np.ndarray | None) -> Probabilities:
    """The calibrated probability of every category, and of every sector; with
    no `vector` (the text's e5 embedding), from the heads fitted without it."""
    fitted = model.load()
    if vector is None:
        x, category, sector = fitted.text_features(text), fitted.category_from_text, fitted.sector_from_text
    else:
        x, category, sector = fitted.features(text, vector), fitted.category, fitted.sector
    return (
        dict(zip(category.labels, map(float, category.probabilities(x)))),
        dict(zip(sector.labels, map(float, sector.probabilities(x)))),
    )


def _most_probable(p: dict[str, float]) -> tuple[str, float]:
    label = max(p, key=p.__getitem__)
    return label, p[label]


def classify(text: str, vector: np.ndarray) -> tuple[tuple[str, float], tuple[str, float]]:
    """(category, its confidence), (sector, its confidence)."""
    categories, sectors = probabilities(text, vector)
    return _most_probable(categories), _most_probable(sectors)


def needs_review(category_confidence: float, sector_confidence: float) -> bool:
    fitted = model.load()
    return category_confidence < fitted.category.review_below or sector_confidence < fitted.sector.review_below


def analyse(text: str, vector: np.ndarray, analyzer: str = "local", known: Probabilities | None = None) -> Analysis:
    """The whole local analysis of a text whose embedding is `vector`
    (`known`: its probabilities, when the caller has them already)."""
    categories, sectors = known or probabilities(text, vector)
    (category, category_confidence), (sector, sector_confidence) = _most_probable(categories), _most_probable(sectors)
    return Analysis(
        category,
        sector,
        acts(text, category),
        summary(text),
        entity_rules.extract(text),
        vector,
        analyzer,
        category_confidence,
        sector_confidence,
        needs_review(category_confidence, sector_confidence),
    )


_COMMERCIAL = re.compile(r"(?i)sdn\.?\s*bhd|berhad|syarikat|company|firm")
_PUBLIC_SERVANT = re.compile(
    r"(?i)pegawai|officer|penjawat|polis|police|kastam|customs|majlis|council|jabatan|department|kerajaan|government"
)
_AGENT_GIVER = re.compile(r"(?i)memberi|menawarkan|offered|gave|give|bayar|paid|pay")


def acts(text: str, category: str) -> list[str]:
    """Sections that may apply, from the offence and who is involved."""
    found: list[str] = []
    if category == "BRIBERY":
        found += ["MACC Act 2009 s.16", "MACC Act 2009 s.17"]
        if _PUBLIC_SERVANT.search(text):
            found.append("Penal Code s.161")
        if _COMMERCIAL.search(text) and _AGENT_GIVER.search(text):
            found.append("MACC Act 2009 s.17A")
    elif category == "ABUSE_OF_POWER":
        found += ["MACC Act 2009 s.23"]
        if _PUBLIC_SERVANT.search(text):
            found.append("Penal Code s.165")
    elif category == "FALSE_CLAIM":
        found += ["MACC Act 2009 s.18"]
    elif category == "CRIMINAL_BREACH_OF_TRUST":
        found += ["Penal Code s.409"]
    elif category == "MONEY_LAUNDERING":
        found += ["AMLATFPUAA 2001 s.4"]
    return found


_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def summary(text: str, limit: int = 400) -> str:
    """The most telling sentences, in their original order."""
    sentences = [s.strip() for s in _SENTENCE.split(text) if len(s.strip()) > 15]
    if not sentences:
        return text.strip()[:limit]
    scored = []
    for i, s in enumerate(sentences):
        lowered = s.lower()
        weight = int(np.count_nonzero(model.cue_counts(lowered))) + 2 * len(entity_rules.extract(s))
        scored.append((weight - 0.1 * i, i))
    chosen: list[int] = []
    length = 0
    for _, i in sorted(scored, reverse=True):
        if length + len(sentences[i]) > limit and chosen:
            break
        chosen.append(i)
        length += len(sentences[i]) + 1
    out = " ".join(sentences[i] for i in sorted(chosen))
    return out if len(out) <= limit else out[: limit - 1].rstrip() + "…"


class LocalAnalyzer:
    name = "local"
    breaker = None

    async def analyse(self, text: str) -> Analysis:
        vector = await asyncio.to_thread(embedding.passage, text)
        return await asyncio.to_thread(analyse, text, vector)

    async def read_image(self, content: bytes, content_type: str) -> str | None:
        return None  # no vision model offline: images are read by OCR only

    async def close(self) -> None:
        return None
