"""Fits the analysis model (pipeline_service/analyzer/model.py) on the labelled
corpus and writes pipeline_service/analyzer/model.json.

    python -m ops.train          # make train

- Category and sector: multinomial logistic regressions over the e5 embedding,
  the cue counts and word uni- and bigrams (TF-IDF; both read the text with
  its short forms written out, shortforms.py), with the regularisation whose
  answers are most often right out of fold (folds over train and dev that
  each hold out whole writers), then fitted on train and dev together; the
  dev figure printed is that of the same head fitted on the train split
  alone. A temperature fitted on the out-of-fold answers makes the
  confidences calibrated, and the review threshold is the lowest confidence
  at which out-of-fold answers are still right REVIEW_ACCURACY of the time.
- Same-incident pair score: a logistic regression fitted on train-split pairs
  (each complaint with its candidates, as the pipeline finds them); the
  regularisation, threshold and member floor (grouping.PairModel.join) are
  those with the best F1 when train folds are grouped among the dev split as
  the pipeline groups them, of those whose pairwise precision is >= 0.95 on
  the dev split and the folds grouped apart. What it compares is
  fitted on the train split too: the languages' mean embeddings (whose
  differences similarity leaves out), the words written in lower case (not
  proper nouns), how many incidents name each key or hold each name's runs of
  words (to which the pipeline and the evaluation add how many stored
  complaints name it: grouping.Rarity).
The test split is never read here.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from complaints.taxonomy import CATEGORIES, SECTORS
from ops import evaluate
from ops.corpus import Row, load
from ops.corpus.vectors import embed
from pipeline_service.analyzer import entities as entity_rules
from pipeline_service.analyzer import grouping, model
from pipeline_service.analyzer.shortforms import normalise

C_GRID = (0.3, 1.0, 3.0, 10.0)
CV_FOLDS = 5
# Word uni- and bigrams kept (the most frequent in the train split).
VOCABULARY = 3000
TEMPERATURES = np.exp(np.linspace(np.log(0.2), np.log(5.0), 81))
# Answers below the review threshold go to an officer; above it, out-of-fold
# answers were right this often.
REVIEW_ACCURACY = 0.95
# ... unless that would mark more than this share for review.
MAX_REVIEW_SHARE = 0.3
THRESHOLDS = np.round(np.arange(0.05, 0.96, 0.01), 2)
# A coarse grid: the dev split and folds hold too few multi-report cases to
# tell finer floors apart. 0: no member keeps a complaint out.
MEMBER_FLOORS = (0.0, 0.1, 0.2, 0.3)
GRID = [(float(t), f) for f in MEMBER_FLOORS for t in THRESHOLDS]
MIN_PRECISION = 0.95
PAIR_C_GRID = (0.03, 0.1, 0.3, 1.0)
PAIR_FOLDS = 5
EXAMPLE_WORDS = 90
# Names' phrases of at most this many words are looked for in the text too.
PHRASE_WORDS = 6


def _fit(x: np.ndarray, y: np.ndarray, c: float) -> LogisticRegression:
    return LogisticRegression(C=c, class_weight="balanced", max_iter=5000).fit(x, y)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def writer(row: Row) -> str:
    """Who wrote the complaint: its id's letters ("B-017": B, "L042": L)."""
    return re.match(r"[A-Za-z]+", row.id).group()  # type: ignore[union-attr]  # every id starts with letters


def _head(
    x: np.ndarray, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]], n_train: int, labels: tuple[str, ...]
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """The head fitted on all rows (train and dev) with the regularisation
    whose out-of-fold answers are most often right, its out-of-fold answers,
    and the answers for the dev rows of the same head fitted on the train rows
    only (the dev figure the trainer prints)."""
    logits = {}
    for c in C_GRID:
        logits[c] = np.zeros((len(y), len(labels)))
        for fit, held in folds:
            logits[c][held] = _fit(x[fit], y[fit], c).decision_function(x[held])
    accuracy = {c: float((z.argmax(axis=1) == y).mean()) for c, z in logits.items()}
    c = max(C_GRID, key=lambda k: (accuracy[k], -k))
    train_only = _fit(x[:n_train], y[:n_train], c).predict(x[n_train:])
    dev_accuracy = float((train_only == y[n_train:]).mean())
    nll = [-np.log(_softmax(logits[c] / t)[np.arange(len(y)), y] + 1e-12).mean() for t in TEMPERATURES]
    temperature = float(TEMPERATURES[int(np.argmin(nll))])
    probs = _softmax(logits[c] / temperature)
    confidence, right = probs.max(axis=1), probs.argmax(axis=1) == y
    review_below = 0.0
    for t in np.sort(confidence):
        kept = confidence >= t
        if (~kept).mean() > MAX_REVIEW_SHARE:
            break
        if right[kept].mean() >= REVIEW_ACCURACY:
            review_below = float(t)
            break
    final = _fit(x, y, c)
    order = [list(final.classes_).index(i) for i in range(len(labels))]
    head = {
        "labels": list(labels),
        "C": c,
        "out_of_fold_accuracy": round(accuracy[c], 4),
        "dev_accuracy": round(dev_accuracy, 4),
        "temperature": temperature,
        "review_below": round(review_below, 4),
        "weights": final.coef_[order].T.round(6).tolist(),
        "bias": final.intercept_[order].round(6).tolist(),
    }
    grid = ", ".join(f"{k}: {v:.3f}" for k, v in accuracy.items())
    print(
        f"  C={c} out of fold {accuracy[c]:.3f} (by C: {grid}); dev {dev_accuracy:.3f} fitted on train;"
        f" temperature {temperature:.2f}, review below {review_below:.2f}"
        f" (out of fold: {(confidence < review_below).mean():.3f} marked)"
    )
    return head, probs.argmax(axis=1), train_only


