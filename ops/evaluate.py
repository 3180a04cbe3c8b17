"""How good the analysis is, on labelled complaints it was not fitted on:
category and sector accuracy (per language, per class, confusion matrix),
how often a low confidence marks a wrong answer for review, same-incident
grouping (pairwise precision and recall, distractors kept apart) and entity
precision and recall per type.

    python -m ops.evaluate            # make eval: the dev and test splits

The grouping is simulated as the pipeline does it (pipeline_service/store.py):
complaints arrive one by one; each is scored against its nearest earlier
complaints and those sharing a specific key, then against the other members
of the cases in which a candidate reaches the threshold, and joins a case as
grouping.PairModel.join decides.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import json
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from complaints.taxonomy import CATEGORIES, SECTORS
from ops.corpus import Row, load
from ops.corpus.vectors import embed
from pipeline_service.analyzer import Entity, grouping, model
from pipeline_service.analyzer import entities as entity_rules
from pipeline_service.analyzer.local import classify, needs_review

# As the pipeline's default (PIPELINE_CASE_CANDIDATES).
CANDIDATES = 20
LANGS = ("ms", "en", "mixed")


@dataclass(frozen=True)
class Answer:
    category: str
    category_confidence: float
    sector: str
    sector_confidence: float
    entities: tuple[Entity, ...]


def answers(rows: list[Row], vectors: np.ndarray) -> list[Answer]:
    out = []
    for row, vector in zip(rows, vectors):
        (category, cc), (sector, sc) = classify(row.text, vector)
        out.append(Answer(category, cc, sector, sc, tuple(entity_rules.extract(row.text))))
    return out


def candidates(i: int, vectors: np.ndarray, keys: list[set[tuple[str, str]]], limit: int = CANDIDATES) -> list[int]:
    """Earlier rows the pipeline would score row i against: the nearest by
    embedding, and those sharing a lookup key (the store's _CANDIDATES)."""
    if i == 0:
        return []
    similarity = vectors[:i] @ vectors[i]
    near = [int(j) for j in np.argsort(-similarity, kind="stable")[:limit]]
    lookup = {k for k in keys[i] if k[0] in grouping.LOOKUP_KINDS}
    sharing = [j for j in range(i) if lookup & keys[j]][:limit]
    return list(dict.fromkeys(near + sharing))


def evidence(
    rows: list[Row], vectors: np.ndarray, found: list[Answer], pairs: grouping.PairModel
) -> list[grouping.Evidence]:
    return [
        pairs.evidence(v, pairs.keys(a.entities, r.text), a.category, a.sector) for r, v, a in zip(rows, vectors, found)
    ]


class Scores:
    """Each row's same-incident probabilities when the rows arrive in order:
    against its candidates, computed at once, and against any earlier row as
    another member of a candidate's case, computed when first asked (which
    rows those are depends on the cases earlier rows joined, and so on the
    threshold): one instance serves every threshold and floor (`cases`). A
    key's rarity counts the earlier rows that name it, as the pipeline counts
    the stored complaints."""

    def __init__(self, rows: list[Row], vectors: np.ndarray, found: list[Answer], pairs: grouping.PairModel) -> None:
        self.pairs = pairs
        self.seen = evidence(rows, vectors, found, pairs)
        keys = [set(e.keys) for e in self.seen]
        stored: collections.Counter[str] = collections.Counter()
        self.pools: list[list[int]] = []
        self.candidates: list[np.ndarray] = []
        self.stored: list[collections.Counter[str]] = []
        self._members: dict[tuple[int, int], float] = {}
        for i, new in enumerate(self.seen):
            pool = candidates(i, vectors, keys)
            self.pools.append(pool)
            self.candidates.append(pairs.probabilities(new, [self.seen[j] for j in pool], (), stored))
            self.stored.append(stored.copy())
            stored.update(f"{kind}|{key}" for kind, key in keys[i])

    def member(self, i: int, j: int) -> float:
        """Row i's probability against earlier row j, another member of a candidate's case."""
        if (i, j) not in self._members:
            pool = [self.seen[k] for k in self.pools[i]]
            (p,) = self.pairs.probabilities(self.seen[i], pool, [self.seen[j]], self.stored[i])
            self._members[i, j] = float(p)
        return self._members[i, j]


def cases(scores: Scores, pairs: grouping.PairModel) -> list[int]:
    """The case each row ends in (the index of its first row), as the
    pipeline's store decides with `pairs`' threshold and member floor: the
    contenders among its candidates' cases, their other members (the
    earliest grouping.MEMBERS), and PairModel.join."""
    case_of: list[int] = []
    members: dict[int, list[int]] = collections.defaultdict(list)
    for i, (pool, p) in enumerate(zip(scores.pools, scores.candidates)):
        found = [case_of[j] for j in pool]
        contenders = pairs.contenders(found, p)
        scored = list(zip(found, map(float, p)))
        for contender in contenders:
            others = [j for j in members[contender] if j not in pool][: grouping.MEMBERS]
            scored += [(contender, scores.member(i, j)) for j in others]
        joined = pairs.join(contenders, scored)
        case_of.append(i if joined is None else joined)
        members[case_of[i]].append(i)
    return case_of


def cluster(rows: list[Row], vectors: np.ndarray, found: list[Answer], pairs: grouping.PairModel) -> list[int]:
    """The case each row ends in when the rows arrive in order."""
    return cases(Scores(rows, vectors, found, pairs), pairs)


def grouping_scores(rows: list[Row], cases: list[int]) -> dict[str, float]:
    true_pairs = {
        (i, j)
        for i, j in itertools.combinations(range(len(rows)), 2)
        if rows[i].incident and rows[i].incident == rows[j].incident
    }
    found_pairs = {(i, j) for i, j in itertools.combinations(range(len(rows)), 2) if cases[i] == cases[j]}
    hits = len(true_pairs & found_pairs)
    precision = hits / len(found_pairs) if found_pairs else 1.0
    recall = hits / len(true_pairs) if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    members = collections.defaultdict(set)
    for row, case in zip(rows, cases):
        if row.incident:
            members[row.incident].add(case)
    # (the incident a distractor resembles, the case it was put in)
    distractors = [
        (of, case) for row, case in zip(rows, cases) if (of := row.distractor_of) is not None and of in members
    ]
    apart = sum(case not in members[of] for of, case in distractors)
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "true_pairs": len(true_pairs),
        "found_pairs": len(found_pairs),
        "distractors": len(distractors),
        "distractors_apart": apart / len(distractors) if distractors else 1.0,
    }


