"""The e5 embeddings of corpus rows, as the pipeline computes them, cached by
text in the data folder so `make train` and `make eval` embed each text once."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from complaints import embedding
from ops.corpus import Row


def _cache_path() -> Path:
    return Path(os.environ.get("DATA_DIR", ".data")) / "corpus-embeddings.npz"


def embed(rows: list[Row], cache: bool = True) -> np.ndarray:
    """One L2-normalised embedding per row, in order."""
    keys = [hashlib.sha256(r.text.encode()).hexdigest() for r in rows]
    path = _cache_path()
    known: dict[str, np.ndarray] = {}
    if cache and path.exists():
        with np.load(path) as stored:
            known = {k: stored[k] for k in stored.files}
    missing = [(k, r.text) for k, r in zip(keys, rows) if k not in known]
    for key, text in missing:
        known[key] = embedding.passage(text)
    if cache and missing:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **known)  # type: ignore[arg-type]  # numpy's stub takes any ** key for allow_pickle
    return np.stack([known[k] for k in keys]) if rows else np.zeros((0, embedding.DIMENSIONS), np.float32)