def _rarity(rows: list[Row], found: list[evaluate.Answer], common: set[str]) -> grouping.Rarity:
    """Inverse document frequency of evidence keys over the train split's
    incidents (a same-incident group counts once); a word's counts wherever it
    occurs, capitalised or not, and a name's runs of words (PHRASE) wherever
    a name or the text holds them."""
    units: dict[str, set[str]] = {}
    found_keys = [grouping.keys(a.entities, r.text, common) for r, a in zip(rows, found)]
    named = [
        {p for kind, key in keys if kind in grouping.NAMED for p in grouping.phrases(key.split())}
        for keys in found_keys
    ]
    names = set().union(*named)
    for r, keys, own in zip(rows, found_keys, named):
        words = {("WORD", w) for w in re.findall(r"[a-z][a-z'’]{2,}", r.text.lower())}
        # Its names' own phrases too: "JPN" written out is not in the text.
        text = grouping.place_words(r.text)
        runs = range(2, PHRASE_WORDS + 1)
        said = own | {p for n in runs for i in range(len(text)) if (p := " ".join(text[i : i + n])) in names}
        words |= {("PHRASE", p) for p in said}
        for kind, key in keys | words:
            units.setdefault(f"{kind}|{key}", set()).add(r.incident or r.id)
    n = len({r.incident or r.id for r in rows})
    unseen = float(np.log(n + 1))
    return grouping.Rarity(
        {w: round(float(np.log((n + 1) / (len(u) + 1))), 4) for w, u in sorted(units.items()) if len(u) > 1},
        round(unseen, 4),
    )


def _neutral(rows: list[Row], vectors: np.ndarray) -> grouping.LanguageNeutral:
    """The train split's mean embedding, and the directions in which its
    languages' mean embeddings differ."""
    center = vectors.mean(axis=0).astype(np.float64)
    means = np.stack([vectors[[r.lang == lang for r in rows]].mean(axis=0) for lang in evaluate.LANGS])
    u, _, _ = np.linalg.svd((means - means.mean(axis=0)).T, full_matrices=False)
    return grouping.LanguageNeutral(center.round(6), u[:, : len(evaluate.LANGS) - 1].T.round(6))


def _pairs(
    rows: list[Row], vectors: np.ndarray, found: list[evaluate.Answer], pairs: grouping.PairModel
) -> tuple[np.ndarray, np.ndarray]:
    """Each train complaint with the candidates the pipeline would score it
    against (either direction), and every same-incident pair."""
    seen = evaluate.evidence(rows, vectors, found, pairs)
    keys = [set(e.keys) for e in seen]
    xs, ys = [], []
    for i in range(len(rows)):
        order = list(range(len(rows)))
        order.remove(i)
        others = np.array(order)
        near = others[np.argsort(-(vectors[others] @ vectors[i]), kind="stable")[: evaluate.CANDIDATES]]
        lookup = {k for k in keys[i] if k[0] in grouping.LOOKUP_KINDS}
        sharing = [j for j in order if lookup & keys[j]][: evaluate.CANDIDATES]
        same = [j for j in order if rows[i].incident and rows[j].incident == rows[i].incident]
        chosen = list(dict.fromkeys([*map(int, near), *sharing, *same]))
        for j, place in zip(chosen, grouping.ranks(seen[i], [seen[j] for j in chosen])):
            xs.append(grouping.features(seen[i], seen[j], place, pairs.rarity))
            ys.append(int(j in same))
    return np.stack(xs), np.array(ys)


