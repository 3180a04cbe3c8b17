"""Accepts complaints from other systems: validation, idempotency, storage,
hand-off to the pipeline. Never analyses, never answers dashboard queries."""
