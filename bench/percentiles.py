"""The one way every benchmark turns latencies into its p50 and p99."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def p50_p99_ms(latencies: Sequence[float], digits: int = 3) -> tuple[float, float]:
    """Median and 99th percentile of latencies in seconds, as ms (numpy's linear interpolation)."""
    p50, p99 = np.percentile(np.asarray(latencies, dtype=float), [50, 99]) * 1000
    return round(float(p50), digits), round(float(p99), digits)
