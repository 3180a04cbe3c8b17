"""One analyzer interface, several backends. A backend answers a whole
analysis of the (masked) complaint text in one call: the local one from its
fitted model, the llm one from one structured model call, so no complaint
waits on a chain of per-stage calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:  # breaker.py imports this module's errors
    from pipeline_service.analyzer.breaker import Breaker


@dataclass(frozen=True)
class Entity:
    type: str
    value: str


@dataclass
class Analysis:
    category: str
    sector: str
    acts: list[str]
    summary: str
    entities: list[Entity]
    embedding: np.ndarray
    analyzer: str
    # Calibrated probabilities that category and sector are right; below the
    # fitted review threshold the complaint is marked for an officer's review.
    category_confidence: float = 1.0
    sector_confidence: float = 1.0
    needs_review: bool = False


class EndpointUnavailable(Exception):
    """The model endpoint did not answer usefully (timeout, refused, 5xx, 429)
    even after retries, or its circuit is open."""


class InvalidAnswer(Exception):
    """The model answered, but nothing usable, even after being asked to
    correct itself. Nothing of it is stored."""


class Analyzer(Protocol):
    name: str

    # Read-only, so a backend may declare it as Breaker or as None.
    @property
    def breaker(self) -> Breaker | None:
        """The model endpoint's circuit breaker; None for a backend without one."""
        ...

    async def analyse(self, text: str) -> Analysis: ...

    async def read_image(self, content: bytes, content_type: str) -> str | None:
        """Text of an image by a vision model; None when the backend has none."""
        ...

    async def close(self) -> None: ...
