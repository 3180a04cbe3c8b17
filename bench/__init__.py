"""Benchmarks behind `make bench`. Each area is a module here with
`run(ctx) -> dict`; __main__ runs them all in one go and writes bench/report.md."""
