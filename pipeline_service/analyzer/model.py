"""The fitted analysis model: category and sector from a complaint's e5
embedding, its cue words and its word uni- and bigrams (TF-IDF over the
training corpus's vocabulary), each with a calibrated confidence, and the
pair score that groups reports of one incident.

`make train` (ops/train.py) fits it on the corpus's train split and
writes model.json beside this file; it ships in the package, so nothing is
downloaded or trained at run time. Only numpy is needed to use it.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline_service.analyzer.cues import CUES
from pipeline_service.analyzer.grouping import FEATURES as PAIR_FEATURES
from pipeline_service.analyzer.grouping import LanguageNeutral, PairModel, Rarity
from pipeline_service.analyzer.shortforms import normalise

PATH = Path(__file__).with_name("model.json")

# Every cue once, whichever themes list it.
CUE_WORDS: tuple[str, ...] = tuple(dict.fromkeys(w for words in CUES.values() for w in words))
# Cues by their first two letters: a text is scanned once, at each place a
# word may start, instead of once per cue (875 regular expressions cost the
# pipeline more CPU than the rest of the local answer together).
_CUES_BY_PREFIX: dict[str, list[tuple[int, str]]] = {}
for _i, _w in enumerate(CUE_WORDS):
    _CUES_BY_PREFIX.setdefault(_w[:2], []).append((_i, _w))
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


def cue_counts(text: str) -> np.ndarray:
    """How often each cue occurs (at most 3), on a log scale: a cue counts
    where no [a-z0-9] comes before it, and its occurrences do not overlap (as
    re.findall of (?<![a-z0-9])cue counts them), short forms written out."""
    return _cue_counts(normalise(text))


def _cue_counts(lowered: str) -> np.ndarray:
    """`cue_counts` of a text already through `normalise`."""
    counts = [0] * len(CUE_WORDS)
    ends = [0] * len(CUE_WORDS)
    previous = ""
    for at, char in enumerate(lowered):
        if previous not in _ALNUM:
            for i, word in _CUES_BY_PREFIX.get(lowered[at : at + 2], ()):
                if at >= ends[i] and lowered.startswith(word, at):
                    counts[i] += 1
                    ends[i] = at + len(word)
        previous = char
    return np.log1p(np.minimum(np.array(counts, dtype=np.float64), 3))


_TOKEN = re.compile(r"(?u)\b\w\w+\b")


@dataclass(frozen=True)
class Vocabulary:
    """Word uni- and bigrams with their inverse document frequencies, computed
    as scikit-learn's TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    does (with `normalise` as its preprocessor), so the fitted weights apply
    unchanged."""

    index: dict[str, int]
    idf: np.ndarray

    def tfidf(self, text: str) -> np.ndarray:
        return self._tfidf(normalise(text))

    def _tfidf(self, lowered: str) -> np.ndarray:
        """`tfidf` of a text already through `normalise`."""
        tokens = _TOKEN.findall(lowered)
        grams = tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]
        counts: dict[int, int] = {}
        for gram in grams:
            i = self.index.get(gram)
            if i is not None:
                counts[i] = counts.get(i, 0) + 1
        x = np.zeros(len(self.idf))
        for i, n in counts.items():
            x[i] = (1.0 + np.log(n)) * self.idf[i]
        norm = np.linalg.norm(x)
        return x / norm if norm > 0 else x

    def text_features(self, text: str) -> np.ndarray:
        """The cue counts and the TF-IDF of `text`, unstandardised: its short
        forms written out once for both."""
        lowered = normalise(text)
        return np.concatenate([_cue_counts(lowered), self._tfidf(lowered)])


@dataclass(frozen=True)
class Head:
    """A multinomial logistic regression over standardised features, with a
    temperature that makes its probabilities calibrated (fitted out of fold),
    and the confidence below which an answer goes to an officer for review."""

    labels: tuple[str, ...]
    weights: np.ndarray  # (features, labels)
    bias: np.ndarray
    temperature: float
    review_below: float

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        z = (x @ self.weights + self.bias) / self.temperature
        z = z - z.max(axis=-1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class Model:
    vocabulary: Vocabulary
    mean: np.ndarray
    scale: np.ndarray
    category: Head
    sector: Head
    # The same heads fitted without the embedding, for the llm analyzer when
    # its embeddings come from the endpoint: the local e5 model is most of a
    # complaint's CPU, and the endpoint's vectors are not what `category` saw.
    category_from_text: Head
    sector_from_text: Head
    pairs: PairModel
    # Labelled train-split complaints the llm analyzer shows the model.
    examples: tuple[dict[str, Any], ...]

    def features(self, text: str, vector: np.ndarray) -> np.ndarray:
        """The classifier's input, standardised: the embedding, the cue counts, the TF-IDF."""
        raw = np.concatenate([np.asarray(vector, dtype=np.float64), self.vocabulary.text_features(text)])
        return (raw - self.mean) / self.scale

    def text_features(self, text: str) -> np.ndarray:
        """The input of the *_from_text heads: `features` without the embedding."""
        raw = self.vocabulary.text_features(text)
        return (raw - self.mean[-len(raw) :]) / self.scale[-len(raw) :]


def _head(d: dict[str, Any]) -> Head:
    return Head(
        tuple(d["labels"]),
        np.asarray(d["weights"], dtype=np.float64),
        np.asarray(d["bias"], dtype=np.float64),
        float(d["temperature"]),
        float(d["review_below"]),
    )


def from_dict(d: dict[str, Any]) -> Model:
    if tuple(d["cues"]) != CUE_WORDS or tuple(d["pairs"]["features"]) != PAIR_FEATURES or "from_text" not in d:
        raise ValueError(f"{PATH.name} was fitted on other features than this code computes: run `make train`")
    p = d["pairs"]
    pairs = PairModel(
        np.asarray(p["mean"]),
        np.asarray(p["scale"]),
        np.asarray(p["weights"]),
        float(p["bias"]),
        float(p["threshold"]),
        float(p["member_floor"]),
        Rarity(p["rarity"]["idf"], float(p["rarity"]["unseen"])),
        LanguageNeutral(np.asarray(p["neutral"]["center"]), np.asarray(p["neutral"]["basis"])),
        frozenset(p["common_words"]),
    )
    vocabulary = Vocabulary({t: i for i, t in enumerate(d["tfidf"]["terms"])}, np.asarray(d["tfidf"]["idf"]))
    return Model(
        vocabulary,
        np.asarray(d["mean"], dtype=np.float64),
        np.asarray(d["scale"], dtype=np.float64),
        _head(d["category"]),
        _head(d["sector"]),
        _head(d["from_text"]["category"]),
        _head(d["from_text"]["sector"]),
        pairs,
        tuple(d["examples"]),
    )


@functools.cache
def load() -> Model:
    return from_dict(json.loads(PATH.read_text(encoding="utf-8")))