def _fit_pairs(rows: list[Row], vectors: np.ndarray, found: list[evaluate.Answer], c: float) -> grouping.PairModel:
    """The pair score fitted on these rows (threshold not chosen yet)."""
    common = grouping.lower_case_words(r.text for r in rows)
    width = len(grouping.FEATURES)
    unfitted = grouping.PairModel(
        np.zeros(width),
        np.ones(width),
        np.zeros(width),
        0.0,
        0.5,
        0.0,
        _rarity(rows, found, common),
        _neutral(rows, vectors),
        frozenset(common),
    )
    x, y = _pairs(rows, vectors, found, unfitted)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    fit = LogisticRegression(C=c, max_iter=5000).fit((x - mean) / scale, y)
    return dataclasses.replace(unfitted, mean=mean, scale=scale, weights=fit.coef_[0], bias=float(fit.intercept_[0]))


def _pair_counts(
    rows: list[Row], vectors: np.ndarray, found: list[evaluate.Answer], pairs: grouping.PairModel
) -> np.ndarray:
    """(right pairs, pairs grouped, same-incident pairs) at each (threshold,
    member floor) of GRID when the rows are grouped as the pipeline groups them."""
    scores = evaluate.Scores(rows, vectors, found, pairs)
    out = []
    for t, f in GRID:
        g = evaluate.grouping_scores(
            rows, evaluate.cases(scores, dataclasses.replace(pairs, threshold=t, member_floor=f))
        )
        out.append((round(g["recall"] * g["true_pairs"]), g["found_pairs"], g["true_pairs"]))
    return np.array(out, dtype=np.float64)


