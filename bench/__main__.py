"""python -m bench [area ...]: runs the benchmarks, prints what it is doing,
writes bench/results.json and bench/report.md."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import sys
import time
from pathlib import Path

from bench import report

# Areas in the order they run; each module has run() -> dict of figures.
AREAS = ["intake", "pipeline", "analytics"]


def main(argv: list[str]) -> None:
    wanted = argv or AREAS
    out = Path(__file__).parent
    begun = time.monotonic()
    run: dict[str, object] = {
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load_average": round(os.getloadavg()[0], 2),
    }
    results: dict[str, object] = {"_run": run}
    for area in wanted:
        try:
            module = importlib.import_module(f"bench.{area}")
        except ModuleNotFoundError:
            print(f"[bench] {area}: no benchmark yet, skipped", flush=True)
            continue
        print(f"[bench] {area}: running", flush=True)
        started = time.monotonic()
        results[area] = module.run()
        print(f"[bench] {area}: done in {time.monotonic() - started:.0f}s", flush=True)
    run["seconds"] = round(time.monotonic() - begun)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"[bench] report: {report.write(results, out)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
