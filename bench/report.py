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
import matplotlib.pyplot as plt

HERE = Path(__file__).parent


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _one_host_plot(analytics: dict[str, Any], path: Path) -> None:
    """p99 and requests per second by phase, tiers on and off, each measure."""
    measures = [m for m in analytics["one_host"]["tiers_on"]["idle"] if m.startswith(("closed_", "open_"))]
    phases = ["idle", "loaded", "after"]
    fig, axes = plt.subplots(1, len(measures), figsize=(4 * len(measures), 4))
    for ax, measure in zip(axes, measures):
        for tiers, style in (("tiers_on", "o-"), ("tiers_off", "s--")):
            rows = analytics["one_host"][tiers]
            ax.plot(
                phases, [rows[p][measure]["p99_ms"] for p in phases], style, label=f"p99, {tiers.replace('_', ' ')}"
            )
            ax.plot(
                phases,
                [rows[p][measure]["p50_ms"] for p in phases],
                style,
                alpha=0.4,
                label=f"p50, {tiers.replace('_', ' ')}",
            )
        ax.set(
            title=measure.replace("_", " ") + (" callers" if measure.startswith("closed") else " req/s"), ylabel="ms"
        )
        ax.set_ylim(bottom=0)
    axes[0].legend(fontsize=7)
    fig.suptitle("GetDashboard on one host: idle, loaded (2 replicas + intake stream), after")
    _save(fig, path)