def _scores(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairwise precision, recall and F1 at each of GRID from `_pair_counts`."""
    right, grouped, true = counts.T
    precision = np.divide(right, grouped, out=np.ones_like(right), where=grouped > 0)
    recall = right / true
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(right), where=precision + recall > 0)
    return precision, recall, f1


def _pair_model(
    train_rows: list[Row],
    train_vectors: np.ndarray,
    train_found: list[evaluate.Answer],
    dev_rows: list[Row],
    dev_vectors: np.ndarray,
    dev_found: list[evaluate.Answer],
) -> tuple[grouping.PairModel, str]:
    """The pair score fitted on the train split, with the regularisation,
    threshold and member floor of the best F1 when each train fold, grouped
    by a score fitted on the other folds, is grouped among the dev split's
    complaints, of those where pairwise precision is >= MIN_PRECISION on the
    dev split and overall (the dev split and the folds each grouped apart;
    the dev split alone holds too few incidents to choose by). The larger
    pool chooses because the pipeline's pool only grows and precision falls
    as more unrelated complaints are stored: the best F1 of the folds grouped
    apart often sat at a point that let a larger pool's near misses in.
    Ties go to the higher threshold, then the higher floor."""
    units = sorted({r.incident or r.id for r in train_rows})
    order = np.random.default_rng(0).permutation(len(units))
    fold_of = {units[i]: n % PAIR_FOLDS for n, i in enumerate(order)}
    folds = np.array([fold_of[r.incident or r.id] for r in train_rows])
    choices = []
    for c in PAIR_C_GRID:
        final = _fit_pairs(train_rows, train_vectors, train_found, c)
        dev = _pair_counts(dev_rows, dev_vectors, dev_found, final)
        counts, pooled = dev.copy(), np.zeros_like(dev)
        for k in range(PAIR_FOLDS):
            fit, held = np.flatnonzero(folds != k), np.flatnonzero(folds == k)
            fold = _fit_pairs([train_rows[i] for i in fit], train_vectors[fit], [train_found[i] for i in fit], c)
            held_rows, held_found = [train_rows[i] for i in held], [train_found[i] for i in held]
            counts += _pair_counts(held_rows, train_vectors[held], held_found, fold)
            pooled += _pair_counts(
                held_rows + dev_rows, np.concatenate([train_vectors[held], dev_vectors]), held_found + dev_found, fold
            )
        precision, recall, f1 = _scores(counts)
        dev_precision = _scores(dev)[0]
        pooled_precision, pooled_recall, pooled_f1 = _scores(pooled)
        for i, (t, f) in enumerate(GRID):
            ok = bool(precision[i] >= MIN_PRECISION and dev_precision[i] >= MIN_PRECISION)
            apart = (float(precision[i]), float(recall[i]), float(f1[i]))
            pool = (float(pooled_precision[i]), float(pooled_recall[i]))
            choices.append((ok, float(pooled_f1[i]), t, f, -c, final, apart, pool))
    ok, pool_f1, threshold, floor, c, final, apart, pool = max(choices, key=lambda s: s[:5])
    report = (
        f"  C={-c} threshold {threshold:.2f} member floor {floor:.2f}: "
        f"precision {apart[0]:.3f} recall {apart[1]:.3f} F1 {apart[2]:.3f} "
        f"(dev and train folds)" + ("" if ok else " (precision target missed)") + "\n"
        f"  each train fold grouped among the dev split: precision {pool[0]:.3f} recall {pool[1]:.3f} F1 {pool_f1:.3f}"
    )
    return dataclasses.replace(final, threshold=threshold, member_floor=floor), report


def _with_labels(found: list[evaluate.Answer], categories: np.ndarray, sectors: np.ndarray) -> list[evaluate.Answer]:
    return [
        evaluate.Answer(CATEGORIES_L[c], 1.0, SECTORS_L[s], 1.0, a.entities)
        for a, c, s in zip(found, categories, sectors)
    ]


CATEGORIES_L = tuple(CATEGORIES)
SECTORS_L = tuple(SECTORS)


def _examples(rows: list[Row]) -> list[dict[str, str]]:
    """One short train complaint per category, for the llm analyzer's prompt."""
    out = []
    for category in CATEGORIES_L:
        fitting = sorted(
            (r for r in rows if r.category == category and len(r.text.split()) <= EXAMPLE_WORDS),
            key=lambda r: (-len(r.text.split()), r.id),
        )
        if fitting:
            r = fitting[0]
            out.append({"text": r.text, "category": r.category, "sector": r.sector})
    return out


def train() -> dict[str, Any]:
    train_rows, dev_rows = load(["train"]), load(["dev"])
    rows = train_rows + dev_rows
    n_train = len(train_rows)
    print(f"corpus: {n_train} train, {len(dev_rows)} dev complaints; embedding...")
    vectors = embed(rows)
    # Vocabulary and standardisation from every row's text (no label is read).
    tfidf = TfidfVectorizer(
        ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=VOCABULARY, preprocessor=normalise
    ).fit([r.text for r in rows])
    terms = sorted(tfidf.vocabulary_, key=tfidf.vocabulary_.__getitem__)
    vocabulary = model.Vocabulary({t: i for i, t in enumerate(terms)}, tfidf.idf_)
    raw = np.stack([np.concatenate([v, vocabulary.text_features(r.text)]) for r, v in zip(rows, vectors)])
    mean, scale = raw.mean(axis=0), raw.std(axis=0)
    scale[scale < 1e-6] = 1.0
    x = (raw - mean) / scale
    # Each fold holds out whole writers: the model is chosen for complaints
    # written by people it has not read (a writer's incident groups and
    # distractors go with them).
    writers = [writer(r) for r in rows]
    folds = list(GroupKFold(CV_FOLDS).split(x, groups=writers))
    print(f"{len(set(writers))} writers, {CV_FOLDS} folds")
    fitted: dict[str, Any] = {
        "cues": list(model.CUE_WORDS),
        "tfidf": {"terms": terms, "idf": tfidf.idf_.round(6).tolist()},
        "mean": mean.round(6).tolist(),
        "scale": scale.round(6).tolist(),
    }
    predicted = {}
    fitted["from_text"] = {}
    for name, labels, target in (
        ("category", CATEGORIES_L, [r.category for r in rows]),
        ("sector", SECTORS_L, [r.sector for r in rows]),
    ):
        print(name)
        y = np.array([labels.index(t) for t in target])
        fitted[name], out_of_fold, train_only = _head(x, y, folds, n_train, labels)
        predicted[name] = (out_of_fold[:n_train], train_only)
        # The llm analyzer's head when its embeddings come from the endpoint (model.py).
        print(f"{name}, without the embedding")
        fitted["from_text"][name] = _head(x[:, vectors.shape[1] :], y, folds, n_train, labels)[0]

    print("same-incident pairs")
    found = [evaluate.Answer("", 1.0, "", 1.0, tuple(entity_rules.extract(r.text))) for r in rows]
    train_found = _with_labels(found[:n_train], predicted["category"][0], predicted["sector"][0])
    dev_found = _with_labels(found[n_train:], predicted["category"][1], predicted["sector"][1])
    pairs, report = _pair_model(train_rows, vectors[:n_train], train_found, dev_rows, vectors[n_train:], dev_found)
    print(report)
    fitted["pairs"] = {
        "features": list(grouping.FEATURES),
        "mean": pairs.mean.round(6).tolist(),
        "scale": pairs.scale.round(6).tolist(),
        "weights": pairs.weights.round(6).tolist(),
        "bias": round(pairs.bias, 6),
        "threshold": pairs.threshold,
        "member_floor": pairs.member_floor,
        "rarity": {"idf": pairs.rarity.idf, "unseen": pairs.rarity.unseen},
        "neutral": {"center": pairs.neutral.center.tolist(), "basis": pairs.neutral.basis.tolist()},
        "common_words": sorted(pairs.common),
    }
    fitted["examples"] = _examples(train_rows)
    return fitted


def main() -> int:
    fitted = train()
    model.from_dict(fitted)  # refuses a model this code cannot use
    model.PATH.write_text(json.dumps(fitted, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {model.PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
