"""bench/report.md and its plots, from one run's results (bench/results.json).

Every figure is given next to its reference measured in the same run: the
dashboard against itself idle and against a bare server (the ceiling), the
pipeline against the original design's arithmetic, intake against its target.

    python -m bench.report            # rewrites the report from results.json
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no screen
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).parent
PHASE_COLOURS = {"idle": "#e8f4e8", "loaded": "#fde8e8", "recovery": "#e8eefd"}


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _timeline_plot(timeline: dict[str, Any], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(9, 4))
    for name, (a, b) in timeline["phases"].items():
        ax.axvspan(a, b, color=PHASE_COLOURS.get(name, "#eeeeee"), label=name)
    rows = timeline["buckets"]
    ax.plot([r[0] for r in rows], [r[3] for r in rows], color="#b22222", lw=1, label="p99")
    ax.plot([r[0] for r in rows], [r[2] for r in rows], color="#1f4e79", lw=1, label="p50")
    ax.set_xlabel("seconds")
    ax.set_ylabel("GetDashboard latency, ms (250 ms buckets)")
    ax.set_title("Dashboard latency over time: idle, loaded (bulk intake + saturated pipeline), recovery")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper right", fontsize=8)
    _save(fig, path)


def _dashboard_plot(analytics: dict[str, Any], path: Path) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    series = [("ceiling", "bare server (ceiling)"), ("idle", "analytics idle"),
              ("idle_cores_split", "idle, cores split"), ("under_load_cores_split", "loaded, cores split"),
              ("under_load_shared_cores", "loaded, cores shared")]
    levels = ["1", "16", "64"]
    for key, label in series:
        if key in analytics:
            left.plot(levels, [analytics[key][l]["p99_ms"] for l in levels], marker="o", label=label)
            right.plot(levels, [analytics[key][l]["requests_per_second"] for l in levels], marker="o", label=label)
    left.set(xlabel="concurrent callers", ylabel="p99 ms", title="GetDashboard p99")
    right.set(xlabel="concurrent callers", ylabel="requests/s", title="GetDashboard throughput")
    left.legend(fontsize=7)
    _save(fig, path)


def _pipeline_plot(pipeline: dict[str, Any], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    for latency, style in (("300ms", "o-"), ("0ms", "s--")):
        points = [(r, pipeline.get(f"latency_{latency}_{r}_{'replica' if r == 1 else 'replicas'}")) for r in (1, 2)]
        points = [(r, p["complaints_per_minute"]) for r, p in points if p]
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], style, label=f"model answers in {latency}")
    original = pipeline.get("latency_300ms_1_replica", {}).get("original_design_per_minute")
    if original:
        ax.axhline(original, color="grey", ls=":", label=f"original design at 300 ms ({original}/min)")
    ax.set(xlabel="pipeline replicas", ylabel="complaints per minute", title="Pipeline throughput by replicas")
    ax.set_xticks([1, 2])
    ax.legend(fontsize=8)
    _save(fig, path)


def _intake_plot(intake: dict[str, Any], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    labels = ["stream, no documents", "stream, 200 KB PDF each", f"unary, {intake['unary_clients']} clients"]
    values = [intake["stream_no_documents_per_second"], intake["stream_pdf_per_second"], intake["unary_per_second"]]
    ax.bar(labels, values, color=["#1f4e79", "#4f81bd", "#9bbb59"])
    ax.axhline(1000, color="#b22222", ls=":", label="target: 1,000/s over the stream")
    ax.set(ylabel="complaints per second", title="Intake throughput")
    ax.legend(fontsize=8)
    _save(fig, path)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write(results: dict[str, Any], out: Path = HERE) -> Path:
    parts = ["# Benchmark report", "",
             "Produced by `make bench` in one run on this 2-core machine; every figure sits next to its "
             "reference from the same run. Absolute times drift on a shared machine: read the ratios.", ""]
    meta = results.get("_run", {})
    if meta:
        parts += [f"Run: {meta.get('started')} ({meta.get('seconds')} s in all, load average at start "
                  f"{meta.get('load_average')}).", ""]

    analytics = results.get("analytics")
    if analytics:
        parts += ["## Dashboard (analytics)", "", analytics.get("setup", ""), ""]
        if "timeline" in analytics:
            _timeline_plot(analytics["timeline"], out / "dashboard_timeline.png")
            t = analytics["timeline"]
            parts += ["![dashboard latency over time](dashboard_timeline.png)", "",
                      "Median of the 250 ms-bucket p99 per phase: " + ", ".join(
                          f"{k} {v} ms" for k, v in t["median_bucket_p99_ms"].items())
                      + f"; loaded / idle = **{t.get('loaded_over_idle')}**.", ""]
        _dashboard_plot(analytics, out / "dashboard_latency.png")
        parts += ["![dashboard latency and throughput](dashboard_latency.png)", ""]
        ratios = analytics.get("ratios", {})
        rows = []
        for level in ("1", "16", "64"):
            r = ratios.get(level, {})
            rows.append([level, analytics["idle_cores_split"][level]["p99_ms"],
                         analytics["under_load_cores_split"][level]["p99_ms"], r.get("p99_under_load_over_idle"),
                         r.get("p99_under_load_shared_cores_over_idle"), analytics["idle"][level]["requests_per_second"],
                         analytics["ceiling"][level]["requests_per_second"], r.get("idle_rps_over_ceiling")])
        parts += [_table(["callers", "idle p99 ms (split)", "loaded p99 ms (split)", "loaded/idle (target ≤ 1.5)",
                          "loaded/idle, cores shared", "analytics req/s", "ceiling req/s",
                          "analytics/ceiling (target ≥ 0.5)"], rows), ""]
        if "targets" in ratios:
            parts += ["Targets met: " + ", ".join(f"{k}: **{v}**" for k, v in ratios["targets"].items()), ""]

    pipeline = results.get("pipeline")
    if pipeline:
        _pipeline_plot(pipeline, out / "pipeline_throughput.png")
        parts += ["## Pipeline", "", pipeline.get("setup", ""), "",
                  "![pipeline throughput](pipeline_throughput.png)", ""]
        rows = []
        for name, fig in pipeline.items():
            if isinstance(fig, dict) and "complaints_per_minute" in fig:
                rows.append([name, fig["complaints_per_minute"], fig.get("original_design_per_minute", "–"),
                             fig.get("times_original", "–"), fig["latency_p50_ms"], fig["latency_p99_ms"],
                             fig.get("original_design_latency_ms", "–"), fig["failed"]])
        parts += [_table(["run", "complaints/min", "original design/min", "× original (target ≥ 10)",
                          "p50 ms", "p99 ms", "original latency ms", "failed"], rows), ""]
        local = pipeline.get("local_analyzer")
        if local:
            parts += ["Local analyzer on the labelled set: " + json.dumps(local), ""]

    intake = results.get("intake")
    if intake:
        _intake_plot(intake, out / "intake_throughput.png")
        parts += ["## Intake", "", "![intake throughput](intake_throughput.png)", "",
                  _table(["measure", "figure", "reference"], [
                      ["bulk stream, no documents", f"{intake['stream_no_documents_per_second']}/s",
                       f"{intake['stream_no_documents_vs_target']} × the 1,000/s target"],
                      ["bulk stream, 200 KB PDF each", f"{intake['stream_pdf_per_second']}/s "
                       f"({intake['stream_pdf_mib_per_second']} MiB/s)", ""],
                      [f"unary, {intake['unary_clients']} clients", f"{intake['unary_per_second']}/s, "
                       f"p50 {intake['unary_p50_ms']} ms, p99 {intake['unary_p99_ms']} ms",
                       f"{intake['unary_vs_stream']} × the stream"],
                  ]), ""]
    path = out / "report.md"
    path.write_text("\n".join(parts))
    return path


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "results.json"
    print(write(json.loads(source.read_text())))
