"""The analysis on the labelled corpus's test split, which nothing was fitted
or chosen on (ops/corpus/README.md): the same figures `make eval`
prints. Where a figure meets the target set for it, the target is the floor;
where it does not yet, the floor is just under what it reaches, so a change
that lowers it fails (the targets still missed are listed in README.md).
"""

from __future__ import annotations

import collections
import statistics
from typing import Any

import pytest

from complaints.taxonomy import CATEGORIES, SECTORS
from ops import evaluate
from ops.corpus import SPLITS, load
from pipeline_service.analyzer import entities

# Targets, and for the ones not met yet, floors under what the test split gives.
CATEGORY_TARGET = 0.90
SECTOR_TARGET = 0.88
CLASS_RECALL_TARGET = 0.75
GROUPING_PRECISION_FLOOR = 0.92  # target 0.95
GROUPING_RECALL_FLOOR = 0.70  # target 0.85
ENTITY_FLOOR = 0.90  # precision and recall, every type: the target


@pytest.fixture(scope="module")
def test_split() -> dict[str, Any]:
    return evaluate.evaluate("test")


def test_the_corpus_looks_like_real_complaints_and_its_split_is_fixed():
    rows = load()
    written = [r for r in rows if not r.id.startswith("L")]
    assert len(rows) >= 400
    assert 80 <= statistics.median(len(r.text.split()) for r in written) <= 150
    langs = collections.Counter(r.lang for r in written)
    assert all(abs(langs[lang] / len(written) - 1 / 3) < 0.05 for lang in ("ms", "en", "mixed")), langs
    assert min(collections.Counter(r.category for r in rows)[c] for c in CATEGORIES) >= 50
    assert min(collections.Counter(r.sector for r in rows)[s] for s in SECTORS) >= 40
    hard = collections.Counter(r.hard for r in rows)
    assert all(hard[tag] >= 15 for tag in ("loose_word", "service", "private_dispute", "implicit_bribe"))
    groups = collections.defaultdict(list)
    for r in rows:
        if r.incident:
            groups[r.incident].append(r)
    assert len(groups) >= 60
    assert all(2 <= len(g) <= 4 and len({r.lang for r in g}) >= 2 for g in groups.values())
    assert sum(r.distractor_of in groups for r in rows) >= 30
    # A group, and the distractors aimed at it, never straddle two splits.
    split_of = {name: {r.split for r in g} for name, g in groups.items()}
    assert all(len(s) == 1 for s in split_of.values())
    assert all(split_of[r.distractor_of] == {r.split} for r in rows if r.distractor_of)
    assert {r.split for r in rows} == set(SPLITS)


def test_category_and_sector_hold_on_the_test_split(test_split):
    assert test_split["category"] >= CATEGORY_TARGET, test_split["category"]
    assert test_split["sector"] >= SECTOR_TARGET, test_split["sector"]
    assert min(test_split["category_recall"].values()) >= CLASS_RECALL_TARGET, test_split["category_recall"]
    for lang, figures in test_split["by_lang"].items():
        assert figures["n"] >= 25 and figures["category"] >= 0.75, (lang, figures)


def test_confidence_is_calibrated_and_review_marks_the_doubtful(test_split):
    review = test_split["review"]
    assert review["category_ece"] <= 0.1 and review["sector_ece"] <= 0.1, review
    assert review["wrong_marked"] >= 2 * review["right_marked"], review


def test_reports_of_one_incident_are_grouped_and_near_misses_kept_apart(test_split):
    grouping = test_split["grouping"]
    assert grouping["true_pairs"] >= 40
    assert grouping["precision"] >= GROUPING_PRECISION_FLOOR, grouping
    assert grouping["recall"] >= GROUPING_RECALL_FLOOR, grouping
    assert grouping["distractors_apart"] >= 0.9, grouping


@pytest.mark.parametrize("kind", entities.TYPES)
def test_entities_are_found_in_the_forms_complaints_write_them(test_split, kind):
    figures = test_split["entities"][kind]
    assert figures["gold"] >= 5, figures
    assert figures["precision"] >= ENTITY_FLOOR and figures["recall"] >= ENTITY_FLOOR, figures


def test_the_llm_analyzer_asks_once_per_complaint():
    usage = evaluate.llm_usage("test", limit=3)
    assert usage["calls"] == 1.0, usage  # the original design made five sequential calls
    assert 0 < usage["prompt_tokens"] < 4000 and usage["completion_tokens"] > 0, usage