def _spans(text: str, needle: str) -> list[tuple[int, int]]:
    out, start = [], text.find(needle)
    while start >= 0:
        out.append((start, start + len(needle)))
        start = text.find(needle, start + 1)
    return out


def entity_counts(rows: list[Row]) -> dict[str, dict[str, int]]:
    """Per type: labelled mentions found (a found mention of the type overlaps
    one of its occurrences) and found mentions that are right (overlap a
    labelled one of the type)."""
    counts: dict[str, dict[str, int]] = {
        t: dict.fromkeys(("gold", "recalled", "found", "right"), 0) for t in entity_rules.TYPES
    }
    for row in rows:
        if row.entities is None:
            continue
        found = entity_rules.mentions(row.text)
        gold = [(kind, _spans(row.text, text)) for kind, text in row.entities]
        for kind, spans in gold:
            counts[kind]["gold"] += 1
            counts[kind]["recalled"] += any(
                m.type == kind and m.start < b and a < m.end for m in found for a, b in spans
            )
        for m in found:
            counts[m.type]["found"] += 1
            counts[m.type]["right"] += any(
                kind == m.type and a < m.end and m.start < b for kind, spans in gold for a, b in spans
            )
    return counts


def _share(hits: int, total: int) -> float:
    return hits / total if total else 1.0


