"""Claims queued complaints and analyses them: document extraction, analyzer
stages, embedding, grouping into cases, one fenced commit with analytics."""