def _pipeline_plot(pipeline: dict[str, Any], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    for latency, style in (("300ms", "o-"), ("0ms", "s--")):
        runs = [(r, pipeline.get(f"latency_{latency}_{r}_{'replica' if r == 1 else 'replicas'}")) for r in (1, 2)]
        points = [(r, run["complaints_per_minute"]) for r, run in runs if run]
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
    labels = ["stream, no documents", "stream, 200 KB PDF each", f"unary, {intake['durable']['unary_clients']} clients"]
    keys = ["stream_no_documents_per_second", "stream_pdf_per_second", "unary_per_second"]
    at = range(len(labels))
    ax.bar(
        [x - 0.2 for x in at], [intake["durable"][k] for k in keys], 0.4, color="#1f4e79", label="fsync on (make run)"
    )
    ax.bar([x + 0.2 for x in at], [intake["no_fsync"][k] for k in keys], 0.4, color="#9bbb59", label="fsync off")
    ax.set_xticks(list(at), labels)
    ax.axhline(1000, color="#b22222", ls=":", label="target: 1,000/s over the stream")
    ax.set(ylabel="complaints per second", title="Intake throughput")
    ax.legend(fontsize=8)
    _save(fig, path)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _figures(f: dict[str, Any]) -> str:
    """One measure's cell: p50 ms / p99 ms / requests per second."""
    return f"{f['p50_ms']} / {f['p99_ms']} / {f['requests_per_second']}"


def _analytics_section(analytics: dict[str, Any], out: Path) -> list[str]:
    parts = ["## Dashboard on one host (analytics)", "", analytics.get("setup", ""), ""]
    _one_host_plot(analytics, out / "dashboard_one_host.png")
    parts += ["![dashboard on one host](dashboard_one_host.png)", ""]
    ratios = analytics["ratios"]
    rows = []
    for tiers in ("tiers_on", "tiers_off"):
        phases = analytics["one_host"][tiers]
        for measure in ratios[tiers]:
            cells = [tiers.replace("_", " "), measure.replace("_", " ")]
            for phase in ("idle", "loaded", "after"):
                cells.append(_figures(phases[phase][measure]))
            r = ratios[tiers][measure]
            cells += [r["p99_loaded_over_idle"], r["rps_loaded_over_idle"], r["p99_after_over_idle"]]
            rows.append(cells)
    parts += [
        _table(
            [
                "tiers",
                "measure",
                "idle p50 / p99 ms / req/s",
                "loaded",
                "after",
                "p99 loaded/idle",
                "req/s loaded/idle",
                "p99 after/idle",
            ],
            rows,
        ),
        "",
    ]
    open_measure = next(m for m in ratios["tiers_on"] if m.startswith("open_"))
    per_request = [
        [
            tiers.replace("_", " "),
            *(
                f"{f.get('server_cpu_us_per_request', '–')} / {f.get('server_run_queue_wait_us_per_request', '–')}"
                for f in (analytics["one_host"][tiers][p][open_measure] for p in ("idle", "loaded", "after"))
            ),
        ]
        for tiers in ("tiers_on", "tiers_off")
    ]
    parts += [
        "Where analytics' time goes per open-loop request (all its threads, /proc schedstat): "
        "µs on a CPU / µs runnable but waiting for one:",
        "",
        _table(["tiers", "idle", "loaded", "after"], per_request),
        "",
    ]
    per_minute = [
        [
            tiers.replace("_", " "),
            *(analytics["one_host"][tiers][p]["complaints_per_minute"] for p in ("idle", "loaded", "after")),
        ]
        for tiers in ("tiers_on", "tiers_off")
    ]
    parts += [
        "Complaints processed per minute during each phase:",
        "",
        _table(["tiers", "idle", "loaded", "after"], per_minute),
        "",
    ]
    split = analytics["cores_split"]
    rows = [
        [
            m.replace("_", " "),
            _figures(split["idle"][m]),
            _figures(split["loaded"][m]),
            r["p99_loaded_over_idle"],
            r["rps_loaded_over_idle"],
        ]
        for m, r in ratios["cores_split"].items()
    ]
    parts += [
        "Beside it, the cores split as separate pods would split them (tiers off):",
        "",
        _table(["measure", "idle p50 / p99 ms / req/s", "loaded", "p99 loaded/idle", "req/s loaded/idle"], rows),
        "",
        f"Complaints per minute, cores split, loaded: {split['loaded']['complaints_per_minute']}.",
        "",
    ]
    ceiling = analytics["ceiling"]
    rows = [
        [
            n,
            ceiling["analytics"][n]["requests_per_second"],
            ceiling["ceiling"][n]["requests_per_second"],
            v,
            ceiling["analytics"][n]["p99_ms"],
            ceiling["ceiling"][n]["p99_ms"],
        ]
        for n, v in ratios["analytics_over_ceiling"].items()
    ]
    parts += [
        f"Against the ceiling (a {ceiling['dashboard_bytes']}-byte Dashboard of "
        f"{ceiling['complaints_in_database']} complaints, idle):",
        "",
        _table(
            [
                "callers",
                "analytics req/s",
                "ceiling req/s",
                "analytics/ceiling (target ≥ 0.9)",
                "analytics p99 ms",
                "ceiling p99 ms",
            ],
            rows,
        ),
        "",
        "Targets met (tiers on): " + ", ".join(f"{k}: **{v}**" for k, v in ratios["targets"].items()),
        "",
    ]
    return parts


def write(results: dict[str, Any], out: Path = HERE) -> Path:
    parts = [
        "# Benchmark report",
        "",
        "Produced by `make bench` in one run on this 2-core machine; every figure sits next to its "
        "reference from the same run. Absolute times drift on a shared machine: read the ratios.",
        "",
    ]
    meta = results.get("_run", {})
    if meta:
        parts += [
            f"Run: {meta.get('started')} ({meta.get('seconds')} s in all, load average at start "
            f"{meta.get('load_average')}).",
            "",
        ]

    analytics = results.get("analytics")
    if analytics and "one_host" in analytics:
        parts += _analytics_section(analytics, out)

    pipeline = results.get("pipeline")
    if pipeline:
        _pipeline_plot(pipeline, out / "pipeline_throughput.png")
        parts += [
            "## Pipeline",
            "",
            pipeline.get("setup", ""),
            "",
            "![pipeline throughput](pipeline_throughput.png)",
            "",
        ]
        rows = []
        for name, fig in pipeline.items():
            if isinstance(fig, dict) and "complaints_per_minute" in fig:
                rows.append(
                    [
                        name,
                        fig["complaints_per_minute"],
                        fig.get("original_design_per_minute", "–"),
                        fig.get("times_original", "–"),
                        fig["latency_p50_ms"],
                        fig["latency_p99_ms"],
                        fig.get("original_design_latency_ms", "–"),
                        fig["failed"],
                        fig.get("pipeline_cpu_ms_per_complaint", "–"),
                        fig.get("cpu_ms_per_complaint", "–"),
                        fig.get("cpu_ceiling_per_minute", "–"),
                        fig.get("of_cpu_ceiling", "–"),
                    ]
                )
        parts += [
            _table(
                [
                    "run",
                    "complaints/min",
                    "original design/min",
                    "× original (target ≥ 10)",
                    "p50 ms",
                    "p99 ms",
                    "original latency ms",
                    "failed",
                    "replica CPU ms/complaint",
                    "all CPU ms/complaint",
                    "CPU ceiling/min",
                    "of CPU ceiling",
                ],
                rows,
            ),
            "",
            "CPU ms per complaint: CPU time of the replicas, and of every process that served the run "
            "(replicas, PostgreSQL, the fake model), over complaints processed; CPU ceiling: "
            f"{pipeline.get('cores', 2)} cores × 60 s / CPU seconds per complaint. Target: the local-embeddings "
            "run at least 0.8 of its ceiling.",
            "",
        ]
        if "targets" in pipeline:
            parts += ["Targets met: " + ", ".join(f"{k}: **{v}**" for k, v in pipeline["targets"].items()), ""]
        quality = pipeline.get("analysis_quality")
        if quality:
            parts += [
                "### Analysis quality (`make eval`: the labelled corpus's dev and test splits; nothing was "
                "fitted or chosen on test)",
                "",
                "```",
                quality,
                "```",
                "",
            ]

    intake = results.get("intake")
    if intake:
        _intake_plot(intake, out / "intake_throughput.png")
        durable, fast = intake["durable"], intake["no_fsync"]
        parts += [
            "## Intake",
            "",
            "PostgreSQL durable (fsync on, as make run runs it) is the headline; without fsync beside it.",
            "",
            "![intake throughput](intake_throughput.png)",
            "",
            _table(
                ["measure", "fsync on (headline)", "reference", "fsync off"],
                [
                    [
                        "bulk stream, no documents",
                        f"{durable['stream_no_documents_per_second']}/s",
                        f"{durable['stream_no_documents_vs_target']} × the 1,000/s target",
                        f"{fast['stream_no_documents_per_second']}/s",
                    ],
                    [
                        "bulk stream, 200 KB PDF each",
                        f"{durable['stream_pdf_per_second']}/s ({durable['stream_pdf_mib_per_second']} MiB/s)",
                        "",
                        f"{fast['stream_pdf_per_second']}/s ({fast['stream_pdf_mib_per_second']} MiB/s)",
                    ],
                    [
                        f"unary, {durable['unary_clients']} clients",
                        f"{durable['unary_per_second']}/s, "
                        f"p50 {durable['unary_p50_ms']} ms, p99 {durable['unary_p99_ms']} ms",
                        f"{durable['unary_vs_stream']} × the stream",
                        f"{fast['unary_per_second']}/s, p50 {fast['unary_p50_ms']} ms, p99 {fast['unary_p99_ms']} ms",
                    ],
                ],
            ),
            "",
        ]
    path = out / "report.md"
    path.write_text("\n".join(parts))
    return path


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "results.json"
    print(write(json.loads(source.read_text())))
