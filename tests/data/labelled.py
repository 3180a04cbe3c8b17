"""The labelled complaints (Malay and English, written for the tests) and the
local analyzer's accuracy on them, for the accuracy test and the benchmark.

Rows without a split are the ones the keyword lists were written against;
rows with split "holdout" were written afterwards and not tuned on (only the
embedding weight was chosen with them in view), so their accuracy is the
honest estimate for unseen complaints.
"""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from pipeline_service.analyzer.local import LocalAnalyzer

PATH = Path(__file__).with_name("labelled_complaints.jsonl")


def load() -> list[dict[str, Any]]:
    return [json.loads(line) for line in PATH.read_text(encoding="utf-8").splitlines() if line.strip()]


async def _judge(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    analyzer = LocalAnalyzer()
    return [(await analyzer.category(r["text"]), await analyzer.sector(r["text"])) for r in rows]


def evaluate() -> dict[str, Any]:
    rows = load()
    answers = asyncio.run(_judge(rows))

    def share(pick) -> float:
        chosen = [(r, a) for r, a in zip(rows, answers) if pick(r)]
        return round(sum(a[0] == r["category"] for r, a in chosen) / len(chosen), 3) if chosen else 0.0

    misses = [f"{r['id']} {r['category']} -> {a[0]}" for r, a in zip(rows, answers) if a[0] != r["category"]]
    return {
        "complaints": len(rows),
        "category_accuracy": share(lambda r: True),
        "sector_accuracy": round(sum(a[1] == r["sector"] for r, a in zip(rows, answers)) / len(rows), 3),
        "category_accuracy_malay": share(lambda r: r["lang"] == "ms"),
        "category_accuracy_english": share(lambda r: r["lang"] == "en"),
        "category_accuracy_holdout": share(lambda r: r.get("split") == "holdout"),
        "category_misses": misses,
    }
