"""One analyzer interface, several backends. Each stage depends only on the
(masked) complaint text, so the pipeline runs them concurrently."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


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
    notes: dict[str, str] = field(default_factory=dict)


class EndpointUnavailable(Exception):
    """The model endpoint did not answer usefully (timeout, refused, 5xx, 429)
    even after retries, or its circuit is open."""


class InvalidAnswer(Exception):
    """The model answered, but not with a value the taxonomy allows, even after
    being asked to correct itself. Nothing of it is stored."""


class Analyzer(Protocol):
    name: str

    async def category(self, text: str) -> str: ...

    async def sector(self, text: str) -> str: ...

    async def acts(self, text: str) -> list[str]: ...

    async def summary(self, text: str) -> str: ...

    async def entities(self, text: str) -> list[Entity]: ...

    async def embedding(self, text: str) -> np.ndarray: ...

    async def read_image(self, content: bytes, content_type: str) -> str | None:
        """Text of an image by a vision model; None when the backend has none."""
        ...

    async def close(self) -> None: ...