def calibration_error(confidence: list[float], right: list[bool], bins: int = 5) -> float:
    """Expected calibration error: how far stated confidence is from the share
    right, averaged over confidence bins weighted by their size."""
    c, r = np.asarray(confidence), np.asarray(right, dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    error = 0.0
    for lo, hi in itertools.pairwise(edges):
        inside = (c > lo) & (c <= hi)
        if inside.any():
            error += inside.mean() * abs(c[inside].mean() - r[inside].mean())
    return float(error)


def evaluate(split: str) -> dict[str, Any]:
    rows = load([split])
    vectors = embed(rows)
    found = answers(rows, vectors)
    fitted = model.load()
    right_cat = [a.category == r.category for r, a in zip(rows, found)]
    right_sec = [a.sector == r.sector for r, a in zip(rows, found)]
    review = [needs_review(a.category_confidence, a.sector_confidence) for a in found]
    by_lang = {}
    for lang in LANGS:
        idx = [i for i, r in enumerate(rows) if r.lang == lang]
        by_lang[lang] = {
            "n": len(idx),
            "category": _share(sum(right_cat[i] for i in idx), len(idx)),
            "sector": _share(sum(right_sec[i] for i in idx), len(idx)),
        }
    labels = list(CATEGORIES)
    confusion = [
        [sum(r.category == t and a.category == p for r, a in zip(rows, found)) for p in labels] for t in labels
    ]
    recall = {t: _share(confusion[i][i], sum(confusion[i])) for i, t in enumerate(labels)}
    sector_recall = {
        s: _share(sum(r.sector == s and a.sector == s for r, a in zip(rows, found)), sum(r.sector == s for r in rows))
        for s in SECTORS
    }
    wrong = [not (c and s) for c, s in zip(right_cat, right_sec)]
    cases = cluster(rows, vectors, found, fitted.pairs)
    entities = {
        t: {**c, "recall": _share(c["recalled"], c["gold"]), "precision": _share(c["right"], c["found"])}
        for t, c in entity_counts(rows).items()
    }
    return {
        "split": split,
        "n": len(rows),
        "category": _share(sum(right_cat), len(rows)),
        "sector": _share(sum(right_sec), len(rows)),
        "by_lang": by_lang,
        "category_recall": recall,
        "sector_recall": sector_recall,
        "confusion": {"labels": labels, "rows": confusion},
        "review": {
            "marked": _share(sum(review), len(rows)),
            # Of the complaints with a wrong category or sector, how many were marked.
            "wrong_marked": _share(sum(w and m for w, m in zip(wrong, review)), sum(wrong)),
            "accuracy_unmarked": _share(
                sum(c and s and not m for c, s, m in zip(right_cat, right_sec, review)), len(rows) - sum(review)
            ),
            "right_marked": _share(sum(not w and m for w, m in zip(wrong, review)), len(rows) - sum(wrong)),
            "category_ece": calibration_error([a.category_confidence for a in found], right_cat),
            "sector_ece": calibration_error([a.sector_confidence for a in found], right_sec),
        },
        "grouping": grouping_scores(rows, cases),
        "entities": entities,
    }


async def _llm_usage(rows: list[Row]) -> dict[str, float]:
    """Calls and tokens per complaint of the llm analyzer, against the
    OpenAI-compatible test server (tokens as it counts them: 4 characters a
    token); its answers are canned, so only the cost is measured here."""
    from ops.fake_llm import FakeLLM
    from pipeline_service.analyzer.llm import LLMAnalyzer

    with FakeLLM() as fake:
        analyzer = LLMAnalyzer(fake.settings(model="eval", api_key="", timeout_seconds=15, retry_max_wait_seconds=1))
        try:
            for row in rows:
                await analyzer.analyse(row.text)
        finally:
            await analyzer.close()
    n = len(rows)
    return {
        "complaints": n,
        "calls": analyzer.usage["calls"] / n,
        "prompt_tokens": analyzer.usage["prompt_tokens"] / n,
        "completion_tokens": analyzer.usage["completion_tokens"] / n,
    }


def llm_usage(split: str, limit: int = 20) -> dict[str, float]:
    return asyncio.run(_llm_usage(load([split])[:limit]))


def _pct(x: float) -> str:
    return f"{100 * x:5.1f}%"


def table(results: list[dict[str, Any]], usage: dict[str, float] | None = None) -> str:
    out = []
    out.append("Classification (share right)")
    out.append(f"{'split':6} {'lang':6} {'n':>4} {'category':>9} {'sector':>8}")
    for r in results:
        out.append(f"{r['split']:6} {'all':6} {r['n']:>4} {_pct(r['category']):>9} {_pct(r['sector']):>8}")
        for lang, v in r["by_lang"].items():
            out.append(f"{'':6} {lang:6} {v['n']:>4} {_pct(v['category']):>9} {_pct(v['sector']):>8}")
    # The heads are fitted on train and dev (ops/train.py): dev is in sample for
    # them, so their out-of-fold figures, kept in model.json, are shown as well.
    heads = json.loads(model.PATH.read_text(encoding="utf-8"))
    cat, sec = heads["category"], heads["sector"]
    out.append(
        f"category and sector are fitted on train and dev; out of fold (folds hold out whole writers): "
        f"{_pct(cat['out_of_fold_accuracy']).strip()}, {_pct(sec['out_of_fold_accuracy']).strip()}; "
        f"fitted on train alone, dev: {_pct(cat['dev_accuracy']).strip()}, {_pct(sec['dev_accuracy']).strip()}"
    )
    out.append("")
    out.append("Category recall per class")
    names = list(results[0]["category_recall"])
    out.append(f"{'class':26} " + " ".join(f"{r['split']:>7}" for r in results))
    for name in names:
        out.append(f"{name:26} " + " ".join(f"{_pct(r['category_recall'][name]):>7}" for r in results))
    out.append("")
    out.append("Sector recall per class")
    for name in results[0]["sector_recall"]:
        out.append(f"{name:30} " + " ".join(f"{_pct(r['sector_recall'][name]):>7}" for r in results))
    for r in results:
        out.append("")
        out.append(f"Category confusion, {r['split']} (rows: labelled, columns: answered)")
        labels = r["confusion"]["labels"]
        short = [lab[:6] for lab in labels]
        out.append(f"{'':26} " + " ".join(f"{s:>6}" for s in short))
        for lab, counts in zip(labels, r["confusion"]["rows"]):
            out.append(f"{lab:26} " + " ".join(f"{c:>6}" for c in counts))
    out.append("")
    out.append("Review (calibrated confidence below the fitted threshold)")
    out.append(
        f"{'split':6} {'marked':>7} {'of wrong, marked':>17} {'of right, marked':>17} "
        f"{'right among unmarked':>21} {'calibration error (cat, sec)':>29}"
    )
    for r in results:
        v = r["review"]
        out.append(
            f"{r['split']:6} {_pct(v['marked']):>7} {_pct(v['wrong_marked']):>17} {_pct(v['right_marked']):>17} "
            f"{_pct(v['accuracy_unmarked']):>21} {v['category_ece']:>20.3f}, {v['sector_ece']:.3f}"
        )
    out.append("")
    out.append("Same-incident grouping (pairwise)")
    out.append(
        f"{'split':6} {'precision':>9} {'recall':>7} {'F1':>7} {'pairs':>6} {'found':>6} {'distractors apart':>18}"
    )
    for r in results:
        g = r["grouping"]
        out.append(
            f"{r['split']:6} {_pct(g['precision']):>9} {_pct(g['recall']):>7} {_pct(g['f1']):>7} "
            f"{g['true_pairs']:>6} {g['found_pairs']:>6} {_pct(g['distractors_apart']):>11} of {g['distractors']}"
        )
    out.append("")
    out.append("Entities (mentions)")
    out.append(f"{'type':14} " + " ".join(f"{r['split'] + ' P':>8} {r['split'] + ' R':>8} {'n':>4}" for r in results))
    for kind in results[0]["entities"]:
        scores = [r["entities"][kind] for r in results]
        out.append(
            f"{kind:14} " + " ".join(f"{_pct(e['precision']):>8} {_pct(e['recall']):>8} {e['gold']:>4}" for e in scores)
        )
    if usage:
        out.append("")
        out.append(
            f"llm analyzer, per complaint ({usage['complaints']} {results[-1]['split']} complaints, "
            f"test server): {usage['calls']:.1f} calls, {usage['prompt_tokens']:.0f} prompt tokens, "
            f"{usage['completion_tokens']:.0f} completion tokens (the original design: 5 calls)"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("splits", nargs="*", default=["dev", "test"], help="splits to evaluate (dev test)")
    args = parser.parse_args(argv)
    print(table([evaluate(s) for s in args.splits], llm_usage(args.splits[-1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
