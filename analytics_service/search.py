"""SearchSimilar: the query's vector (a text embedded here, a complaint's the
one stored with its analysis), then the nearest analysed complaints."""

from __future__ import annotations

import asyncio
from typing import Any

from analytics_service.requests import SimilarQuery
from analytics_service.store import AnalyticsStore
from complaints import embedding
from complaints.errors import FailedPrecondition, NotFound


async def similar(store: AnalyticsStore, query: SimilarQuery) -> list[dict[str, Any]]:
    if query.complaint_id is None:
        # The model is CPU work (tens of ms): off the event loop.
        vector = await asyncio.to_thread(embedding.query, query.text)
    else:
        exists, stored = await store.embedding(query.complaint_id)
        if not exists:
            raise NotFound(f"no complaint with ID {query.complaint_id}")
        if stored is None:
            raise FailedPrecondition(f"complaint {query.complaint_id} is not analysed yet; search by text instead")
        vector = stored
    return await store.similar(
        vector, query.limit, category=query.category, sector=query.sector, exclude=query.complaint_id
    )
