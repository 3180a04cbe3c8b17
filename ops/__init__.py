"""The tools around the services: the `complaints` CLI, `make run`'s
supervisor, the demo data, the embedded PostgreSQL, database roles, API keys
and migrations, the labelled corpus with training and evaluation, and the
fake model server tests and benchmarks share. It imports the services; the
services and the runtime library (complaints/) never import it."""
