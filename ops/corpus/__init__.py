"""The labelled complaint corpus (complaints.jsonl; how it was written and
labelled: README.md beside it), shared by `make train`, `make eval`, the
tests that hold the analysis to its targets, and the benchmarks.

The split is fixed in the file. `train` fits the models, `dev` chooses their
settings (regularisation, the review and grouping thresholds), `test` is
only ever evaluated: nothing is tuned on it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PATH = Path(__file__).with_name("complaints.jsonl")
SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class Row:
    id: str
    split: str
    lang: str
    category: str
    sector: str
    text: str
    # Same-incident group, or None; a distractor names the group it resembles.
    incident: str | None = None
    distractor_of: str | None = None
    hard: str | None = None
    # (type, text as written) of every labelled mention; None where the row's
    # entities were not labelled.
    entities: tuple[tuple[str, str], ...] | None = field(default=None)


def _row(d: dict[str, Any]) -> Row:
    entities = d.get("entities")
    return Row(
        d["id"],
        d["split"],
        d["lang"],
        d["category"],
        d["sector"],
        d["text"],
        d.get("incident"),
        d.get("distractor_of"),
        d.get("hard"),
        None if entities is None else tuple((e["type"], e["text"]) for e in entities),
    )


def load(splits: Iterable[str] = SPLITS) -> list[Row]:
    wanted = set(splits)
    unknown = wanted - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown split {sorted(unknown)}; the splits are {SPLITS}")
    rows = [_row(json.loads(line)) for line in PATH.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if r.split in wanted]
